"""One user turn's latency record: its moments, its stages, its wire form, and a summary.

A :class:`TurnLatency` holds the moments of a turn (seconds on the observer's clock) and
derives the server-side voice-to-voice latency and its breakdown::

    speech end ─vad→ VAD stop ─stt→ transcript ─turn→ end of turn ─llm→ first token
        ─tts→ first audio ─output→ bot started speaking

``speech end`` is the VAD's stop time minus its ``stop_secs`` (the silence it had to hear),
so ``vad`` is the end-of-speech detection wait. Stages always sum to ``total``: a missing
moment gives its stage ``None`` and its time to the next stage, and a moment that came
out of order (a transcript after the end of turn) is clamped between its neighbours so no
stage is negative.

Speech-to-speech turns (``kind == "speech_to_speech"``: a realtime service whose server VAD
drives the turns) have three stages::

    speech end ─vad→ speech stopped ─model→ first audio delta ─output→ bot started speaking

``to_dict()`` is the audit-log shape, ``to_message()`` the ``echo-latency`` client message
(:func:`record_from_message` reads it back); :func:`summarize` gives p50/p90/min/max over
answered turns. The records are made by :class:`observers.latency_tracker.TurnTracker`,
fed by :class:`observers.latency.LatencyObserver`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

MESSAGE_TYPE = "echo-latency"
MESSAGE_VERSION = 1

# Moments of a turn in the order they happen; each stage runs from the previous moment.
CASCADED = "cascaded"  # local VAD → STT → turn → LLM → TTS
SPEECH_TO_SPEECH = "speech_to_speech"  # a realtime service with server-side VAD

MOMENTS: tuple[str, ...] = (
    "speech_end",
    "vad_stop",
    "transcript",
    "turn_end",
    "llm_first_token",
    "tts_first_audio",
    "bot_started",
)
STAGES: tuple[str, ...] = ("vad", "stt", "turn", "llm", "tts", "output")
STAGE_LABELS: dict[str, str] = {
    "vad": "VAD end-of-speech wait",
    "stt": "speech-to-text",
    "turn": "end-of-turn decision",
    "llm": "LLM to first token",
    "tts": "TTS to first audio",
    "output": "output transport",
}
# Speech-to-speech turns: the moments their stages run between, and the stages.
SPEECH_TO_SPEECH_MOMENTS: tuple[str, ...] = (
    "speech_end",
    "turn_end",
    "tts_first_audio",
    "bot_started",
)
SPEECH_TO_SPEECH_STAGES: tuple[str, ...] = ("vad", "model", "output")
SPEECH_TO_SPEECH_STAGE_LABELS: dict[str, str] = {
    "vad": "server VAD silence wait",
    "model": "model: speech stopped to first audio",
    "output": "output transport",
}
# Every stage name of either kind, in display order (summaries, CSV columns).
ALL_STAGES: tuple[str, ...] = ("vad", "stt", "turn", "llm", "tts", "model", "output")


def stages_of(kind: str) -> tuple[str, ...]:
    """The stage names of a turn of this kind."""
    return SPEECH_TO_SPEECH_STAGES if kind == SPEECH_TO_SPEECH else STAGES


def stage_labels(kind: str) -> dict[str, str]:
    """Human labels of the stages of a turn of this kind."""
    return SPEECH_TO_SPEECH_STAGE_LABELS if kind == SPEECH_TO_SPEECH else STAGE_LABELS


def _chain(values: list[float | None], stages: tuple[str, ...]) -> dict[str, float | None]:
    """Gaps between consecutive moments (``values`` has one more item than ``stages``).

    A missing moment gives its stage ``None`` and its time to the next stage; nothing is
    dated after the last known moment, and out-of-order moments are clamped so no stage is
    negative. The stages sum to last − first whenever both are known.
    """
    last = next((v for v in reversed(values) if v is not None), None)
    values = [v if v is None else min(v, last) for v in values]  # nothing after the end
    out: dict[str, float | None] = {}
    previous = values[0]
    for stage, value in zip(stages, values[1:], strict=True):
        if value is None or previous is None:
            out[stage] = None
            previous = previous if value is None else value
            continue
        value = max(value, previous)  # out-of-order moments are clamped, never negative
        out[stage] = value - previous
        previous = value
    return out


ANSWERED = "answered"  # the bot started speaking after the turn ended
ABANDONED = "abandoned"  # the turn ended, then the user went on before the bot answered
UNANSWERED = "unanswered"  # the session ended (or the turn never ended) with no answer


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000.0, 1)


@dataclass
class TurnLatency:
    """Timings of one user turn, in the observer's clock (seconds, epoch by default).

    Attributes:
        session_id: The conversation.
        turn: 1-based index of the user turn in the session.
        status: ``answered``, ``abandoned`` (ended, then the user resumed before any
            answer: a premature end of turn) or ``unanswered``.
        kind: ``cascaded`` or ``speech_to_speech`` (which stages the turn has).
        barge_in: The user started this turn while the bot was speaking.
        vad_segments: Speech segments the VAD heard in this turn (pauses + 1).
        transcript: The turn's final transcript (all segments joined).
        vad_stop_secs: The VAD's ``stop_secs`` used to date the end of speech (speech to
            speech: the server VAD's silence; ``None`` when unknown, then ``vad`` is 0).
        user_started_at: The VAD first heard speech in this turn.
        speech_end_at: Estimated end of the user's speech (VAD stop − ``stop_secs``).
        vad_stop_at: The VAD reported the user stopped (last segment; speech to speech:
            the server's ``speech_stopped``, the same as ``turn_end_at``).
        transcript_at: The last transcript of the turn arrived.
        turn_end_at: The end of the user's turn was decided.
        llm_first_token_at: First LLM text after the end of turn (speech to speech: the
            first output transcript delta; informative, not a stage boundary).
        tts_first_audio_at: First TTS audio after that text (speech to speech: the
            service's first audio delta).
        bot_started_at: The output transport started playing the answer.
        smart_turn: Each turn-analyzer verdict: ``is_complete``, ``probability``, ``ms``.
        ttfb: Time to first byte per service (seconds) reported during the turn.
        processing: Processing time per service (seconds) reported during the turn.
        function_calls: Tools the LLM called to answer.
    """

    session_id: str
    turn: int
    status: str = UNANSWERED
    kind: str = CASCADED
    barge_in: bool = False
    vad_segments: int = 0
    transcript: str = ""
    vad_stop_secs: float | None = None
    user_started_at: float | None = None
    speech_end_at: float | None = None
    vad_stop_at: float | None = None
    transcript_at: float | None = None
    turn_end_at: float | None = None
    llm_first_token_at: float | None = None
    tts_first_audio_at: float | None = None
    bot_started_at: float | None = None
    smart_turn: list[dict[str, Any]] = field(default_factory=list)
    ttfb: dict[str, float] = field(default_factory=dict)
    processing: dict[str, float] = field(default_factory=dict)
    function_calls: list[str] = field(default_factory=list)

    def moments(self) -> dict[str, float | None]:
        """The turn's moments by name, in :data:`MOMENTS` order."""
        return {name: getattr(self, f"{name}_at") for name in MOMENTS}

    @property
    def total(self) -> float | None:
        """Server-side voice-to-voice latency: end of speech → bot started speaking."""
        if self.speech_end_at is None or self.bot_started_at is None:
            return None
        return max(0.0, self.bot_started_at - self.speech_end_at)

    def stages(self) -> dict[str, float | None]:
        """Seconds spent in each stage (see module docstring); ``None`` when not observed.

        Cascaded turns have :data:`STAGES`, speech-to-speech turns
        :data:`SPEECH_TO_SPEECH_STAGES`. The stages sum to :attr:`total` whenever the
        first and last moments are known.
        """
        if self.kind == SPEECH_TO_SPEECH:
            moments = SPEECH_TO_SPEECH_MOMENTS
            return _chain([getattr(self, f"{m}_at") for m in moments], SPEECH_TO_SPEECH_STAGES)
        return _chain(list(self.moments().values()), STAGES)

    def to_dict(self, *, include_text: bool = True) -> dict[str, Any]:
        """Everything, JSON-ready, with ``total`` and ``stages`` in seconds (for the audit log).

        Args:
            include_text: Include the transcript (off for logs: they carry no user text).
        """
        data = asdict(self)
        if not include_text:
            data["transcript_chars"] = len(data.pop("transcript"))
        data["total"] = self.total
        data["stages"] = self.stages()
        return data

    def to_message(self, *, include_text: bool = True) -> dict[str, Any]:
        """The live message for the web client (``{"type": "echo-latency", ...}``, in ms)."""
        message: dict[str, Any] = {
            "type": MESSAGE_TYPE,
            "version": MESSAGE_VERSION,
            "session_id": self.session_id,
            "turn": self.turn,
            "status": self.status,
            "kind": self.kind,
            "barge_in": self.barge_in,
            "vad_segments": self.vad_segments,
            "total_ms": _ms(self.total),
            "stages_ms": {k: _ms(v) for k, v in self.stages().items()},
            "at": self.moments(),
            "smart_turn": self.smart_turn,
            "function_calls": self.function_calls,
        }
        if include_text:
            message["transcript"] = self.transcript
        else:
            message["transcript_chars"] = len(self.transcript)
        return message


def record_from_message(message: dict[str, Any]) -> TurnLatency:
    """Rebuild a :class:`TurnLatency` from a ``to_message()`` dict (e.g. off the data channel).

    Raises:
        ValueError: Not an ``echo-latency`` message of a known version.
    """
    if message.get("type") != MESSAGE_TYPE or message.get("version") != MESSAGE_VERSION:
        raise ValueError(f"not an {MESSAGE_TYPE} v{MESSAGE_VERSION} message")
    at = message.get("at") or {}
    return TurnLatency(
        session_id=str(message.get("session_id", "")),
        turn=int(message["turn"]),
        status=str(message.get("status", UNANSWERED)),
        kind=str(message.get("kind", CASCADED)),
        barge_in=bool(message.get("barge_in", False)),
        vad_segments=int(message.get("vad_segments", 0)),
        transcript=str(message.get("transcript", "")),
        smart_turn=list(message.get("smart_turn") or []),
        function_calls=list(message.get("function_calls") or []),
        **{f"{name}_at": at.get(name) for name in MOMENTS},
    )


# --- statistics ----------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float | None:
    """The ``q``-th percentile (0–100) by linear interpolation; ``None`` for no values."""
    xs = sorted(v for v in values if v is not None)
    if not xs:
        return None
    if len(xs) == 1:
        return xs[0]
    pos = (len(xs) - 1) * q / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def summarize(records: list[TurnLatency]) -> dict[str, Any]:
    """p50/p90/min/max of the total and of each stage over answered turns (seconds).

    ``stats`` has every stage of :data:`ALL_STAGES`; a stage the turns' kind lacks has
    ``n == 0``.
    """
    answered = [r for r in records if r.status == ANSWERED]
    columns: dict[str, list[float]] = {"total": [r.total for r in answered if r.total is not None]}
    stages = [r.stages() for r in answered]
    for stage in ALL_STAGES:
        columns[stage] = [v for s in stages if (v := s.get(stage)) is not None]
    return {
        "turns": len(records),
        "answered": len(answered),
        "abandoned": sum(r.status == ABANDONED for r in records),
        "barge_ins": sum(r.barge_in for r in records),
        "stats": {
            name: {
                "n": len(values),
                "p50": percentile(values, 50),
                "p90": percentile(values, 90),
                "min": min(values) if values else None,
                "max": max(values) if values else None,
            }
            for name, values in columns.items()
        },
    }
