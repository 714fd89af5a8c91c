"""The Realtime wire: ids, model names, client event parsing and server event builders.

Every other protocol module raises :class:`ProtocolError` (through :func:`refuse`) and builds
server events with :func:`server_event`; nothing here touches a socket or a model.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
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


def refuse(code: str, message: str, param: str | None, event: dict) -> ProtocolError:
    """The :class:`ProtocolError` refusing client ``event`` (its ``event_id`` attached)."""
    return ProtocolError(code, message, param=param, event_id=event.get("event_id"))


def beta_protocol_error() -> ProtocolError:
    """The refusal of a connection that asked for the beta protocol (``OpenAI-Beta``)."""
    return ProtocolError(
        "beta_protocol_not_supported",
        "This server speaks only the GA Realtime protocol, not the beta one "
        "('OpenAI-Beta: realtime=v1'). Connect without that header (openai SDK: "
        "client.realtime.connect, not client.beta.realtime.connect) and use the GA "
        "session fields (output_modalities, audio.input.*, audio.output.*).",
    )


def unknown_model_error(model: str) -> ProtocolError:
    """The refusal of a connection asking for a model that is not a Realtime model."""
    return ProtocolError(
        "model_not_found",
        f"The model '{model}' does not exist: this server accepts the "
        "Realtime models (gpt-realtime, gpt-realtime-mini, "
        "gpt-4o-realtime-preview, ...).",
        param="model",
    )


INVALID_API_KEY = {
    "error": {
        "type": "invalid_request_error",
        "code": "invalid_api_key",
        "message": "Incorrect API key provided.",
    }
}  # the HTTP 401 body for a wrong or missing key


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


def decode_audio(event: dict[str, Any]) -> bytes:
    """The PCM16 bytes of an ``input_audio_buffer.append`` event.

    Raises:
        ProtocolError: missing, not base64, or not whole 16-bit samples.

    """
    audio = event.get("audio")
    if not isinstance(audio, str):
        raise refuse(
            "missing_required_parameter", "'audio' must be a base64 string", "audio", event
        )
    try:
        pcm = base64.b64decode(audio, validate=True)
    except (binascii.Error, ValueError) as e:
        raise refuse("invalid_value", "'audio' is not valid base64", "audio", event) from e
    if len(pcm) % 2:
        raise refuse(
            "invalid_value", "'audio' must hold whole PCM16 samples (even length)", "audio", event
        )
    return pcm
