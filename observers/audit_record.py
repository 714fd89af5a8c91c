"""The ``turn`` audit record: built from one :class:`observers.audit_turn.Turn` (pure).

The record format is a documented interface (docs/audit.md, "Records"); everything
that decides a field's value lives here, apart from the frame handling that fills
the turn (:mod:`observers.audit`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from audit.audio import AudioClip
from audit.chain import canonical, to_jsonable
from observers.audit_turn import Turn
from processors.caller_cues import CUES_KEY
from processors.vocabulary_correction import CORRECTIONS_KEY, RAW_TEXT_KEY


def join_text(parts: list[tuple[str, bool]]) -> str:
    """Join text pieces; a piece that carries its own spacing is appended as is."""
    out = ""
    for text, has_spaces in parts:
        if not text:
            continue
        if has_spaces or not out or out.endswith((" ", "\n")) or text.startswith(" "):
            out += text
        else:
            out += " " + text
    return out.strip()


def llm_input_entry(messages: Any, at: str, *, include_messages: bool) -> dict[str, Any]:
    """One entry of ``llm.inputs``: hash and count of the LLM's input messages."""
    messages = to_jsonable(messages)
    entry: dict[str, Any] = {
        "messages_sha256": hashlib.sha256(canonical(messages)).hexdigest(),
        "message_count": len(messages),
        "at": at,
    }
    if include_messages:
        entry["messages"] = messages
    return entry


def error_entry(*, error: Any, fatal: bool, processor: Any, at: str) -> dict[str, Any]:
    """One entry of ``errors`` (or the body of an ``error`` record outside a turn)."""
    return {
        "error": str(error)[:500],
        "fatal": bool(fatal),
        "processor": str(processor) if processor is not None else None,
        "at": at,
    }


def image_entry(*, image: bytes, size: Any, format: Any, at: str) -> dict[str, Any]:
    """One entry of ``images``: sha256, size and format of an image, never its bytes."""
    return {
        "sha256": hashlib.sha256(image).hexdigest(),
        "bytes": len(image),
        "size": list(size),
        "format": format,
        "at": at,
    }


def _user_part(turn: Turn) -> dict[str, Any] | None:
    if not (turn.has_user or turn.user_audio is not None):
        return None
    raw_parts: list[tuple[str, bool]] = []
    final_parts: list[tuple[str, bool]] = []
    corrections: list[Any] = []
    cues: list[Any] = []
    language = None
    for tf in turn.transcripts:
        md = tf.metadata or {}
        if md.get(CUES_KEY):
            cues.append(to_jsonable(md[CUES_KEY]))
        raw = md.get(RAW_TEXT_KEY)
        raw_parts.append((raw if isinstance(raw, str) else tf.text, False))
        final_parts.append((tf.text, False))
        found = md.get(CORRECTIONS_KEY)
        if found:
            corrections.extend(to_jsonable(list(found)))
        if tf.language is not None:
            language = str(getattr(tf.language, "value", tf.language))
    return {
        "raw_transcript": join_text(raw_parts),
        "final_transcript": join_text(final_parts),
        "corrections": corrections,
        "cues": cues,  # loudness, pitch, rate, wording: processors.caller_cues
        "segments": len(turn.transcripts),
        "language": language,
        "audio": turn.user_audio.summary() if turn.user_audio else None,
    }


def _bot_part(turn: Turn) -> dict[str, Any]:
    if turn.interrupted:
        status = "interrupted"
    elif turn.spoken or "bot_started" in turn.times:
        status = "complete"
    else:
        status = "silent"
    spoken_text = join_text(turn.spoken)
    if turn.cut_segment and turn.cut_segment["heard_words"]:
        heard = " ".join(turn.cut_segment["text"].split()[: turn.cut_segment["heard_words"]])
        spoken_text = join_text([(spoken_text, False), (heard, False)])
    return {
        "status": status,
        "spoken_text": spoken_text,
        "spoken_words": len(spoken_text.split()),
        "interrupted_by": turn.interrupt_reason,
        "cut_segment": turn.cut_segment,
        "unheard_secs": turn.unheard_secs,
        "generated_text": join_text(turn.llm_text),
        "audio": turn.bot_audio.summary(),
    }


