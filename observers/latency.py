"""Per-turn voice-to-voice latency, as a Pipecat observer.

:class:`LatencyObserver` watches the frames of one conversation and, for every user turn,
records when the user stopped speaking (VAD), when the turn was judged over, the final
transcript, the LLM's first token, the TTS's first audio and the moment the bot started
speaking, plus barge-ins. From those moments it derives the server-side voice-to-voice
latency and its breakdown::

    speech end ─vad→ VAD stop ─stt→ transcript ─turn→ end of turn ─llm→ first token
        ─tts→ first audio ─output→ bot started speaking

``speech end`` is the VAD's stop time minus its ``stop_secs`` (the silence it had to hear),
so ``vad`` is the end-of-speech detection wait. Stages always sum to ``total``: a missing
moment gives its stage ``None`` and its time to the next stage, and a moment that came
out of order (a transcript after the end of turn) is clamped between its neighbours so no
stage is negative.

Speech-to-speech sessions (an LLM service whose ``LLMServiceMetadataFrame`` says
``is_realtime_service``, e.g. OpenAI Realtime or Gemini Live) have no local VAD, STT or
TTS: the service's server VAD drives the turns. Their records have ``kind ==
"speech_to_speech"`` and three stages::

    speech end ─vad→ speech stopped ─model→ first audio delta ─output→ bot started speaking

``speech stopped`` is the ``UserStoppedSpeakingFrame`` (``input_audio_buffer.speech_stopped``),
``speech end`` is that minus the server VAD's silence (``speech_end_offset_secs``, else the
service's own ``silence_duration_ms``), the first audio delta is the service's
``TTSStartedFrame`` / first ``TTSAudioRawFrame``. The user transcript comes upstream, often
after the answer started: it fills the record only if it arrives before the bot starts
speaking, and never opens or delays a turn.

Each finished turn becomes a :class:`TurnLatency` (``to_dict()`` for the audit log,
``to_message()`` for the web client), handed to ``on_turn`` and to the ``on_turn_latency``
event handlers. With ``publish=True`` the observer also sends it to the client over the
transport's data channel as ``{"type": "echo-latency", ...}`` (an
``OutputTransportMessageUrgentFrame`` queued on the output transport).

The pure bookkeeping lives in :class:`TurnTracker` (plain methods taking a time), the
observer is the thin adapter that maps frames onto it.
"""

from __future__ import annotations

import inspect
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    CancelFrame,
    EndFrame,
    Frame,
    FunctionCallInProgressFrame,
    InterruptionFrame,
    LLMServiceMetadataFrame,
    LLMTextFrame,
    MetricsFrame,
    OutputTransportMessageUrgentFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    TTSStartedFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.metrics.metrics import ProcessingMetricsData, TTFBMetricsData, TurnMetricsData
from pipecat.observers.base_observer import BaseObserver, FramePushed
from pipecat.transports.base_output import BaseOutputTransport

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


def server_vad_silence_secs(settings: Any) -> float | None:
    """The silence a speech-to-speech service's server VAD waits before ``speech_stopped``.

    Reads an OpenAI Realtime service's ``session_properties.audio.input.turn_detection``
    or a Gemini Live service's ``vad``; ``None`` when it is not a fixed silence (semantic
    VAD, provider default) or the settings are of another shape.

    Args:
        settings: The service's ``settings`` (``AIService.settings``).
    """
    props = getattr(settings, "session_properties", None)
    audio_in = getattr(getattr(props, "audio", None), "input", None)
    for source in (getattr(audio_in, "turn_detection", None), getattr(settings, "vad", None)):
        ms = getattr(source, "silence_duration_ms", None)
        if isinstance(ms, (int, float)) and not isinstance(ms, bool) and ms >= 0:
            return ms / 1000.0
    return None


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

# Frame ids remembered for de-duplication (only frames the observer acts on).
_SEEN_IDS = 512


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


