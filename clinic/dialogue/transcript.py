"""Reading an OpenAI-format chat transcript: message text, image parts, tool-call arguments."""

from __future__ import annotations

import json
from typing import Any


def message_text(content: Any) -> str:
    """The text of a message's content (a string, or the text parts of a list)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            part.get("text", "")
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


def last_assistant_text(messages: list) -> str:
    """The text of the last assistant message that has text ("" if none).

    >>> last_assistant_text([{"role": "assistant", "content": "Which one?"},
    ...                      {"role": "user", "content": "Hm."}])
    'Which one?'
    """
    for message in reversed(messages):
        if isinstance(message, dict) and message.get("role") == "assistant":
            text = message_text(message.get("content"))
            if text.strip():
                return text
    return ""


def has_image(content: Any) -> bool:
    """Whether an OpenAI-format message content holds an image part."""
    return isinstance(content, list) and any(
        isinstance(part, dict) and part.get("type") in ("image_url", "image", "input_image")
        for part in content
    )


def call_arguments(function: dict) -> dict:
    """A tool call's JSON arguments ({} when missing or not JSON)."""
    try:
        return json.loads(function.get("arguments") or "{}")
    except (TypeError, ValueError):
        return {}
