"""The OpenAI Realtime (GA) protocol subset Echo's offline server speaks: pure functions.

Client events are parsed and validated here; server events are built here. Nothing in this
module touches a socket or a model, so every rule is testable on its own.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

SAMPLE_RATE = 24000  # PCM16 mono, as the Realtime API expects
BYTES_PER_MS = SAMPLE_RATE * 2 // 1000

MODEL_FAMILIES = (
    "gpt-realtime",
    "gpt-realtime-mini",
    "gpt-realtime-2",
    "gpt-realtime-2.1",
    "gpt-4o-realtime-preview",
    "gpt-4o-mini-realtime-preview",
)
VOICES = (
    "alloy",
    "ash",
    "ballad",
    "cedar",
    "coral",
    "echo",
    "marin",
    "sage",
    "shimmer",
    "verse",
)
TRANSCRIPTION_MODELS = (
    "gpt-realtime-whisper",
    "whisper-1",
    "gpt-4o-transcribe",
    "gpt-4o-mini-transcribe",
)
EAGERNESS = ("low", "medium", "high", "auto")
CLIENT_EVENTS = (
    "session.update",
    "input_audio_buffer.append",
    "input_audio_buffer.commit",
    "input_audio_buffer.clear",
    "conversation.item.create",
    "conversation.item.truncate",
    "conversation.item.delete",
    "conversation.item.retrieve",
    "response.create",
    "response.cancel",
)
MAX_EVENT_BYTES = 15 * 1024 * 1024  # the API's own per-event limit

_DATED = re.compile(r"^(?P<base>.+?)(-\d{4}-\d{2}-\d{2})?$")


class ProtocolError(Exception):
    """A client event the server refuses; becomes an ``error`` server event.

    Attributes:
        code: Machine-readable code (``invalid_json``, ``unknown_event_type``, ...).
        message: Human-readable reason.
        param: The offending field, when there is one.
        event_id: The client event's id, when it had one.

    """

    def __init__(
        self,
        code: str,
        message: str,
        *,
        param: str | None = None,
        event_id: str | None = None,
        error_type: str = "invalid_request_error",
    ):
        super().__init__(message)
        self.code = code
        self.message = message
        self.param = param
        self.event_id = event_id
        self.error_type = error_type


def new_id(prefix: str) -> str:
    """A fresh id in the API's style (``item_…``, ``resp_…``, ``event_…``)."""
    return f"{prefix}_{uuid.uuid4().hex[:20]}"


def known_model(name: str, extra: tuple[str, ...] = ()) -> bool:
    """Whether ``name`` is a Realtime model (a known family, optionally date-suffixed)."""
    if name in extra:
        return True
    match = _DATED.match(name)
    return bool(match) and match.group("base") in MODEL_FAMILIES


def server_event(type_: str, **fields: Any) -> dict[str, Any]:
    """A server event dict with a fresh ``event_id``."""
    return {"type": type_, "event_id": new_id("event"), **fields}


def error_event(err: ProtocolError) -> dict[str, Any]:
    """The ``error`` server event for a refused client event."""
    return server_event(
        "error",
        error={
            "type": err.error_type,
            "code": err.code,
            "message": err.message,
            "param": err.param,
            "event_id": err.event_id,
        },
    )


# --- client events ----------------------------------------------------------------------------


def parse_client_event(raw: str | bytes) -> dict[str, Any]:
    """Decode one client message into an event dict with a known ``type``.

    Raises:
        ProtocolError: not JSON, not an object, no/unknown ``type``, or too large.

    """
    if isinstance(raw, bytes):
        if len(raw) > MAX_EVENT_BYTES:
            raise ProtocolError("event_too_large", "event exceeds the 15 MB limit")
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise ProtocolError("invalid_json", "binary frames are not events: send JSON") from e
    if len(raw) > MAX_EVENT_BYTES:
        raise ProtocolError("event_too_large", "event exceeds the 15 MB limit")
    try:
        event = json.loads(raw)
    except json.JSONDecodeError as e:
        raise ProtocolError("invalid_json", f"event is not valid JSON: {e.msg}") from e
    if not isinstance(event, dict):
        raise ProtocolError("invalid_json", "event must be a JSON object")
    event_id = event.get("event_id") if isinstance(event.get("event_id"), str) else None
    type_ = event.get("type")
    if not isinstance(type_, str) or not type_:
        raise ProtocolError(
            "missing_required_parameter",
            "event has no 'type'",
            param="type",
            event_id=event_id,
        )
    if type_ not in CLIENT_EVENTS:
        raise ProtocolError(
            "unknown_event_type",
            f"unknown client event type '{type_}'",
            param="type",
            event_id=event_id,
        )
    return event