class TurnTracker:
    """The per-turn bookkeeping, driven by plain method calls with explicit times.

    A turn opens when the user starts speaking (VAD or turn start) and no turn is open, or
    the open one has already ended. It is finished (and returned by the method that
    finished it) when the bot starts speaking, when the user starts a new turn, or when
    the session ends.

    After :meth:`speech_to_speech_service` the session's turns are speech-to-speech: turn
    start and end come from the service's server VAD, local VAD frames are ignored, and a
    transcript only fills an open, ended turn (it never opens one).
    """

    def __init__(self, session_id: str = "", *, speech_end_offset_secs: float | None = None):
        """Initialize the tracker.

        Args:
            session_id: Stamped on every record.
            speech_end_offset_secs: For speech-to-speech turns, how long before
                ``speech_stopped`` the user stopped (the server VAD's silence). ``None``:
                use what the service reports (see :meth:`speech_to_speech_service`).
        """
        self.session_id = session_id
        self.current: TurnLatency | None = None
        self.finished: list[TurnLatency] = []
        self.bot_speaking = False
        self.vad_speaking = False
        self.speech_to_speech = False
        self.speech_end_offset_secs = speech_end_offset_secs
        self._count = 0

    def speech_to_speech_service(self, silence_secs: float | None = None) -> None:
        """The session's LLM is a speech-to-speech service with server-side turn detection.

        Args:
            silence_secs: The service's server VAD silence, used as the speech-end offset
                when none was given to the tracker.
        """
        self.speech_to_speech = True
        if self.speech_end_offset_secs is None:
            self.speech_end_offset_secs = silence_secs

    # --- user side ---------------------------------------------------------------------

    def user_started(self, now: float) -> TurnLatency | None:
        """The user's turn started. Returns a turn this finished (abandoned), if any."""
        if self.current is not None and self.current.turn_end_at is None:
            return None  # already inside this turn
        done = self._finish(ABANDONED) if self.current is not None else None
        self._count += 1
        self.current = TurnLatency(
            session_id=self.session_id,
            turn=self._count,
            kind=SPEECH_TO_SPEECH if self.speech_to_speech else CASCADED,
            barge_in=self.bot_speaking,
            user_started_at=now,
        )
        if self.speech_to_speech:
            self.current.vad_segments = 1  # one server VAD segment per turn
        return done

    def vad_started(self, now: float) -> TurnLatency | None:
        """The VAD heard speech start: a new turn, or a new segment after a pause.

        The user aggregator sends its VAD frames both ways as two unrelated frames, so a
        start while the VAD is already speaking is the same event seen twice.
        """
        if self.vad_speaking or self.speech_to_speech:
            return None
        self.vad_speaking = True
        turn = self.current
        if turn is not None and turn.turn_end_at is None and turn.vad_segments:
            # Speaking again inside the same turn: a pause, not a new turn. The end of
            # speech and what followed it are re-dated by this segment.
            turn.speech_end_at = turn.vad_stop_at = turn.transcript_at = None
            done = None
        else:
            done = self.user_started(now)
        self.current.vad_segments += 1
        return done

    def vad_stopped(self, now: float, stop_secs: float) -> None:
        """The VAD decided the user stopped, ``stop_secs`` after the last speech."""
        if not self.vad_speaking or self.speech_to_speech:
            return  # the other copy of this stop, already handled
        self.vad_speaking = False
        turn = self.current
        if turn is None or turn.turn_end_at is not None:
            return
        turn.vad_stop_at = now
        turn.vad_stop_secs = stop_secs
        turn.speech_end_at = now - stop_secs

    def transcript(self, now: float, text: str) -> TurnLatency | None:
        """A final transcript arrived (opens a turn when none is open).

        Speech to speech: the transcript of a turn's audio comes once the server committed
        it (at ``speech_stopped``), so it belongs to the open turn only if that turn has
        ended; otherwise its turn was already finished (a record is never held back for
        it) and it is dropped.
        """
        if self.speech_to_speech:
            turn = self.current
            if turn is not None and turn.turn_end_at is not None:
                self._add_text(turn, now, text)
            return None
        done = None
        if self.current is None or self.current.turn_end_at is not None:
            done = self.user_started(now)
        self._add_text(self.current, now, text)
        return done

    @staticmethod
    def _add_text(turn: TurnLatency, now: float, text: str) -> None:
        text = text.strip()
        if text:
            turn.transcript = f"{turn.transcript} {text}".strip()
        turn.transcript_at = now

    def turn_ended(self, now: float) -> None:
        """The end of the user's turn was decided.

        Speech to speech this is the server VAD's ``speech_stopped``: the user stopped
        ``speech_end_offset_secs`` earlier.
        """
        turn = self.current
        if turn is not None and turn.turn_end_at is None:
            turn.turn_end_at = now
            if turn.kind == SPEECH_TO_SPEECH:
                offset = self.speech_end_offset_secs
                turn.vad_stop_at = now
                turn.vad_stop_secs = offset
                turn.speech_end_at = now - (offset or 0.0)

    def interrupted(self) -> None:
        """An interruption went through while the bot was speaking."""
        if self.bot_speaking and self.current is not None and self.current.turn_end_at is None:
            self.current.barge_in = True

    # --- bot side ---------------------------------------------------------------------

    def _answering(self) -> TurnLatency | None:
        turn = self.current
        return turn if turn is not None and turn.turn_end_at is not None else None

    def llm_text(self, now: float) -> None:
        """The LLM produced text."""
        turn = self._answering()
        if turn is not None and turn.llm_first_token_at is None:
            turn.llm_first_token_at = now

    def tts_audio(self, now: float) -> None:
        """The TTS produced audio."""
        turn = self._answering()
        if turn is not None and turn.tts_first_audio_at is None:
            turn.tts_first_audio_at = now

    def tts_started(self, now: float) -> None:
        """A speech-to-speech service's first audio delta (its ``TTSStartedFrame``).

        Cascaded TTS services push ``TTSStartedFrame`` before they synthesize anything, so
        there only the first audio counts.
        """
        turn = self._answering()
        if turn is not None and turn.kind == SPEECH_TO_SPEECH:
            self.tts_audio(now)

    def function_call(self, name: str) -> None:
        """The LLM called a tool."""
        turn = self._answering()
        if turn is not None:
            turn.function_calls.append(name)

    def bot_started(self, now: float) -> TurnLatency | None:
        """The bot started speaking. Returns the turn it answers, now finished."""
        self.bot_speaking = True
        turn = self._answering()
        if turn is None:
            return None  # the greeting, or speech resumed inside an already-answered turn
        turn.bot_started_at = now
        return self._finish(ANSWERED)

    def bot_stopped(self) -> None:
        """The bot stopped speaking."""
        self.bot_speaking = False

    def metrics(self, data: list[Any]) -> None:
        """Service metrics reported during the open turn."""
        turn = self.current
        if turn is None:
            return
        for item in data:
            if isinstance(item, TurnMetricsData):
                verdict = {"is_complete": item.is_complete, "probability": item.probability}
                ms = getattr(item, "e2e_processing_time_ms", None)
                if ms is not None:
                    verdict["ms"] = round(float(ms), 1)
                turn.smart_turn.append(verdict)
            elif turn.turn_end_at is not None or turn.vad_stop_at is not None:
                if isinstance(item, TTFBMetricsData) and item.value > 0:
                    turn.ttfb.setdefault(item.processor, item.value)
                elif isinstance(item, ProcessingMetricsData) and item.value > 0:
                    turn.processing[item.processor] = item.value

    def session_ended(self) -> TurnLatency | None:
        """The session ended: the open turn, if any, finishes unanswered."""
        return self._finish(UNANSWERED) if self.current is not None else None

    def _finish(self, status: str) -> TurnLatency:
        turn = self.current
        self.current = None
        turn.status = status
        self.finished.append(turn)
        return turn


