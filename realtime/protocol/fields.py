"""Validators for the values of session and response fields (pure functions).

Each takes the value, the ``param`` path to name in an error, and the client event, and
returns the normalized value or raises :class:`~realtime.protocol.events.ProtocolError`.
"""

from __future__ import annotations

import re
from typing import Any

from realtime.protocol.events import SAMPLE_RATE, refuse

EAGERNESS = ("low", "medium", "high", "auto")
TOOL_CHOICES = ("auto", "none", "required")
# server_vad's settings when a client leaves them out (the API's documented defaults)
SERVER_VAD_DEFAULTS = {
    "type": "server_vad",
    "threshold": 0.5,
    "prefix_padding_ms": 300,
    "silence_duration_ms": 500,
    "create_response": True,
    "interrupt_response": True,
}
_TRACING_KEYS = {"group_id": str, "workflow_name": str, "metadata": object}
_INCLUDE = ("item.input_audio_transcription.logprobs",)
_EFFORTS = ("minimal", "low", "medium", "high", "xhigh")


def check_format(fmt: Any, param: str, event: dict) -> dict:
    """Validate an audio format: only ``audio/pcm`` at 24 kHz is spoken here."""
    if not isinstance(fmt, dict) or fmt.get("type") != "audio/pcm":
        raise refuse(
            "invalid_value",
            "this server speaks only audio/pcm (PCM16 mono at 24000 Hz)",
            param,
            event,
        )
    rate = fmt.get("rate", SAMPLE_RATE)
    if rate != SAMPLE_RATE:
        raise refuse("invalid_value", f"audio/pcm rate must be {SAMPLE_RATE}", param, event)
    return {"type": "audio/pcm", "rate": SAMPLE_RATE}