def _fail(code: str, message: str, param: str, event: dict) -> ProtocolError:
    return ProtocolError(code, message, param=param, event_id=event.get("event_id"))


def decode_audio(event: dict[str, Any]) -> bytes:
    """The PCM16 bytes of an ``input_audio_buffer.append`` event.

    Raises:
        ProtocolError: missing, not base64, or not whole 16-bit samples.

    """
    audio = event.get("audio")
    if not isinstance(audio, str):
        raise _fail("missing_required_parameter", "'audio' must be a base64 string", "audio", event)
    try:
        pcm = base64.b64decode(audio, validate=True)
    except (binascii.Error, ValueError) as e:
        raise _fail("invalid_value", "'audio' is not valid base64", "audio", event) from e
    if len(pcm) % 2:
        raise _fail(
            "invalid_value", "'audio' must hold whole PCM16 samples (even length)", "audio", event
        )
    return pcm


# --- session configuration ------------------------------------------------------------------


def default_session(model: str) -> dict[str, Any]:
    """The session a new connection starts with (the API's documented defaults).

    It has exactly the fields of the GA session object in ``session.created`` /
    ``session.updated`` (the SDK's ``RealtimeSessionCreateRequest``): no ``id``, ``object`` or
    ``expires_at``, which that object does not define.
    """
    pcm = {"type": "audio/pcm", "rate": SAMPLE_RATE}
    return {
        "type": "realtime",
        "model": model,
        "output_modalities": ["audio"],
        "instructions": "",
        "audio": {
            "input": {
                "format": dict(pcm),
                "transcription": None,
                "noise_reduction": None,
                "turn_detection": {
                    "type": "server_vad",
                    "threshold": 0.5,
                    "prefix_padding_ms": 300,
                    "silence_duration_ms": 500,
                    "create_response": True,
                    "interrupt_response": True,
                },
            },
            "output": {"format": dict(pcm), "voice": "alloy", "speed": 1.0},
        },
        "tools": [],
        "tool_choice": "auto",
        "max_output_tokens": "inf",
        "tracing": None,
        "include": None,
    }


_SESSION_KEYS = {
    "type",
    "object",
    "id",
    "model",
    "output_modalities",
    "instructions",
    "audio",
    "tools",
    "tool_choice",
    "max_output_tokens",
    "tracing",
    "prompt",
    "include",
    "expires_at",
    "reasoning",
    "truncation",
    "parallel_tool_calls",
}

# Beta Realtime session fields (``OpenAI-Beta: realtime=v1``) and their GA places. This server
# speaks only the GA protocol, so a beta name is refused with an error naming the GA field.
BETA_SESSION_FIELDS = {
    "modalities": "session.output_modalities",
    "voice": "session.audio.output.voice",
    "speed": "session.audio.output.speed",
    "input_audio_format": "session.audio.input.format",
    "output_audio_format": "session.audio.output.format",
    "input_audio_transcription": "session.audio.input.transcription",
    "input_audio_noise_reduction": "session.audio.input.noise_reduction",
    "turn_detection": "session.audio.input.turn_detection",
    "max_response_output_tokens": "session.max_output_tokens",
    "temperature": None,  # gone in GA
}
BETA_RESPONSE_FIELDS = {
    "modalities": "response.output_modalities",
    "voice": "response.audio.output.voice",
    "output_audio_format": "response.audio.output.format",
    "max_response_output_tokens": "response.max_output_tokens",
    "temperature": None,
}


def check_beta_fields(obj: dict, beta: dict[str, str | None], where: str, event: dict) -> None:
    """Refuse beta-protocol field names with an error naming the GA field to use.

    Raises:
        ProtocolError: ``unknown_parameter`` for the first beta name found; the message lists
            every beta name in ``obj`` with its GA replacement.

    """
    found = [key for key in obj if key in beta]
    if not found:
        return
    hints = []
    for key in found:
        ga = beta[key]
        hints.append(
            f"'{where}.{key}' → '{ga}'" if ga else f"'{where}.{key}' has no GA equivalent: drop it"
        )
    raise _fail(
        "unknown_parameter",
        "Unknown parameter '"
        + f"{where}.{found[0]}"
        + "': this server speaks the GA Realtime protocol and that is a beta field name. "
        + "Use the GA fields: "
        + "; ".join(hints)
        + ".",
        f"{where}.{found[0]}",
        event,
    )


