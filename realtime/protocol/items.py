"""Conversation items: checking what a client adds, and the conversation as the brain reads it.

:func:`check_item` validates a ``conversation.item.create`` item (messages with text, audio
or images, function calls and their outputs), :func:`public_item` is an item as events carry
it, and :func:`messages_for_brain` turns the conversation into OpenAI chat messages.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

from realtime.protocol.events import decode_audio, new_id, refuse

_CONTENT_TYPES = {
    "user": ("input_text", "input_audio", "input_image", "text"),
    "system": ("input_text", "text"),
    "assistant": ("output_text", "text", "output_audio", "audio"),
}


def check_item(item: Any, event: dict, known_call_ids: set[str]) -> dict[str, Any]:
    """Validate a ``conversation.item.create`` item; returns a normalized copy.

    Raises:
        ProtocolError: wrong type/role/content, or an output for an unknown call.

    """
    if not isinstance(item, dict):
        raise refuse("missing_required_parameter", "'item' must be an object", "item", event)
    kind = item.get("type")
    out: dict[str, Any] = {
        "id": item.get("id") if isinstance(item.get("id"), str) else new_id("item"),
        "object": "realtime.item",
        "type": kind,
        "status": "completed",
    }
    if kind == "message":
        role = item.get("role")
        if role not in _CONTENT_TYPES:
            raise refuse(
                "invalid_value", "role must be user, assistant or system", "item.role", event
            )
        content = item.get("content")
        if not isinstance(content, list) or not content:
            raise refuse(
                "invalid_value", "a message needs a non-empty 'content' list", "item.content", event
            )
        parts = []
        for i, part in enumerate(content):
            p = f"item.content[{i}]"
            if not isinstance(part, dict) or part.get("type") not in _CONTENT_TYPES[role]:
                raise refuse(
                    "invalid_value",
                    f"a {role} message takes content of type {', '.join(_CONTENT_TYPES[role])}",
                    p,
                    event,
                )
            ptype = part["type"]
            transcript = part.get("transcript")
            if transcript is not None and not isinstance(transcript, str):
                raise refuse(
                    "invalid_value", "'transcript' must be a string", f"{p}.transcript", event
                )
            if ptype == "input_audio":
                audio = part.get("audio")
                if audio is None:
                    parts.append({"type": "input_audio", "transcript": transcript})
                    continue
                decode_audio({"audio": audio, "event_id": event.get("event_id")})
                parts.append({"type": "input_audio", "audio": audio, "transcript": None})
            elif ptype == "input_image":
                parts.append(check_image_part(part, p, event))
            elif ptype in ("output_audio", "audio"):
                parts.append({"type": "output_audio", "transcript": transcript or ""})
            else:
                text = part.get("text")
                if not isinstance(text, str):
                    raise refuse("invalid_value", "a text part needs 'text'", f"{p}.text", event)
                # the GA item types: a bare "text" part is input text, or output for the model
                text_type = "output_text" if role == "assistant" else "input_text"
                parts.append({"type": text_type, "text": text})
        out.update(role=role, content=parts)
    elif kind == "function_call":
        for key in ("call_id", "name"):
            if not isinstance(item.get(key), str) or not item.get(key):
                raise refuse(
                    "missing_required_parameter",
                    f"function_call needs '{key}'",
                    f"item.{key}",
                    event,
                )
        arguments = item.get("arguments", "{}")
        if not isinstance(arguments, str):
            raise refuse(
                "invalid_value", "'arguments' must be a JSON string", "item.arguments", event
            )
        out.update(call_id=item["call_id"], name=item["name"], arguments=arguments)
    elif kind == "function_call_output":
        call_id = item.get("call_id")
        if not isinstance(call_id, str) or not call_id:
            raise refuse(
                "missing_required_parameter",
                "function_call_output needs 'call_id'",
                "item.call_id",
                event,
            )
        if call_id not in known_call_ids:
            raise refuse(
                "invalid_value",
                f"no function_call with call_id '{call_id}' in the conversation",
                "item.call_id",
                event,
            )
        output = item.get("output")
        if not isinstance(output, str):
            raise refuse("invalid_value", "'output' must be a string", "item.output", event)
        out.update(call_id=call_id, output=output)
    else:
        raise refuse(
            "invalid_value",
            "item type must be message, function_call or function_call_output",
            "item.type",
            event,
        )
    return out


IMAGE_DETAILS = ("auto", "low", "high")
_DATA_URL = re.compile(r"data:(image/[\w.+-]+);base64,", re.IGNORECASE)


def check_image_part(part: dict, param: str, event: dict) -> dict[str, Any]:
    """Validate an ``input_image`` part: a base64 ``data:image/…`` URL and a known detail.

    Only the URL's form is checked here; whether the bytes are an image the server can read
    is decided when the item is added (:mod:`realtime.images`).

    Raises:
        ProtocolError: no data URL, not base64, or an unknown ``detail``.

    """
    url = part.get("image_url")
    match = _DATA_URL.match(url) if isinstance(url, str) else None
    if match is None:
        raise refuse(
            "invalid_value",
            "an input_image part needs 'image_url' as a base64 data:image/... URL",
            f"{param}.image_url",
            event,
        )
    try:
        base64.b64decode(url[match.end() :], validate=True)
    except (ValueError, binascii.Error):
        raise refuse(
            "invalid_value", "the image data URL is not valid base64", f"{param}.image_url", event
        ) from None
    detail = part.get("detail", "auto")
    if detail not in IMAGE_DETAILS:
        raise refuse(
            "invalid_value",
            f"'detail' must be one of {', '.join(IMAGE_DETAILS)}",
            f"{param}.detail",
            event,
        )
    return {"type": "input_image", "image_url": url, "detail": detail}


def image_bytes(part: dict[str, Any]) -> bytes:
    """The bytes of a checked ``input_image`` part."""
    url = part["image_url"]
    return base64.b64decode(url[url.index(",") + 1 :])


def public_item(item: dict[str, Any]) -> dict[str, Any]:
    """An item as sent to the client (no base64 audio or image echoed back, no private keys)."""
    out = {k: v for k, v in item.items() if not k.startswith("_")}
    if "content" in out:
        out["content"] = [
            {k: v for k, v in p.items() if k not in ("audio", "image_url")} for p in out["content"]
        ]
    return out


def item_text(item: dict[str, Any]) -> str:
    """The text of a message item (typed text or audio transcript)."""
    texts = []
    for part in item.get("content") or []:
        text = part.get("text") if "text" in part else part.get("transcript")
        if text:
            texts.append(text)
    return " ".join(texts).strip()


_SAVED_INTRO = "This is a previously saved conversation."


def unpack_saved_conversation(text: str) -> list[dict] | None:
    """Messages of a history packed into one user message by Pipecat's realtime adapter.

    When a Pipecat session (re)connects with prior history, its adapter sends the whole
    history as a JSON list inside a single user message. Returns that list, or None when
    ``text`` is not such a message.
    """
    if _SAVED_INTRO not in text:
        return None
    start, end = text.find("["), text.rfind("]")
    if start < 0 or end <= start:
        return None
    try:
        messages = json.loads(text[start : end + 1])
    except json.JSONDecodeError:
        return None
    if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
        return None
    return messages


def messages_for_brain(instructions: str, items: list[dict[str, Any]]) -> list[dict]:
    """The conversation as OpenAI chat messages (system, user, assistant, tool)."""
    messages: list[dict] = []
    if instructions:
        messages.append({"role": "system", "content": instructions})
    for item in items:
        kind = item["type"]
        # What the server did for this item out of the client's sight (an image read for
        # the reply, see realtime.images) comes before it, so the brain replays it.
        messages.extend(item.get("_prelude") or [])
        if kind == "message":
            text = item_text(item)
            if item["role"] == "user" and (saved := unpack_saved_conversation(text)) is not None:
                messages.extend(m for m in saved if m.get("role") != "system")
                continue
            role = item["role"]
            if role == "system":
                role = "user" if messages and messages[-1]["role"] != "system" else "system"
            images = [p for p in item.get("content") or [] if p.get("type") == "input_image"]
            if role == "user" and images:
                content: Any = [{"type": "text", "text": text}]
                content += [
                    {"type": "image_url", "image_url": {"url": f"item:{item['id']}:{i}"}}
                    for i in range(len(images))
                ]
                messages.append({"role": role, "content": content})
                continue
            messages.append({"role": role, "content": text})
        elif kind == "function_call":
            messages.append(
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": item["call_id"],
                            "type": "function",
                            "function": {"name": item["name"], "arguments": item["arguments"]},
                        }
                    ],
                }
            )
        elif kind == "function_call_output":
            messages.append(
                {"role": "tool", "tool_call_id": item["call_id"], "content": item["output"]}
            )
    return messages