def check_number(value: Any, lo: float, hi: float, param: str, event: dict) -> float:
    """Validate a number in ``[lo, hi]`` (a bool is not a number here)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or not lo <= value <= hi:
        raise refuse("invalid_value", f"'{param}' must be a number in [{lo}, {hi}]", param, event)
    return value


def check_bool(value: Any, param: str, event: dict) -> bool:
    """Validate a true/false value."""
    if not isinstance(value, bool):
        raise refuse("invalid_value", f"'{param}' must be true or false", param, event)
    return value


def check_turn_detection(td: Any, current: dict | None, event: dict) -> dict | None:
    """Validate a ``turn_detection`` object; None (or false) turns server-side turns off."""
    param = "session.audio.input.turn_detection"
    if td is None or td is False:
        return None
    if not isinstance(td, dict):
        raise refuse("invalid_value", "turn_detection must be an object or null", param, event)
    kind = td.get("type", "server_vad")
    base = dict(current) if current and current.get("type") == kind else {}
    if kind == "server_vad":
        out = {**SERVER_VAD_DEFAULTS, **base}
        for key, value in td.items():
            if key == "type":
                continue
            if value is None:
                continue
            p = f"{param}.{key}"
            if key == "threshold":
                out[key] = float(check_number(value, 0.0, 1.0, p, event))
            elif key in ("prefix_padding_ms", "silence_duration_ms"):
                out[key] = int(check_number(value, 0, 10000, p, event))
            elif key in ("create_response", "interrupt_response"):
                out[key] = check_bool(value, p, event)
            elif key == "idle_timeout_ms":
                out[key] = int(check_number(value, 0, 3600000, p, event))
            else:
                raise refuse("unknown_parameter", f"unknown parameter '{key}'", p, event)
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
                    raise refuse(
                        "invalid_value",
                        f"eagerness must be one of {', '.join(EAGERNESS)}",
                        p,
                        event,
                    )
                out[key] = value
            elif key in ("create_response", "interrupt_response"):
                out[key] = check_bool(value, p, event)
            else:
                raise refuse("unknown_parameter", f"unknown parameter '{key}'", p, event)
        return out
    raise refuse(
        "invalid_value",
        f"turn_detection type must be 'server_vad' or 'semantic_vad', not '{kind}'",
        f"{param}.type",
        event,
    )


def check_tools(tools: Any, param: str, event: dict) -> list[dict]:
    """Validate function tool definitions."""
    if not isinstance(tools, list):
        raise refuse("invalid_value", "'tools' must be a list", param, event)
    out = []
    for i, tool in enumerate(tools):
        p = f"{param}[{i}]"
        if not isinstance(tool, dict) or tool.get("type", "function") != "function":
            raise refuse("invalid_value", "only function tools are supported", p, event)
        name = tool.get("name")
        if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", name):
            raise refuse(
                "invalid_value", "a tool needs a 'name' of [A-Za-z0-9_-]", f"{p}.name", event
            )
        params = tool.get("parameters", {"type": "object", "properties": {}})
        if not isinstance(params, dict):
            raise refuse(
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


def check_modalities(value: Any, param: str, event: dict) -> list[str]:
    """Validate ``output_modalities``: ``["audio"]`` or ``["text"]``."""
    if value not in (["audio"], ["text"]):
        raise refuse(
            "invalid_value", "output_modalities must be ['audio'] or ['text']", param, event
        )
    return list(value)


def check_tool_choice(value: Any, param: str | None, event: dict) -> str:
    """Validate ``tool_choice`` (``auto``, ``none`` or ``required``)."""
    if value not in TOOL_CHOICES:
        raise refuse("invalid_value", "tool_choice must be auto, none or required", param, event)
    return value


def check_keys(value: Any, allowed: dict[str, Any], param: str, event: dict) -> dict:
    """Validate an object with only ``allowed`` keys of the given types; drops nulls."""
    if not isinstance(value, dict):
        raise refuse("invalid_value", f"'{param}' must be an object", param, event)
    for key, kind in allowed.items():
        if value.get(key) is not None and not isinstance(value[key], kind):
            raise refuse("invalid_value", f"'{param}.{key}' has the wrong type", param, event)
    for key in value:
        if key not in allowed:
            raise refuse("unknown_parameter", f"unknown parameter '{key}'", f"{param}.{key}", event)
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
        return "auto" if value == "auto" else check_keys(value, _TRACING_KEYS, param, event)
    if key == "include":
        if not isinstance(value, list) or any(v not in _INCLUDE for v in value):
            raise refuse("invalid_value", f"'include' may only list {_INCLUDE[0]}", param, event)
        return list(value)
    if key == "reasoning":
        out = check_keys(value, {"effort": str}, param, event)
        if out.get("effort") not in (None, *_EFFORTS):
            raise refuse(
                "invalid_value", f"effort must be one of {', '.join(_EFFORTS)}", param, event
            )
        return out
    if key == "prompt":
        out = check_keys(value, {"id": str, "version": str, "variables": dict}, param, event)
        variables = out.get("variables") or {}
        if "id" not in out or not all(isinstance(v, str) for v in variables.values()):
            raise refuse(
                "invalid_value", "a prompt needs an 'id' and string 'variables'", param, event
            )
        return out
    if key == "truncation":
        if value in ("auto", "disabled"):
            return value
        out = check_keys(
            value,
            {"type": str, "retention_ratio": (int, float), "token_limits": dict},
            param,
            event,
        )
        ratio = out.get("retention_ratio")
        if out.get("type") != "retention_ratio" or ratio is None or isinstance(ratio, bool):
            raise refuse(
                "invalid_value",
                "truncation must be 'auto', 'disabled' or a retention_ratio object",
                param,
                event,
            )
        out["retention_ratio"] = float(check_number(ratio, 0.0, 1.0, param, event))
        if "token_limits" in out:
            limits = check_keys(
                out["token_limits"], {"post_instructions": int}, f"{param}.token_limits", event
            )
            out["token_limits"] = limits
        return out
    return check_bool(value, param, event)  # parallel_tool_calls


def check_noise_reduction(value: Any, param: str, event: dict) -> dict | None:
    """Validate ``noise_reduction``: null, or ``near_field`` / ``far_field`` (accepted, not run)."""
    if value is None:
        return None
    out = check_keys(value, {"type": str, "strength": (int, float)}, param, event)
    if out.get("type") not in ("near_field", "far_field"):
        raise refuse(
            "invalid_value", "noise_reduction type must be near_field or far_field", param, event
        )
    if "strength" in out:
        out["strength"] = float(check_number(out["strength"], 0.0, 1.0, param, event))
    return out
