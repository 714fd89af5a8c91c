"""Per-turn latency bookkeeping: which moment belongs to which user turn.

:class:`TurnTracker` is driven by plain method calls with explicit times (one per event the
observer sees: VAD start/stop, turn start/end, transcript, LLM text, TTS audio, bot
speaking, metrics, session end) and opens, fills and finishes
:class:`observers.latency_record.TurnLatency` records. It knows nothing of frames;
:class:`observers.latency.LatencyObserver` maps frames onto it.
"""

from __future__ import annotations

from typing import Any

from pipecat.metrics.metrics import ProcessingMetricsData, TTFBMetricsData, TurnMetricsData

from observers.latency_record import (
    ABANDONED,
    ANSWERED,
    CASCADED,
    SPEECH_TO_SPEECH,
    UNANSWERED,
    TurnLatency,
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
