"""The session object and ``response.create`` options: defaults, updates and their checks.

:func:`default_session` is what a connection starts with, :func:`apply_session_update` the
session after a ``session.update`` (all or nothing), :func:`check_response_options` the
per-response overrides of a ``response.create``. Beta field names are refused with an error
naming the GA field (:func:`check_beta_fields`).
"""

from __future__ import annotations

import copy
from typing import Any

from realtime.protocol.events import SAMPLE_RATE, known_model, refuse
from realtime.protocol.fields import (
    SERVER_VAD_DEFAULTS,
    check_format,
    check_modalities,
    check_noise_reduction,
    check_number,
    check_passive_setting,
    check_tool_choice,
    check_tools,
    check_turn_detection,
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
                "turn_detection": dict(SERVER_VAD_DEFAULTS),
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
    raise refuse(
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


def apply_session_update(
    session: dict[str, Any], update: Any, event: dict[str, Any], *, models: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The session after a ``session.update``; the input is left unchanged.

    Raises:
        ProtocolError: an unknown key, voice, model, format or turn-detection value. Nothing
            is applied when any part is refused.

    """
    if not isinstance(update, dict):
        raise refuse("missing_required_parameter", "'session' must be an object", "session", event)
    check_beta_fields(update, BETA_SESSION_FIELDS, "session", event)
    new = copy.deepcopy(session)
    for key, value in update.items():
        param = f"session.{key}"
        if key not in _SESSION_KEYS:
            raise refuse("unknown_parameter", f"unknown session parameter '{key}'", param, event)
        if value is None:
            continue
        if key == "type":
            if value != "realtime":
                raise refuse("invalid_value", "session type must be 'realtime'", param, event)
        elif key == "model":
            if not isinstance(value, str) or not known_model(value, models):
                raise refuse("model_not_found", f"unknown model '{value}'", param, event)
            if value != session["model"]:
                raise refuse(
                    "invalid_value",
                    "the model is chosen when connecting (?model=...) and cannot change",
                    param,
                    event,
                )
        elif key == "instructions":
            if not isinstance(value, str):
                raise refuse("invalid_value", "'instructions' must be a string", param, event)
            new["instructions"] = value
        elif key == "output_modalities":
            new["output_modalities"] = check_modalities(value, param, event)
        elif key == "tools":
            new["tools"] = check_tools(value, param, event)
        elif key == "tool_choice":
            new["tool_choice"] = check_tool_choice(value, param, event)
        elif key == "audio":
            _apply_audio(new, value, session, event)
        elif key == "max_output_tokens":
            if value != "inf" and (
                isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 4096
            ):
                raise refuse(
                    "invalid_value", "max_output_tokens must be 1-4096 or 'inf'", param, event
                )
            new["max_output_tokens"] = value
        elif key not in ("id", "object", "expires_at"):  # echoed back by a client: ignored
            new[key] = check_passive_setting(key, value, param, event)
    return new


def _apply_audio(new: dict, audio: Any, old: dict, event: dict) -> None:
    if not isinstance(audio, dict):
        raise refuse("invalid_value", "'audio' must be an object", "session.audio", event)
    for side in audio:
        if side not in ("input", "output"):
            raise refuse(
                "unknown_parameter", f"unknown parameter '{side}'", f"session.audio.{side}", event
            )
    inp = audio.get("input") or {}
    out = audio.get("output") or {}
    if not isinstance(inp, dict) or not isinstance(out, dict):
        raise refuse("invalid_value", "audio.input/output must be objects", "session.audio", event)
    target_in = new["audio"]["input"]
    for key, value in inp.items():
        param = f"session.audio.input.{key}"
        if key == "format":
            if value is not None:
                target_in["format"] = check_format(value, param, event)
        elif key == "transcription":
            if value is None:
                target_in["transcription"] = None
                continue
            if not isinstance(value, dict):
                raise refuse(
                    "invalid_value", "transcription must be an object or null", param, event
                )
            model = value.get("model") or TRANSCRIPTION_MODELS[0]
            if model not in TRANSCRIPTION_MODELS:
                raise refuse(
                    "invalid_value",
                    f"unknown transcription model '{model}': use one of "
                    f"{', '.join(TRANSCRIPTION_MODELS)}",
                    f"{param}.model",
                    event,
                )
            for field in ("language", "prompt"):
                if value.get(field) is not None and not isinstance(value[field], str):
                    raise refuse(
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
            raise refuse("unknown_parameter", f"unknown parameter '{key}'", param, event)
    target_out = new["audio"]["output"]
    for key, value in out.items():
        param = f"session.audio.output.{key}"
        if value is None:
            continue
        if key == "format":
            target_out["format"] = check_format(value, param, event)
        elif key == "voice":
            if value not in VOICES:
                raise refuse(
                    "invalid_value",
                    f"unknown voice '{value}': use one of {', '.join(VOICES)}",
                    param,
                    event,
                )
            target_out["voice"] = value
        elif key == "speed":
            target_out["speed"] = float(check_number(value, 0.25, 1.5, param, event))
        else:
            raise refuse("unknown_parameter", f"unknown parameter '{key}'", param, event)


def check_response_options(props: Any, event: dict[str, Any]) -> dict[str, Any]:
    """The checked per-response overrides of a ``response.create`` (``event["response"]``).

    Returns:
        Only the options given: ``output_modalities``, ``instructions``, ``tools``,
        ``tool_choice`` (the session's apply to the rest).

    Raises:
        ProtocolError: not an object, a beta field name, a bad value, or an out-of-band
            response (``conversation='none'``).

    """
    props = props or {}
    if not isinstance(props, dict):
        raise refuse("invalid_value", "'response' must be an object", "response", event)
    check_beta_fields(props, BETA_RESPONSE_FIELDS, "response", event)
    checked: dict[str, Any] = {}
    if props.get("output_modalities") is not None:
        checked["output_modalities"] = check_modalities(
            props["output_modalities"], "response.output_modalities", event
        )
    if props.get("instructions") is not None:
        checked["instructions"] = str(props["instructions"])
    if props.get("tools") is not None:
        checked["tools"] = check_tools(props["tools"], "response.tools", event)
    if props.get("tool_choice") is not None:
        checked["tool_choice"] = check_tool_choice(props["tool_choice"], None, event)
    if props.get("conversation") not in (None, "auto"):
        raise refuse(
            "invalid_value",
            "out-of-band responses (conversation='none') are not supported",
            "response.conversation",
            event,
        )
    return checked
