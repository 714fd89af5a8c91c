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
from observers.audit_record import build_turn_record, error_entry, image_entry, llm_input_entry
from observers.audit_turn import (
    FirstSeen,
    PipelineClock,
    Playout,
    Turn,
    UserAudio,
    audio_secs,
    unheard_output,
)

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
        self._turn: Turn | None = None
        self._held: Turn | None = None  # closed, waiting for newer caller audio
        self._last_input_ns: int | None = None  # the caller's last audio (pipeline clock)
        self._turn_count = 0
        self._seen = FirstSeen()
        self._clock = PipelineClock()
        self._utc = self._clock.utc
        self._playout = Playout()  # bot text queued behind its audio, audio played
        self._user_audio = UserAudio(keep_audio)
        self._finished = False

    @property
    def turns_recorded(self) -> int:
        """Turn records handed to the recorder so far."""
        return self._turn_count - (self._turn is not None) - (self._held is not None)

    # ----------------------------------------------------------------------------- helpers

    def _new_turn(self, trigger: str) -> Turn:
        self._turn_count += 1
        self._turn = Turn(self._turn_count, trigger, self._keep_audio)
        return self._turn

    def _bot_turn(self) -> Turn:
        """The turn bot output belongs to (a new bot-initiated one if none is open)."""
        return self._turn if self._turn is not None else self._new_turn("bot")

    # ----------------------------------------------------------------------------- observer

    async def on_push_frame(self, data: FramePushed):
        """Take what the audit record needs from one frame push (cheap, inline)."""
        if self._finished:
            return
        frame = data.frame
        ts = data.timestamp
        self._clock.observe(ts)

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
                self._user_audio.add(frame.audio, frame.sample_rate, frame.num_channels)
            return
        if isinstance(frame, TTSAudioRawFrame):
            if data.first_push:
                self._playout.generated(
                    audio_secs(frame.audio, frame.sample_rate, frame.num_channels)
                )
            return
        if isinstance(frame, OutputAudioRawFrame):
            return

        if not data.first_push or not self._seen.first(frame.id, frame.broadcast_sibling_id):
            return
        self._on_event(frame, ts, data)

    def _on_event(self, frame: Frame, ts: int, data: FramePushed) -> None:
        if isinstance(frame, VADUserStartedSpeakingFrame):
            self._user_audio.vad_speaking = True
            self._user_audio.start(ts, frame.start_secs)
        elif isinstance(frame, VADUserStoppedSpeakingFrame):
            self._user_audio.vad_speaking = False
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
            self._user_audio.turn_open = True
            self._user_audio.start(ts, 0.0)
        elif isinstance(frame, UserStoppedSpeakingFrame):
            self._user_audio.turn_open = False
            if self._turn is not None:
                self._turn.mark("user_stopped", ts)
                self._user_audio.attach(self._turn)
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
            turn.llm_inputs.append(
                llm_input_entry(
                    frame.context.get_messages(),
                    self._utc(ts),
                    include_messages=self._include_llm_messages,
                )
            )
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
            self._playout.queued(frame.id, frame.text)
        elif isinstance(frame, FunctionCallInProgressFrame):
            turn = self._bot_turn()
            turn.mark("tool_started", ts)
            turn.tool_started(
                name=frame.function_name,
                tool_call_id=frame.tool_call_id,
                arguments=frame.arguments,
                at=self._utc(ts),
                ts=ts,
            )
        elif isinstance(frame, FunctionCallResultFrame):
            turn = self._bot_turn()
            turn.mark("tool_result", ts)
            turn.tool_finished(
                name=frame.function_name,
                tool_call_id=frame.tool_call_id,
                arguments=frame.arguments,
                result=frame.result,
                error=frame.error,
                at=self._utc(ts),
                ts=ts,
            )
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
            self._playout.clear()
        elif isinstance(frame, ErrorFrame):
            err = error_entry(
                error=frame.error, fatal=frame.fatal, processor=frame.processor, at=self._utc(ts)
            )
            if self._turn is not None:
                self._turn.errors.append(err)
            else:
                self._recorder.submit("error", err)
        elif isinstance(frame, UserImageRawFrame):
            turn = self._turn if self._turn is not None else self._new_turn("user")
            turn.images.append(
                image_entry(
                    image=frame.image, size=frame.size, format=frame.format, at=self._utc(ts)
                )
            )
        elif isinstance(frame, CancelFrame):
            self._on_cancel(frame, ts)

    def _on_played(self, frame: Frame, ts: int) -> None:
        if isinstance(frame, OutputAudioRawFrame):
            turn = self._turn
            secs = audio_secs(frame.audio, frame.sample_rate, frame.num_channels)
            if turn is not None and turn.bot_speaking:
                turn.bot_audio.add(frame.audio, frame.sample_rate, frame.num_channels)
                turn.played_audio.append((ts, secs))
                if "bot_first_audio" not in turn.times:
                    turn.mark("bot_first_audio", ts)
            self._playout.played(secs)
            return
        assert isinstance(frame, TTSTextFrame)
        # Everything queued up to and including this text has now been played.
        segment_secs = self._playout.text_played(frame.id)
        self._bot_turn().add_spoken(frame.text, frame.includes_inter_frame_spaces, ts, segment_secs)

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

    def _interrupt(self, turn: Turn, ts: int, reason: str, heard_until: int | None = None):
        """Mark ``turn`` cut off; with ``heard_until``, output played after it was not heard."""
        live = turn is not self._held  # a held turn's output was all played
        turn.cut_off(
            ts,
            reason,
            played=self._playout.played_secs if live else 0.0,
            playing=self._playout.playing() if live else None,
            heard_until=heard_until,
        )

    # ----------------------------------------------------------------------------- closing

    def _close_turn(self, *, new_user_turn: bool = False, hold: bool = True) -> None:
        turn = self._turn
        if turn is None:
            return
        self._turn = None
        if not new_user_turn and turn.trigger == "user" and turn.user_audio is None:
            self._user_audio.attach(turn)  # the turn ends before the user turn's end frame
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

    def _submit(self, turn: Turn) -> None:
        body, audio = build_turn_record(turn, utc=self._utc, keep_audio=self._keep_audio)
        self._recorder.submit("turn", body, audio=audio)

    def flush(self) -> None:
        """Close the open turn now (call before closing the recorder)."""
        self._close_turn(hold=False)
        self._submit_held()

    async def cleanup(self):
        """Close the open turn when the pipeline is torn down."""
        self._close_turn(hold=False)
        self._submit_held()
        self._finished = True
        await super().cleanup()
