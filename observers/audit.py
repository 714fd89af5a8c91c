"""Audit observer: watches the pipeline's frames and hands one record per turn to the recorder.

It never sits in the pipeline: Pipecat runs observers on their own task, and this
one only appends to lists and feeds hashes inline; the finished turn goes to
:meth:`audit.recorder.AuditRecorder.submit`, which queues it for the writer.

Where each fact is taken:

* user turn — ``UserStartedSpeakingFrame`` / ``UserStoppedSpeakingFrame`` (first push);
* what we heard — ``TranscriptionFrame`` (first push; read when the turn closes, so
  an in-place vocabulary correction is included; ``metadata["echo.raw_text"]`` and
  ``metadata["echo.corrections"]`` give the raw STT text and the corrections);
* user audio — ``InputAudioRawFrame`` (first push) from the VAD's speech start (plus
  the ``start_secs`` of audio the VAD needed to decide, kept in a short pre-roll)
  while the VAD hears speech or the user turn is open, up to the turn's end;
  hashed incrementally;
* LLM — ``LLMContextFrame`` on its way to the LLM (hash of the messages; the
  copy the assistant aggregator pushes downstream after a reply is not an input),
  ``LLMFullResponseStartFrame`` / ``LLMTextFrame`` / ``LLMFullResponseEndFrame``;
* tools — ``FunctionCallInProgressFrame`` / ``FunctionCallResultFrame``;
* what the bot said — ``TTSTextFrame`` and ``OutputAudioRawFrame`` *as pushed on by
  the output transport*, which happens only once their audio was played; an
  ``InterruptionFrame`` (or a new user turn) while the bot is still responding marks
  the turn interrupted, keeping the words played so far;
* a hang-up — the ``CancelFrame`` of a session whose ending is ``hung_up`` (the
  ``ending`` callable, else ``CancelFrame.reason``): output sent after the caller's
  last audio reached the server was sent to nobody, so the turn is cut there (marked
  interrupted by ``hung_up``, the words heard estimated as for an interruption). A
  turn that finished while the caller's audio was flowing is held until newer caller
  audio arrives (the next 20 ms packet), so a reply that ended after the caller had
  already gone is cut too;
* ``BotStartedSpeakingFrame`` / ``BotStoppedSpeakingFrame``, ``ErrorFrame``,
  ``UserImageRawFrame`` (sha256, size and format, not the bytes).

A frame pushed on by several processors is taken once: events on their first
push (and once per broadcast pair), played output at the output transport.

A turn closes when the bot has finished speaking with no LLM response or tool
call pending, when the next user turn starts, or at ``EndFrame`` /
``CancelFrame`` / :meth:`AuditObserver.flush`; it is submitted then, or once caller
audio newer than its end arrives (see hang-up above). Bot speech with no user turn
before it (the greeting) is a turn of its own with ``trigger: "bot"``.
"""

from __future__ import annotations

import bisect
import datetime as _dt
import hashlib
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from typing import Any, Protocol

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    CancelFrame,
    EndFrame,
    ErrorFrame,
    Frame,
    FunctionCallInProgressFrame,
    FunctionCallResultFrame,
    InputAudioRawFrame,
    InterruptionFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    OutputAudioRawFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    TTSTextFrame,
    UserImageRawFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.observers.base_observer import BaseObserver, FramePushed
from pipecat.processors.aggregators.llm_response_universal import LLMAssistantAggregator
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.transports.base_output import BaseOutputTransport

from audit.audio import AudioClip
from audit.chain import canonical, to_jsonable

RAW_TEXT_KEY = "echo.raw_text"
CORRECTIONS_KEY = "echo.corrections"
CUES_KEY = "echo.cues"

_SEEN_LIMIT = 2048
_PRE_ROLL_SECS = 1.0
HUNG_UP = "hung_up"
# Output sent this long after the caller's last audio still counts as heard (a packet
# from a live caller is at most a jitter-buffer wait and a network hop behind).
_CALLER_LAG_NS = 100_000_000