def build_turn_record(
    turn: Turn, *, utc: Callable[[int], str], keep_audio: bool
) -> tuple[dict[str, Any], dict[str, AudioClip] | None]:
    """The ``turn`` record body of a closed turn, and its audio clips when kept.

    Args:
        turn: The closed turn.
        utc: Turns a pipeline clock time (ns) into an ISO 8601 UTC string.
        keep_audio: Return the turn's PCM (``{"user": clip, "bot": clip}``) too.

    Returns:
        The body and the clips (None when not kept or no audio came).
    """
    timestamps = {stage: utc(ns) for stage, ns in sorted(turn.times.items(), key=lambda x: x[1])}
    if "transcript" in turn.last_times:
        timestamps["transcript_final"] = utc(turn.last_times["transcript"])
    if "bot_stopped" in turn.last_times:
        timestamps["bot_stopped"] = utc(turn.last_times["bot_stopped"])

    tool_calls = []
    for call in turn.tool_calls.values():
        call = {k: v for k, v in call.items() if not k.startswith("_")}
        call.setdefault("result", None)
        tool_calls.append(call)

    body: dict[str, Any] = {
        "turn": turn.number,
        "trigger": turn.trigger,
        "timestamps": timestamps,
        "user": _user_part(turn),
        "llm": {
            "inputs": turn.llm_inputs,
            "responses": turn.llm_started,
            "text": join_text(turn.llm_text),
        },
        "tool_calls": tool_calls,
        "bot": _bot_part(turn),
        "images": turn.images,
        "latency_ms": turn_latency(turn),
        "errors": turn.errors,
    }
    audio = None
    if keep_audio:
        user_clip = turn.user_audio.clip() if turn.user_audio else None
        clips = {"user": user_clip, "bot": turn.bot_audio.clip()}
        audio = {k: v for k, v in clips.items() if v is not None} or None
    return body, audio


def turn_latency(turn: Turn) -> dict[str, float]:
    """The record's ``latency_ms``: waits and spans of the turn, in milliseconds."""
    t, last = turn.times, turn.last_times

    def span(a: int | None, b: int | None) -> float | None:
        if a is None or b is None:
            return None
        return round((b - a) / 1e6, 1)

    def wait(a: int | None, b: int | None) -> float | None:
        value = span(a, b)
        return None if value is None else max(0.0, value)

    user_stopped = last.get("user_stopped")
    transcript = last.get("transcript")
    speech_end = last.get("speech_end")
    bot_started = t.get("bot_started")
    spans = {
        # From the end of the caller's speech (VAD stop − its silence) to the first bot
        # audio sent: what the caller waits, never negative. Without a VAD stop (a typed
        # or speech-to-speech turn) it runs from the end-of-turn decision.
        "voice_to_voice": wait(speech_end if speech_end is not None else user_stopped, bot_started),
        "end_of_turn_wait": wait(speech_end, user_stopped),
        "after_turn_end": wait(user_stopped, bot_started),
        "stt_after_speech_end": wait(speech_end, transcript),
        "stt_after_user_stopped": span(user_stopped, transcript),
        "llm_first_text": span(t.get("llm_input", t.get("llm_started")), t.get("llm_first_text")),
        "first_audio_after_llm_text": span(t.get("llm_first_text"), t.get("bot_started")),
        "tools": round(sum(c.get("duration_ms", 0.0) for c in turn.tool_calls.values()), 1)
        if turn.tool_calls
        else None,
        "bot_speaking": span(t.get("bot_started"), last.get("bot_stopped")),
    }
    return {k: v for k, v in spans.items() if v is not None}