def _check_format(fmt: Any, param: str, event: dict) -> dict:
    if not isinstance(fmt, dict) or fmt.get("type") != "audio/pcm":
        raise _fail(
            "invalid_value",
            "this server speaks only audio/pcm (PCM16 mono at 24000 Hz)",
            param,
            event,
        )
    rate = fmt.get("rate", SAMPLE_RATE)
    if rate != SAMPLE_RATE:
        raise _fail("invalid_value", f"audio/pcm rate must be {SAMPLE_RATE}", param, event)
    return {"type": "audio/pcm", "rate": SAMPLE_RATE}


def _check_number(value: Any, lo: float, hi: float, param: str, event: dict) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise _fail("invalid_value", f"'{param}' must be a number in [{lo}, {hi}]", param, event)
    return value


def _check_bool(value: Any, param: str, event: dict) -> bool:
    if not isinstance(value, bool):
        raise _fail("invalid_value", f"'{param}' must be true or false", param, event)
    return value


def check_turn_detection(td: Any, current: dict | None, event: dict) -> dict | None:
    """Validate a ``turn_detection`` object; None (or false) turns server-side turns off."""
    param = "session.audio.input.turn_detection"
    if td is None or td is False:
        return None
    if not isinstance(td, dict):
        raise _fail("invalid_value", "turn_detection must be an object or null", param, event)
    kind = td.get("type", "server_vad")
    base = dict(current) if current and current.get("type") == kind else {}
    if kind == "server_vad":
        out = {
            "type": "server_vad",
            "threshold": 0.5,
            "prefix_padding_ms": 300,
            "silence_duration_ms": 500,
            "create_response": True,
            "interrupt_response": True,
            **base,
        }
        for key, value in td.items():
            if key == "type":
                continue
            if value is None:
                continue
            p = f"{param}.{key}"
            if key == "threshold":
                out[key] = float(_check_number(value, 0.0, 1.0, p, event))
            elif key in ("prefix_padding_ms", "silence_duration_ms"):
                out[key] = int(_check_number(value, 0, 10000, p, event))
            elif key in ("create_response", "interrupt_response"):
                out[key] = _check_bool(value, p, event)
            elif key == "idle_timeout_ms":
                out[key] = int(_check_number(value, 0, 3600000, p, event))
            else:
                raise _fail("unknown_parameter", f"unknown parameter '{key}'", p, event)
        return out
    if kind == "semantic_vad":
        out = {
            "type": "semantic_vad",
            "eagerness": "auto",
            "create_response": True,
            "interrupt_response": True,
            **base,
        }
        for key, value in td.items():
            if key == "type" or value is None:
                continue
            p = f"{param}.{key}"
            if key == "eagerness":
                if value not in EAGERNESS:
                    raise _fail(
                        "invalid_value",
                        f"eagerness must be one of {', '.join(EAGERNESS)}",
                        p,
                        event,
                    )
                out[key] = value
            elif key in ("create_response", "interrupt_response"):
                out[key] = _check_bool(value, p, event)
            else:
                raise _fail("unknown_parameter", f"unknown parameter '{key}'", p, event)
        return out
    raise _fail(
        "invalid_value",
        f"turn_detection type must be 'server_vad' or 'semantic_vad', not '{kind}'",
        f"{param}.type",
        event,
    )


def check_tools(tools: Any, param: str, event: dict) -> list[dict]:
    """Validate function tool definitions."""
    if not isinstance(tools, list):
        raise _fail("invalid_value", "'tools' must be a list", param, event)
    out = []
    for i, tool in enumerate(tools):
        p = f"{param}[{i}]"
        if not isinstance(tool, dict) or tool.get("type", "function") != "function":
            raise _fail("invalid_value", "only function tools are supported", p, event)
        name = tool.get("name")
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name):
            raise _fail(
                "invalid_value", "a tool needs a 'name' of [A-Za-z0-9_-]", f"{p}.name", event
            )
        params = tool.get("parameters", {"type": "object", "properties": {}})
        if not isinstance(params, dict):
            raise _fail(
                "invalid_value", "'parameters' must be a JSON schema", f"{p}.parameters", event
            )
        out.append(
            {
                "type": "function",
                "name": name,
                "description": str(tool.get("description") or ""),
                "parameters": params,
            }
        )
    return out