class RecordSink(Protocol):
    """What the observer hands finished records to (an :class:`AuditRecorder`)."""

    def submit(
        self, kind: str, body: dict[str, Any], *, audio: dict[str, AudioClip] | None = None
    ) -> bool:
        """Queue a record without blocking."""
        ...


def _is_output_transport(processor: FrameProcessor) -> bool:
    return isinstance(processor, BaseOutputTransport)


def _audio_secs(audio: bytes, sample_rate: int, num_channels: int) -> float:
    if sample_rate <= 0 or num_channels <= 0:
        return 0.0
    return len(audio) / (sample_rate * num_channels * 2)


def _join_text(parts: list[tuple[str, bool]]) -> str:
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


class _AudioHash:
    """Incremental sha256 of one side's PCM, optionally keeping the bytes."""

    def __init__(self, keep: bool):
        self._h = hashlib.sha256()
        self.bytes = 0
        self.secs = 0.0
        self.sample_rate = 0
        self.num_channels = 0
        self._keep = keep
        self._buf = bytearray() if keep else None

    def add(self, audio: bytes, sample_rate: int, num_channels: int) -> None:
        self._h.update(audio)
        self.bytes += len(audio)
        self.secs += _audio_secs(audio, sample_rate, num_channels)
        self.sample_rate = self.sample_rate or sample_rate
        self.num_channels = self.num_channels or num_channels
        if self._buf is not None:
            self._buf += audio

    def summary(self) -> dict[str, Any] | None:
        if not self.bytes:
            return None
        return {
            "sha256": self._h.hexdigest(),
            "bytes": self.bytes,
            "secs": round(self.secs, 3),
            "sample_rate": self.sample_rate,
            "num_channels": self.num_channels,
        }

    def clip(self) -> AudioClip | None:
        if self._buf is None or not self.bytes:
            return None
        return AudioClip(bytes(self._buf), self.sample_rate, self.num_channels or 1)


class _Turn:
    """Everything gathered for one turn (plain data, no logic beyond bookkeeping)."""

    def __init__(self, number: int, trigger: str, keep_audio: bool):
        self.number = number
        self.trigger = trigger
        self.times: dict[str, int] = {}  # stage -> pipeline clock ns (first occurrence)
        self.last_times: dict[str, int] = {}  # stage -> pipeline clock ns (last occurrence)
        self.transcripts: list[TranscriptionFrame] = []
        self.user_audio: _AudioHash | None = None
        self.bot_audio = _AudioHash(keep_audio)
        self.llm_inputs: list[dict[str, Any]] = []
        self.llm_text: list[tuple[str, bool]] = []
        self.llm_started = 0
        self.llm_ended = 0
        self.tool_calls: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.spoken: list[tuple[str, bool]] = []
        self.spoken_at: list[int] = []  # when each spoken text finished playing
        self.spoken_secs: list[float] = []  # its audio's length
        self.played_audio: list[tuple[int, float]] = []  # (when played, secs) per chunk
        self.unheard_secs: float | None = None  # audio sent after the caller had gone
        self.closed_at: int | None = None
        self.spoken_segments = 0
        self.bot_speaking = False
        self.interrupted = False
        self.interrupt_reason: str | None = None
        self.cut_segment: dict[str, Any] | None = None
        self.errors: list[dict[str, Any]] = []
        self.images: list[dict[str, Any]] = []

    def mark(self, stage: str, ts: int) -> None:
        self.times.setdefault(stage, ts)
        self.last_times[stage] = ts

    @property
    def has_user(self) -> bool:
        return bool(self.transcripts) or "user_started" in self.times

    @property
    def bot_active(self) -> bool:
        """Whether the bot has started responding in this turn."""
        return bool(
            self.llm_started
            or self.llm_text
            or self.tool_calls
            or self.spoken
            or "bot_started" in self.times
        )

    @property
    def responding(self) -> bool:
        """Whether the bot's response is still under way."""
        pending_tools = any("result_at" not in c for c in self.tool_calls.values())
        return self.bot_speaking or self.llm_started > self.llm_ended or pending_tools