TurnHandler = Callable[[TurnLatency], Awaitable[None] | None]


class LatencyObserver(BaseObserver):
    """Records every user turn's voice-to-voice latency and breakdown.

    Events:
        on_turn_latency(observer, record): A turn finished (:class:`TurnLatency`).

    Example::

        latency = LatencyObserver(session_id=session.session_id, publish=True)
        worker = PipelineWorker(pipeline, observers=[latency])

        @latency.event_handler("on_turn_latency")
        async def on_turn_latency(observer, record):
            await audit.record_latency(record.to_dict())
    """

    def __init__(
        self,
        *,
        session_id: str = "",
        clock: Callable[[], float] = time.time,
        on_turn: TurnHandler | None = None,
        publish: bool = False,
        publish_text: bool = True,
        speech_end_offset_secs: float | None = None,
        **kwargs,
    ):
        """Initialize the observer.

        Args:
            session_id: Stamped on every record.
            clock: Current time in seconds (``time.time`` so records join with a client's
                wall clock; a test passes a controllable one). Observers run behind the
                pipeline through a queue, so the lag between a frame's push and its
                observation (from the pipeline clock) is subtracted when available.
            on_turn: Called (sync or async) with each finished :class:`TurnLatency`.
            publish: Also send each record to the client as an ``echo-latency`` app
                message through the output transport (the WebRTC data channel).
            publish_text: Include the transcript in the published message.
            speech_end_offset_secs: Speech-to-speech sessions only: the server VAD's
                silence (``realtime_silence_duration_ms`` / 1000), i.e. how long before
                ``speech_stopped`` the user stopped. ``None``: read it from the service's
                settings when they carry a fixed silence, else 0 (``vad`` is then 0 and
                ``total`` starts at ``speech_stopped``). Cascaded turns ignore it.
            **kwargs: Passed to ``BaseObserver``.
        """
        super().__init__(observe_every_push=False, **kwargs)
        self._clock = clock
        self._on_turn = on_turn
        self._publish = publish
        self._publish_text = publish_text
        self._tracker = TurnTracker(session_id, speech_end_offset_secs=speech_end_offset_secs)
        self._seen: OrderedDict[int, None] = OrderedDict()
        self._output: Any = None  # the output transport, learnt from BotStartedSpeakingFrame
        self._dispatch: dict[type, Callable | None] = {}
        self._register_event_handler("on_turn_latency")

    @property
    def records(self) -> list[TurnLatency]:
        """Finished turns, in order."""
        return self._tracker.finished

    @property
    def session_id(self) -> str:
        """The conversation's id."""
        return self._tracker.session_id

    def payload(self) -> dict[str, Any]:
        """Every finished turn plus a summary, JSON-ready (for an HTTP route or the audit log)."""
        return {
            "session_id": self.session_id,
            "turns": [r.to_dict() for r in self.records],
            "summary": summarize(self.records),
        }

    # --- frame dispatch ---------------------------------------------------------------

    _HANDLED: tuple[tuple[type, str], ...] = (
        (VADUserStartedSpeakingFrame, "_on_vad_started"),
        (VADUserStoppedSpeakingFrame, "_on_vad_stopped"),
        (UserStartedSpeakingFrame, "_on_user_started"),
        (UserStoppedSpeakingFrame, "_on_user_stopped"),
        (TranscriptionFrame, "_on_transcript"),
        (LLMTextFrame, "_on_llm_text"),
        (TTSAudioRawFrame, "_on_tts_audio"),
        (TTSStartedFrame, "_on_tts_started"),
        (LLMServiceMetadataFrame, "_on_llm_metadata"),
        (BotStartedSpeakingFrame, "_on_bot_started"),
        (BotStoppedSpeakingFrame, "_on_bot_stopped"),
        (InterruptionFrame, "_on_interruption"),
        (FunctionCallInProgressFrame, "_on_function_call"),
        (MetricsFrame, "_on_metrics"),
        (EndFrame, "_on_end"),
        (CancelFrame, "_on_end"),
    )

    def _handler_for(self, cls: type) -> Callable | None:
        try:
            return self._dispatch[cls]
        except KeyError:
            handler = next(
                (getattr(self, name) for base, name in self._HANDLED if issubclass(cls, base)),
                None,
            )
            self._dispatch[cls] = handler
            return handler

    async def on_push_frame(self, data: FramePushed):
        """Map a pushed frame onto the turn tracker (every other frame costs a dict lookup)."""
        frame = data.frame
        handler = self._handler_for(type(frame))
        if handler is None or self._already_seen(frame):
            return
        if self._publish and self._output is None:
            self._learn_output(data)
        await handler(frame, data)

    def _learn_output(self, data: FramePushed) -> None:
        """Remember the output transport (where published messages are queued)."""
        for processor in (data.destination, data.source):
            if isinstance(processor, BaseOutputTransport):
                self._output = processor
                return

    def _already_seen(self, frame: Frame) -> bool:
        """Whether this frame, or its broadcast twin, was handled already."""
        if isinstance(frame, (TTSAudioRawFrame, LLMTextFrame)):
            return False  # only their first occurrence matters; ids would churn the cache
        seen = self._seen
        if frame.id in seen or (frame.broadcast_sibling_id in seen):
            return True
        seen[frame.id] = None
        if len(seen) > _SEEN_IDS:
            seen.popitem(last=False)
        return False

    def _now(self, data: FramePushed) -> float:
        """The frame's push time on the observer's clock."""
        now = self._clock()
        try:
            lag_ns = data.source.get_clock().get_time() - data.timestamp
        except Exception:  # a processor without a running clock (tests): no correction
            return now
        if 0 < lag_ns < 5_000_000_000 and data.timestamp > 0:
            return now - lag_ns / 1e9
        return now

    async def _emit(self, record: TurnLatency | None) -> None:
        if record is None:
            return
        if self._on_turn is not None:
            result = self._on_turn(record)
            if inspect.isawaitable(result):
                await result
        await self._call_event_handler("on_turn_latency", record)
        if self._publish and self._output is not None:
            message = record.to_message(include_text=self._publish_text)
            await self._output.queue_frame(OutputTransportMessageUrgentFrame(message=message))

    # --- handlers -----------------------------------------------------------------------

    async def _on_vad_started(self, frame: VADUserStartedSpeakingFrame, data: FramePushed):
        await self._emit(self._tracker.vad_started(self._now(data)))

    async def _on_vad_stopped(self, frame: VADUserStoppedSpeakingFrame, data: FramePushed):
        self._tracker.vad_stopped(self._now(data), frame.stop_secs)

    async def _on_user_started(self, frame: UserStartedSpeakingFrame, data: FramePushed):
        await self._emit(self._tracker.user_started(self._now(data)))

    async def _on_user_stopped(self, frame: UserStoppedSpeakingFrame, data: FramePushed):
        self._tracker.turn_ended(self._now(data))

    async def _on_transcript(self, frame: TranscriptionFrame, data: FramePushed):
        await self._emit(self._tracker.transcript(self._now(data), frame.text or ""))

    async def _on_llm_text(self, frame: LLMTextFrame, data: FramePushed):
        turn = self._tracker.current
        if turn is not None and turn.turn_end_at is not None and turn.llm_first_token_at is None:
            self._tracker.llm_text(self._now(data))

    async def _on_tts_audio(self, frame: TTSAudioRawFrame, data: FramePushed):
        turn = self._tracker.current
        if turn is not None and turn.turn_end_at is not None and turn.tts_first_audio_at is None:
            self._tracker.tts_audio(self._now(data))

    async def _on_tts_started(self, frame: TTSStartedFrame, data: FramePushed):
        self._tracker.tts_started(self._now(data))

    async def _on_llm_metadata(self, frame: LLMServiceMetadataFrame, data: FramePushed):
        if frame.is_realtime_service:
            settings = getattr(data.source, "settings", None)
            self._tracker.speech_to_speech_service(server_vad_silence_secs(settings))

    async def _on_bot_started(self, frame: BotStartedSpeakingFrame, data: FramePushed):
        await self._emit(self._tracker.bot_started(self._now(data)))

    async def _on_bot_stopped(self, frame: BotStoppedSpeakingFrame, data: FramePushed):
        self._tracker.bot_stopped()

    async def _on_interruption(self, frame: InterruptionFrame, data: FramePushed):
        self._tracker.interrupted()

    async def _on_function_call(self, frame: FunctionCallInProgressFrame, data: FramePushed):
        self._tracker.function_call(frame.function_name)

    async def _on_metrics(self, frame: MetricsFrame, data: FramePushed):
        self._tracker.metrics(frame.data)

    async def _on_end(self, frame: Frame, data: FramePushed):
        await self._emit(self._tracker.session_ended())


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