def _check_modalities(value: Any, param: str, event: dict) -> list[str]:
    if value not in (["audio"], ["text"]):
        raise _fail(
            "invalid_value", "output_modalities must be ['audio'] or ['text']", param, event
        )
    return list(value)


def apply_session_update(
    session: dict[str, Any], update: Any, event: dict[str, Any], *, models: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The session after a ``session.update``; the input is left unchanged.

    Raises:
        ProtocolError: an unknown key, voice, model, format or turn-detection value. Nothing
            is applied when any part is refused.

    """
    if not isinstance(update, dict):
        raise _fail("missing_required_parameter", "'session' must be an object", "session", event)
    check_beta_fields(update, BETA_SESSION_FIELDS, "session", event)
    new = copy.deepcopy(session)
    for key, value in update.items():
        param = f"session.{key}"
        if key not in _SESSION_KEYS:
            raise _fail("unknown_parameter", f"unknown session parameter '{key}'", param, event)
        if value is None:
            continue
        if key == "type":
            if value != "realtime":
                raise _fail("invalid_value", "session type must be 'realtime'", param, event)
        elif key == "model":
            if not isinstance(value, str) or not known_model(value, models):
                raise _fail("model_not_found", f"unknown model '{value}'", param, event)
            if value != session["model"]:
                raise _fail(
                    "invalid_value",
                    "the model is chosen when connecting (?model=...) and cannot change",
                    param,
                    event,
                )
        elif key == "instructions":
            if not isinstance(value, str):
                raise _fail("invalid_value", "'instructions' must be a string", param, event)
            new["instructions"] = value
        elif key == "output_modalities":
            new["output_modalities"] = _check_modalities(value, param, event)
        elif key == "tools":
            new["tools"] = check_tools(value, param, event)
        elif key == "tool_choice":
            if value not in ("auto", "none", "required"):
                raise _fail(
                    "invalid_value", "tool_choice must be auto, none or required", param, event
                )
            new["tool_choice"] = value
        elif key == "audio":
            _apply_audio(new, value, session, event)
        elif key == "max_output_tokens":
            if value != "inf" and (
                isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 4096
            ):
                raise _fail(
                    "invalid_value", "max_output_tokens must be 1-4096 or 'inf'", param, event
                )
            new["max_output_tokens"] = value
        elif key not in ("id", "object", "expires_at"):  # echoed back by a client: ignored
            new[key] = check_passive_setting(key, value, param, event)
    return new


_TRACING_KEYS = {"group_id": str, "workflow_name": str, "metadata": object}
_INCLUDE = ("item.input_audio_transcription.logprobs",)
_EFFORTS = ("minimal", "low", "medium", "high", "xhigh")


def _check_keys(value: Any, allowed: dict[str, Any], param: str, event: dict) -> dict:
    if not isinstance(value, dict):
        raise _fail("invalid_value", f"'{param}' must be an object", param, event)
    for key, kind in allowed.items():
        if value.get(key) is not None and not isinstance(value[key], kind):
            raise _fail("invalid_value", f"'{param}.{key}' has the wrong type", param, event)
    for key in value:
        if key not in allowed:
            raise _fail("unknown_parameter", f"unknown parameter '{key}'", f"{param}.{key}", event)
    return {k: v for k, v in value.items() if v is not None}


def check_passive_setting(key: str, value: Any, param: str, event: dict) -> Any:
    """Validate a setting the local model accepts and reports but does not act on.

    ``tracing``, ``include``, ``prompt``, ``reasoning``, ``truncation`` and
    ``parallel_tool_calls`` are checked against their GA shapes, so ``session.updated``
    echoes only well-formed values.

    Raises:
        ProtocolError: a value of the wrong shape.

    """
    if key == "tracing":
        return "auto" if value == "auto" else _check_keys(value, _TRACING_KEYS, param, event)
    if key == "include":
        if not isinstance(value, list) or any(v not in _INCLUDE for v in value):
            raise _fail("invalid_value", f"'include' may only list {_INCLUDE[0]}", param, event)
        return list(value)
    if key == "reasoning":
        out = _check_keys(value, {"effort": str}, param, event)
        if out.get("effort") not in (None, *_EFFORTS):
            raise _fail(
                "invalid_value", f"effort must be one of {', '.join(_EFFORTS)}", param, event
            )
        return out
    if key == "prompt":
        out = _check_keys(value, {"id": str, "version": str, "variables": dict}, param, event)
        variables = out.get("variables") or {}
        if "id" not in out or not all(isinstance(v, str) for v in variables.values()):
            raise _fail(
                "invalid_value", "a prompt needs an 'id' and string 'variables'", param, event
            )
        return out
    if key == "truncation":
        if value in ("auto", "disabled"):
            return value
        out = _check_keys(
            value,
            {"type": str, "retention_ratio": (int, float), "token_limits": dict},
            param,
            event,
        )
        ratio = out.get("retention_ratio")
        if out.get("type") != "retention_ratio" or ratio is None or isinstance(ratio, bool):
            raise _fail(
                "invalid_value",
                "truncation must be 'auto', 'disabled' or a retention_ratio object",
                param,
                event,
            )
        out["retention_ratio"] = float(_check_number(ratio, 0.0, 1.0, param, event))
        if "token_limits" in out:
            limits = _check_keys(
                out["token_limits"], {"post_instructions": int}, f"{param}.token_limits", event
            )
            out["token_limits"] = limits
        return out
    return _check_bool(value, param, event)  # parallel_tool_calls


def check_noise_reduction(value: Any, param: str, event: dict) -> dict | None:
    """Validate ``noise_reduction``: null, or ``near_field`` / ``far_field`` (accepted, not run)."""
    if value is None:
        return None
    out = _check_keys(value, {"type": str, "strength": (int, float)}, param, event)
    if out.get("type") not in ("near_field", "far_field"):
        raise _fail(
            "invalid_value", "noise_reduction type must be near_field or far_field", param, event
        )
    if "strength" in out:
        out["strength"] = float(_check_number(out["strength"], 0.0, 1.0, param, event))
    return out


def _apply_audio(new: dict, audio: Any, old: dict, event: dict) -> None:
    if not isinstance(audio, dict):
        raise _fail("invalid_value", "'audio' must be an object", "session.audio", event)
    for side in audio:
        if side not in ("input", "output"):
            raise _fail(
                "unknown_parameter", f"unknown parameter '{side}'", f"session.audio.{side}", event
            )
    inp = audio.get("input") or {}
    out = audio.get("output") or {}
    if not isinstance(inp, dict) or not isinstance(out, dict):
        raise _fail("invalid_value", "audio.input/output must be objects", "session.audio", event)
    target_in = new["audio"]["input"]
    for key, value in inp.items():
        param = f"session.audio.input.{key}"
        if key == "format":
            if value is not None:
                target_in["format"] = _check_format(value, param, event)
        elif key == "transcription":
            if value is None:
                target_in["transcription"] = None
                continue
            if not isinstance(value, dict):
                raise _fail(
                    "invalid_value", "transcription must be an object or null", param, event
                )
            model = value.get("model") or TRANSCRIPTION_MODELS[0]
            if model not in TRANSCRIPTION_MODELS:
                raise _fail(
                    "invalid_value",
                    f"unknown transcription model '{model}': use one of "
                    f"{', '.join(TRANSCRIPTION_MODELS)}",
                    f"{param}.model",
                    event,
                )
            for field in ("language", "prompt"):
                if value.get(field) is not None and not isinstance(value[field], str):
                    raise _fail(
                        "invalid_value", f"'{field}' must be a string", f"{param}.{field}", event
                    )
            target_in["transcription"] = {
                "model": model,
                "language": value.get("language"),
                "prompt": value.get("prompt"),
            }
        elif key == "noise_reduction":
            target_in["noise_reduction"] = check_noise_reduction(value, param, event)
        elif key == "turn_detection":
            target_in["turn_detection"] = check_turn_detection(
                value, old["audio"]["input"]["turn_detection"], event
            )
        else:
            raise _fail("unknown_parameter", f"unknown parameter '{key}'", param, event)
    target_out = new["audio"]["output"]
    for key, value in out.items():
        param = f"session.audio.output.{key}"
        if value is None:
            continue
        if key == "format":
            target_out["format"] = _check_format(value, param, event)
        elif key == "voice":
            if value not in VOICES:
                raise _fail(
                    "invalid_value",
                    f"unknown voice '{value}': use one of {', '.join(VOICES)}",
                    param,
                    event,
                )
            target_out["voice"] = value
        elif key == "speed":
            target_out["speed"] = float(_check_number(value, 0.25, 1.5, param, event))
        else:
            raise _fail("unknown_parameter", f"unknown parameter '{key}'", param, event)


# --- conversation items ---------------------------------------------------------------------

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
        raise _fail("missing_required_parameter", "'item' must be an object", "item", event)
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
            raise _fail(
                "invalid_value", "role must be user, assistant or system", "item.role", event
            )
        content = item.get("content")
        if not isinstance(content, list) or not content:
            raise _fail(
                "invalid_value", "a message needs a non-empty 'content' list", "item.content", event
            )
        parts = []
        for i, part in enumerate(content):
            p = f"item.content[{i}]"
            if not isinstance(part, dict) or part.get("type") not in _CONTENT_TYPES[role]:
                raise _fail(
                    "invalid_value",
                    f"a {role} message takes content of type {', '.join(_CONTENT_TYPES[role])}",
                    p,
                    event,
                )
            ptype = part["type"]
            transcript = part.get("transcript")
            if transcript is not None and not isinstance(transcript, str):
                raise _fail(
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
                    raise _fail("invalid_value", "a text part needs 'text'", f"{p}.text", event)
                # the GA item types: a bare "text" part is input text, or output for the model
                text_type = "output_text" if role == "assistant" else "input_text"
                parts.append({"type": text_type, "text": text})
        out.update(role=role, content=parts)
    elif kind == "function_call":
        for key in ("call_id", "name"):
            if not isinstance(item.get(key), str) or not item.get(key):
                raise _fail(
                    "missing_required_parameter",
                    f"function_call needs '{key}'",
                    f"item.{key}",
                    event,
                )
        arguments = item.get("arguments", "{}")
        if not isinstance(arguments, str):
            raise _fail(
                "invalid_value", "'arguments' must be a JSON string", "item.arguments", event
            )
        out.update(call_id=item["call_id"], name=item["name"], arguments=arguments)
    elif kind == "function_call_output":
        call_id = item.get("call_id")
        if not isinstance(call_id, str) or not call_id:
            raise _fail(
                "missing_required_parameter",
                "function_call_output needs 'call_id'",
                "item.call_id",
                event,
            )
        if call_id not in known_call_ids:
            raise _fail(
                "invalid_value",
                f"no function_call with call_id '{call_id}' in the conversation",
                "item.call_id",
                event,
            )
        output = item.get("output")
        if not isinstance(output, str):
            raise _fail("invalid_value", "'output' must be a string", "item.output", event)
        out.update(call_id=call_id, output=output)
    else:
        raise _fail(
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
        raise _fail(
            "invalid_value",
            "an input_image part needs 'image_url' as a base64 data:image/... URL",
            f"{param}.image_url",
            event,
        )
    try:
        base64.b64decode(url[match.end() :], validate=True)
    except (ValueError, binascii.Error):
        raise _fail(
            "invalid_value", "the image data URL is not valid base64", f"{param}.image_url", event
        ) from None
    detail = part.get("detail", "auto")
    if detail not in IMAGE_DETAILS:
        raise _fail(
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


# --- spoken output ---------------------------------------------------------------------------

_SENTENCE = re.compile(r"(?<=[.!?])\s+")


def split_sentences(text: str) -> list[str]:
    """Split a reply into sentences, the unit the TTS speaks at a time."""
    return [s for s in (p.strip() for p in _SENTENCE.split(text.strip())) if s]


@dataclass(frozen=True)
class WordTiming:
    """One word of a spoken reply and where its audio starts, in ms of the item's audio."""

    text: str  # the word with its leading space, as streamed in a transcript delta
    start_ms: int


def word_timings(sentence: str, offset_ms: int, duration_ms: int, first: bool) -> list[WordTiming]:
    """Spread a sentence's words over its audio in proportion to their length.

    ``first`` says whether this is the item's first sentence (no leading space).
    """
    words = sentence.split()
    total = sum(len(w) + 1 for w in words) or 1
    out, done = [], 0
    for i, word in enumerate(words):
        start = offset_ms + int(duration_ms * done / total)
        out.append(WordTiming(text=word if (first and i == 0) else f" {word}", start_ms=start))
        done += len(word) + 1
    return out


def heard_transcript(words: list[WordTiming], audio_end_ms: int) -> str:
    """The transcript of what was played before ``audio_end_ms`` (whole words only)."""
    return "".join(w.text for w in words if w.start_ms < audio_end_ms).strip()