def unheard_output(turn: _Turn, heard_until: int) -> bool:
    """Whether any of ``turn``'s output was played after ``heard_until`` (pipeline ns)."""
    return any(t > heard_until for t in turn.spoken_at) or any(
        t > heard_until for t, _ in turn.played_audio
    )


def forget_unheard(turn: _Turn, heard_until: int) -> tuple[tuple[str, float] | None, float, float]:
    """Drop the text ``turn`` played after ``heard_until``; say where its output was cut.

    Returns:
        The segment (text, audio secs) that was playing at ``heard_until`` (the first
        one dropped) or None, the seconds of its audio played by then, and the seconds
        of audio played after ``heard_until``.
    """
    keep = bisect.bisect_right(turn.spoken_at, heard_until)
    segment = None
    if keep < len(turn.spoken):
        segment = (turn.spoken[keep][0], turn.spoken_secs[keep])
        del turn.spoken[keep:], turn.spoken_at[keep:], turn.spoken_secs[keep:]
    since = turn.spoken_at[-1] if turn.spoken_at else None
    played = unheard = 0.0
    for t, secs in turn.played_audio:
        if t > heard_until:
            unheard += secs
        elif since is None or t > since:
            played += secs
    return segment, played, round(unheard, 3)


class AuditObserver(BaseObserver):
    """Builds one ``turn`` audit record per user turn from the frames it sees."""

    def __init__(
        self,
        *,
        recorder: RecordSink,
        played_by: Callable[[FrameProcessor], bool] | None = None,
        keep_audio: bool = False,
        include_llm_messages: bool = False,
        ending: Callable[[], str | None] | None = None,
        **kwargs,
    ):
        """Create the observer.

        Args:
            recorder: Where finished records go (an :class:`audit.recorder.AuditRecorder`).
            played_by: Tells whether a processor is the one that plays audio to
                the user; bot text and audio count as spoken when that processor
                pushes them on. Defaults to "is a ``BaseOutputTransport``".
            keep_audio: Keep each turn's PCM and pass it to the recorder (which
                saves it only when it has an ``audio_dir``). Hashes are always taken.
            include_llm_messages: Put the LLM's input messages in the record, not
                only their hash.
            ending: How the session is ending (e.g. ``lambda: session.ending``), read at
                the ``CancelFrame``: a reply cut by it is ``interrupted_by`` that ending,
                and ``hung_up`` cuts it at the caller's last audio. Without it the
                ``CancelFrame``'s own ``reason`` is used, else ``"cancelled"``.
            **kwargs: Passed to ``BaseObserver``.
        """
        super().__init__(observe_every_push=True, **kwargs)
        self._recorder = recorder
        self._played_by = played_by or _is_output_transport
        self._keep_audio = keep_audio
        self._include_llm_messages = include_llm_messages
        self._ending = ending
        self._turn: _Turn | None = None
        self._held: _Turn | None = None  # closed, waiting for newer caller audio
        self._last_input_ns: int | None = None  # the caller's last audio (pipeline clock)
        self._turn_count = 0
        self._seen: OrderedDict[int, None] = OrderedDict()
        self._clock_offset_ns: int | None = None
        # Text the TTS has queued behind its audio, in order: frame id -> segment info.
        self._tts_pending: OrderedDict[int, dict[str, Any]] = OrderedDict()
        self._tts_generated_secs = 0.0
        self._played_secs_since_text = 0.0
        self._finished = False
        # User audio: recent input (pre-roll) and the audio of the user turn being formed.
        self._pre_roll: deque[tuple[bytes, int, int, float]] = deque()
        self._pre_roll_secs = 0.0
        self._user_audio: _AudioHash | None = None
        self._speech_started_ns: int | None = None
        self._vad_speaking = False
        self._user_turn_open = False

    @property
    def turns_recorded(self) -> int:
        """Turn records handed to the recorder so far."""
        return self._turn_count - (self._turn is not None) - (self._held is not None)

    # ----------------------------------------------------------------------------- helpers

    def _utc(self, ts_ns: int) -> str:
        offset = self._clock_offset_ns or 0
        moment = _dt.datetime.fromtimestamp((ts_ns + offset) / 1e9, _dt.UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    def _first_time(self, frame: Frame) -> bool:
        """True once per frame, and once per broadcast pair."""
        if frame.id in self._seen:
            return False
        sibling = frame.broadcast_sibling_id
        if sibling is not None and sibling in self._seen:
            return False
        self._seen[frame.id] = None
        if len(self._seen) > _SEEN_LIMIT:
            self._seen.popitem(last=False)
        return True

    def _new_turn(self, trigger: str) -> _Turn:
        self._turn_count += 1
        self._turn = _Turn(self._turn_count, trigger, self._keep_audio)
        return self._turn

    def _bot_turn(self) -> _Turn:
        """The turn bot output belongs to (a new bot-initiated one if none is open)."""
        return self._turn if self._turn is not None else self._new_turn("bot")

    # ----------------------------------------------------------------------------- observer

    async def on_push_frame(self, data: FramePushed):
        """Take what the audit record needs from one frame push (cheap, inline)."""
        if self._finished:
            return
        frame = data.frame
        ts = data.timestamp
        offset = time.time_ns() - ts
        if self._clock_offset_ns is None or offset < self._clock_offset_ns:
            self._clock_offset_ns = offset

        # EndFrame leaves the output transport once everything before it was played.
        if isinstance(frame, EndFrame):
            if self._played_by(data.source) and data.direction == FrameDirection.DOWNSTREAM:
                self._close_turn(hold=False)
                self._submit_held()
            return

        # Output as played: the output transport pushes it on after playing it.
        if isinstance(frame, (TTSTextFrame, OutputAudioRawFrame)) and self._played_by(data.source):
            if data.direction == FrameDirection.DOWNSTREAM:
                self._on_played(frame, ts)
            return

        # Raw audio: first push only (cheap check; no id tracking for audio).
        if isinstance(frame, InputAudioRawFrame):
            if data.first_push:
                self._last_input_ns = ts
                if self._held is not None and ts > (self._held.closed_at or 0):
                    self._submit_held()  # the caller was still there after it ended
                self._on_input_audio(frame)
            return
        if isinstance(frame, TTSAudioRawFrame):
            if data.first_push:
                self._tts_generated_secs += _audio_secs(
                    frame.audio, frame.sample_rate, frame.num_channels
                )
            return
        if isinstance(frame, OutputAudioRawFrame):
            return

        if not data.first_push or not self._first_time(frame):
            return
        self._on_event(frame, ts, data)

    def _on_event(self, frame: Frame, ts: int, data: FramePushed) -> None:
        if isinstance(frame, VADUserStartedSpeakingFrame):
            self._vad_speaking = True
            self._start_user_audio(ts, frame.start_secs)
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            self._vad_speaking = False
            turn = self._turn
            if turn is not None and turn.trigger == "user" and "user_stopped" not in turn.times:
                # The end of speech as the VAD saw it: its stop, less the silence it waited.
                turn.mark("speech_end", ts - int(max(0.0, frame.stop_secs) * 1e9))
        elif isinstance(frame, UserStartedSpeakingFrame):
            turn = self._turn
            if turn is not None and (turn.bot_active or "user_stopped" in turn.times):
                self._close_turn(new_user_turn=True)
                turn = None
            if turn is None:
                turn = self._new_turn("user")
            turn.mark("user_started", ts)
            self._user_turn_open = True
            self._start_user_audio(ts, 0.0)
        elif isinstance(frame, UserStoppedSpeakingFrame):
            self._user_turn_open = False
            if self._turn is not None:
                self._turn.mark("user_stopped", ts)
                self._attach_user_audio(self._turn)
        elif isinstance(frame, TranscriptionFrame):
            turn = self._turn
            if turn is not None and turn.bot_active:
                self._close_turn(new_user_turn=True)
                turn = None
            if turn is None:
                turn = self._new_turn("user")
            turn.transcripts.append(frame)
            turn.mark("transcript", ts)
        elif isinstance(frame, LLMContextFrame):
            if getattr(frame, "speculation", False):
                return
            if data.direction == FrameDirection.DOWNSTREAM and isinstance(
                data.source, LLMAssistantAggregator
            ):
                return  # the updated context after a reply, not an LLM input
            turn = self._bot_turn()
            turn.mark("llm_input", ts)
            turn.llm_inputs.append(self._llm_input(frame, ts))
        elif isinstance(frame, LLMFullResponseStartFrame):
            turn = self._bot_turn()
            turn.llm_started += 1
            turn.mark("llm_started", ts)
        elif isinstance(frame, LLMTextFrame):
            turn = self._bot_turn()
            turn.mark("llm_first_text", ts)
            turn.llm_text.append((frame.text, frame.includes_inter_frame_spaces))
        elif isinstance(frame, LLMFullResponseEndFrame):
            if self._turn is not None and self._turn.llm_started > self._turn.llm_ended:
                self._turn.llm_ended += 1
                self._turn.mark("llm_ended", ts)
        elif isinstance(frame, TTSTextFrame):
            # Queued by the TTS behind its audio: remember how much audio precedes it.
            self._tts_pending[frame.id] = {
                "text": frame.text,
                "secs": self._tts_generated_secs,
            }
            self._tts_generated_secs = 0.0
            while len(self._tts_pending) > 256:
                self._tts_pending.popitem(last=False)
        elif isinstance(frame, FunctionCallInProgressFrame):
            turn = self._bot_turn()
            turn.mark("tool_started", ts)
            turn.tool_calls[frame.tool_call_id] = {
                "name": frame.function_name,
                "tool_call_id": frame.tool_call_id,
                "arguments": to_jsonable(frame.arguments),
                "started_at": self._utc(ts),
                "_started_ns": ts,
            }
        elif isinstance(frame, FunctionCallResultFrame):
            turn = self._bot_turn()
            turn.mark("tool_result", ts)
            call = turn.tool_calls.get(frame.tool_call_id)
            if call is None:
                call = {
                    "name": frame.function_name,
                    "tool_call_id": frame.tool_call_id,
                    "arguments": to_jsonable(frame.arguments),
                }
                turn.tool_calls[frame.tool_call_id] = call
            call["result"] = to_jsonable(frame.result)
            call["error"] = frame.error
            call["result_at"] = self._utc(ts)
            started = call.pop("_started_ns", None)
            if started is not None:
                call["duration_ms"] = round((ts - started) / 1e6, 1)
        elif isinstance(frame, BotStartedSpeakingFrame):
            turn = self._bot_turn()
            if not turn.bot_speaking:
                turn.bot_speaking = True
                turn.mark("bot_started", ts)
        elif isinstance(frame, BotStoppedSpeakingFrame):
            turn = self._turn
            if turn is not None and turn.bot_speaking:
                turn.bot_speaking = False
                turn.mark("bot_stopped", ts)
                if not turn.responding:
                    self._close_turn()
        elif isinstance(frame, InterruptionFrame):
            turn = self._turn
            if turn is not None and turn.bot_active and turn.responding:
                self._interrupt(turn, ts, "interruption")
            self._tts_pending.clear()
            self._tts_generated_secs = 0.0
            self._played_secs_since_text = 0.0
        elif isinstance(frame, ErrorFrame):
            err = {
                "error": str(frame.error)[:500],
                "fatal": bool(frame.fatal),
                "processor": str(frame.processor) if frame.processor is not None else None,
                "at": self._utc(ts),
            }
            if self._turn is not None:
                self._turn.errors.append(err)
            else:
                self._recorder.submit("error", err)
        elif isinstance(frame, UserImageRawFrame):
            turn = self._turn if self._turn is not None else self._new_turn("user")
            turn.images.append(
                {
                    "sha256": hashlib.sha256(frame.image).hexdigest(),
                    "bytes": len(frame.image),
                    "size": list(frame.size),
                    "format": frame.format,
                    "at": self._utc(ts),
                }
            )
        elif isinstance(frame, CancelFrame):
            self._on_cancel(frame, ts)

    def _on_input_audio(self, frame: InputAudioRawFrame) -> None:
        if self._user_audio is not None and (self._vad_speaking or self._user_turn_open):
            self._user_audio.add(frame.audio, frame.sample_rate, frame.num_channels)
            return
        secs = _audio_secs(frame.audio, frame.sample_rate, frame.num_channels)
        self._pre_roll.append((frame.audio, frame.sample_rate, frame.num_channels, secs))
        self._pre_roll_secs += secs
        while self._pre_roll and self._pre_roll_secs - self._pre_roll[0][3] >= _PRE_ROLL_SECS:
            self._pre_roll_secs -= self._pre_roll.popleft()[3]

    def _start_user_audio(self, ts: int, start_secs: float) -> None:
        """Begin the user turn's audio, with the speech the VAD heard before deciding."""
        if self._user_audio is None:
            self._user_audio = _AudioHash(self._keep_audio)
            self._speech_started_ns = ts
            take: list[tuple[bytes, int, int, float]] = []
            total = 0.0
            for item in reversed(self._pre_roll):
                if total >= start_secs - 1e-6:
                    break
                take.append(item)
                total += item[3]
            for audio, rate, channels, _ in reversed(take):
                self._user_audio.add(audio, rate, channels)
        self._pre_roll.clear()
        self._pre_roll_secs = 0.0

    def _attach_user_audio(self, turn: _Turn) -> None:
        if self._user_audio is None:
            return
        if turn.user_audio is None:
            turn.user_audio = self._user_audio
        if self._speech_started_ns is not None:
            turn.mark("speech_started", self._speech_started_ns)
        self._user_audio = None
        self._speech_started_ns = None
        if self._vad_speaking:  # already speaking again: that audio is the next turn's
            self._start_user_audio(max(turn.last_times.values()), 0.0)

    def _llm_input(self, frame: LLMContextFrame, ts: int) -> dict[str, Any]:
        messages = to_jsonable(frame.context.get_messages())
        entry: dict[str, Any] = {
            "messages_sha256": hashlib.sha256(canonical(messages)).hexdigest(),
            "message_count": len(messages),
            "at": self._utc(ts),
        }
        if self._include_llm_messages:
            entry["messages"] = messages
        return entry

    def _on_played(self, frame: Frame, ts: int) -> None:
        if isinstance(frame, OutputAudioRawFrame):
            turn = self._turn
            secs = _audio_secs(frame.audio, frame.sample_rate, frame.num_channels)
            if turn is not None and turn.bot_speaking:
                turn.bot_audio.add(frame.audio, frame.sample_rate, frame.num_channels)
                turn.played_audio.append((ts, secs))
                if "bot_first_audio" not in turn.times:
                    turn.mark("bot_first_audio", ts)
            self._played_secs_since_text += secs
            return
        assert isinstance(frame, TTSTextFrame)
        # Everything queued up to and including this text has now been played.
        segment_secs = self._played_secs_since_text
        while self._tts_pending:
            fid, seg = self._tts_pending.popitem(last=False)
            if fid == frame.id:
                segment_secs = seg["secs"]
                break
        self._played_secs_since_text = 0.0
        turn = self._bot_turn()
        turn.spoken.append((frame.text, frame.includes_inter_frame_spaces))
        turn.spoken_at.append(ts)
        turn.spoken_secs.append(segment_secs)
        turn.spoken_segments += 1
        turn.mark("spoken", ts)

    def _on_cancel(self, frame: CancelFrame, ts: int) -> None:
        """The session is cancelled: cut what was playing, and for a hang-up what went unheard."""
        reason = (self._ending() if self._ending else None) or frame.reason
        reason = reason if isinstance(reason, str) and reason else "cancelled"
        heard_until = None
        if reason == HUNG_UP and self._last_input_ns is not None:
            heard_until = self._last_input_ns + _CALLER_LAG_NS
        for turn in (self._held, self._turn):
            if turn is None or not turn.bot_active:
                continue
            if turn is self._turn and turn.responding:
                self._interrupt(turn, ts, reason, heard_until)
            elif heard_until is not None and unheard_output(turn, heard_until):
                self._interrupt(turn, ts, reason, heard_until)
        self._submit_held()
        self._close_turn(hold=False)

    def _interrupt(self, turn: _Turn, ts: int, reason: str, heard_until: int | None = None):
        """Mark ``turn`` cut off; with ``heard_until``, output played after it was not heard."""
        if turn.interrupted:
            return
        turn.interrupted = True
        turn.interrupt_reason = reason
        turn.mark("interrupted", ts)
        live = turn is not self._held  # a held turn's output was all played
        segment: tuple[str, float] | None = None  # (text, audio secs) when cut off
        played = self._played_secs_since_text if live else 0.0
        if heard_until is not None:
            segment, played, turn.unheard_secs = forget_unheard(turn, heard_until)
        # The segment being played when the bot was cut off: its text reaches the
        # output only once fully played, so estimate the words heard from how much
        # of its audio was played.
        if segment is None and live and self._tts_pending:
            _, seg = next(iter(self._tts_pending.items()))
            segment = (seg["text"], seg["secs"])
        if segment is not None:
            words = segment[0].split()
            total = segment[1]
            if words and total > 0 and played > 0:
                heard = min(len(words), int(len(words) * min(1.0, played / total)))
                turn.cut_segment = {
                    "text": segment[0],
                    "heard_words": heard,
                    "played_secs": round(played, 3),
                    "segment_secs": round(total, 3),
                    "estimated": True,
                }
        turn.bot_speaking = False

    # ----------------------------------------------------------------------------- closing

    def _close_turn(self, *, new_user_turn: bool = False, hold: bool = True) -> None:
        turn = self._turn
        if turn is None:
            return
        self._turn = None
        if not new_user_turn and turn.trigger == "user" and turn.user_audio is None:
            self._attach_user_audio(turn)  # the turn ends before the user turn's end frame
        if new_user_turn and turn.bot_active and turn.responding:
            ts = max(turn.last_times.values()) if turn.last_times else 0
            self._interrupt(turn, ts, "user_started_speaking")
        self._submit_held()
        turn.closed_at = max(turn.last_times.values()) if turn.last_times else 0
        if hold and not new_user_turn and turn.bot_active and self._last_input_ns is not None:
            # Caller audio newer than the turn's end shows the caller was there to hear it.
            self._held = turn
            return
        self._submit(turn)

    def _submit_held(self) -> None:
        if self._held is not None:
            turn, self._held = self._held, None
            self._submit(turn)

    def _submit(self, turn: _Turn) -> None:
        body, audio = self._build(turn)
        self._recorder.submit("turn", body, audio=audio)

    def flush(self) -> None:
        """Close the open turn now (call before closing the recorder)."""
        self._close_turn(hold=False)
        self._submit_held()

    def _build(self, turn: _Turn) -> tuple[dict[str, Any], dict[str, AudioClip] | None]:
        t = turn.times
        timestamps = {stage: self._utc(ns) for stage, ns in sorted(t.items(), key=lambda x: x[1])}
        if "transcript" in turn.last_times:
            timestamps["transcript_final"] = self._utc(turn.last_times["transcript"])
        if "bot_stopped" in turn.last_times:
            timestamps["bot_stopped"] = self._utc(turn.last_times["bot_stopped"])

        user: dict[str, Any] | None = None
        if turn.has_user or turn.user_audio is not None:
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
            user = {
                "raw_transcript": _join_text(raw_parts),
                "final_transcript": _join_text(final_parts),
                "corrections": corrections,
                "cues": cues,  # loudness, pitch, rate, wording: processors.caller_cues
                "segments": len(turn.transcripts),
                "language": language,
                "audio": turn.user_audio.summary() if turn.user_audio else None,
            }

        if turn.interrupted:
            status = "interrupted"
        elif turn.spoken or "bot_started" in t:
            status = "complete"
        else:
            status = "silent"
        spoken_text = _join_text(turn.spoken)
        if turn.cut_segment and turn.cut_segment["heard_words"]:
            heard = " ".join(turn.cut_segment["text"].split()[: turn.cut_segment["heard_words"]])
            spoken_text = _join_text([(spoken_text, False), (heard, False)])
        bot = {
            "status": status,
            "spoken_text": spoken_text,
            "spoken_words": len(spoken_text.split()),
            "interrupted_by": turn.interrupt_reason,
            "cut_segment": turn.cut_segment,
            "unheard_secs": turn.unheard_secs,
            "generated_text": _join_text(turn.llm_text),
            "audio": turn.bot_audio.summary(),
        }

        tool_calls = []
        for call in turn.tool_calls.values():
            call = {k: v for k, v in call.items() if not k.startswith("_")}
            call.setdefault("result", None)
            tool_calls.append(call)

        body: dict[str, Any] = {
            "turn": turn.number,
            "trigger": turn.trigger,
            "timestamps": timestamps,
            "user": user,
            "llm": {
                "inputs": turn.llm_inputs,
                "responses": turn.llm_started,
                "text": _join_text(turn.llm_text),
            },
            "tool_calls": tool_calls,
            "bot": bot,
            "images": turn.images,
            "latency_ms": self._latency(turn),
            "errors": turn.errors,
        }
        audio = None
        if self._keep_audio:
            user_clip = turn.user_audio.clip() if turn.user_audio else None
            clips = {"user": user_clip, "bot": turn.bot_audio.clip()}
            audio = {k: v for k, v in clips.items() if v is not None} or None
        return body, audio

    @staticmethod
    def _latency(turn: _Turn) -> dict[str, float]:
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
            "voice_to_voice": wait(
                speech_end if speech_end is not None else user_stopped, bot_started
            ),
            "end_of_turn_wait": wait(speech_end, user_stopped),
            "after_turn_end": wait(user_stopped, bot_started),
            "stt_after_speech_end": wait(speech_end, transcript),
            "stt_after_user_stopped": span(user_stopped, transcript),
            "llm_first_text": span(
                t.get("llm_input", t.get("llm_started")), t.get("llm_first_text")
            ),
            "first_audio_after_llm_text": span(t.get("llm_first_text"), t.get("bot_started")),
            "tools": round(sum(c.get("duration_ms", 0.0) for c in turn.tool_calls.values()), 1)
            if turn.tool_calls
            else None,
            "bot_speaking": span(t.get("bot_started"), last.get("bot_stopped")),
        }
        return {k: v for k, v in spans.items() if v is not None}

    async def cleanup(self):
        """Close the open turn when the pipeline is torn down."""
        self._close_turn(hold=False)
        self._submit_held()
        self._finished = True
        await super().cleanup()
