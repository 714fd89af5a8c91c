"""Speculative end-of-speech work: start STT and smart-turn while the VAD still waits.

Silero declares the end of speech only after ``stop_secs`` of silence (0.2 s). Pipecat starts
Whisper and smart-turn at that moment, so the turn pays silence + STT (~170 ms) in a row.
Here the VAD also reports the *start* of that silence: once ``pause_secs`` of it have passed
(:class:`PauseSignallingSileroVAD`), every pause listener starts its work on the audio so far
— the STT service transcribes the buffered segment
(:meth:`speech.service.EchoWhisperSTTService.on_speech_pause`) and smart-turn scores it
(:class:`SpeculativeSmartTurnV3`). If the VAD then confirms the stop, the results are used
as they are; if the user speaks again, they are dropped (``on_speech_resume``). The
silence wait and the model time overlap, and no decision is taken earlier than before:
the end of turn is still decided at the VAD stop by the same strategy, on the same inputs
(the audio after the pause start is silence by the VAD's own measure).

Cost: a pause the user talks through wastes one Whisper and one smart-turn call; the
speculation starts only after ``pause_secs`` so the short gaps between words do not.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

import numpy as np
from pipecat.audio.turn.base_turn_analyzer import EndOfTurnState
from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADState
from pipecat.metrics.metrics import MetricsData


def _consume_exception(future: asyncio.Future) -> None:
    """Mark a dropped speculation's exception as seen (it is redone the ordinary way)."""
    if not future.cancelled():
        future.exception()


class PauseListener(Protocol):
    """Something that starts work when the user pauses and drops it when they go on."""

    async def on_speech_pause(self, silence_secs: float) -> None:
        """The user has been silent for ``silence_secs``; the VAD has not stopped yet."""

    async def on_speech_resume(self) -> None:
        """The user spoke again before the VAD stopped: the pause was not the end."""


class OnsetListener(Protocol):
    """Something that must know at once when voice comes back after the VAD stopped."""

    async def on_voice_onset(self) -> None:
        """Voice after a stop: the VAD is confirming a start (``start_secs``)."""

    async def on_voice_lost(self) -> None:
        """The onset did not last: no start, the silence goes on."""


class PauseSignallingSileroVAD(SileroVADAnalyzer):
    """Silero VAD that also tells listeners when a silence starts and when it is broken.

    The VAD's own states and frames are unchanged; listeners only hear the STOPPING phase
    (speech → silence, before ``stop_secs`` elapse) as ``on_speech_pause`` once it has
    lasted ``pause_secs``, and ``on_speech_resume`` when speech returns before the stop.
    Onset listeners hear the STARTING phase after a stop: ``on_voice_onset`` on its first
    voiced window (``start_secs`` before the VAD confirms the start) and ``on_voice_lost``
    if it falls back to quiet.
    """

    def __init__(self, *, pause_secs: float, **kwargs: Any):
        """Initialize the analyzer.

        Args:
            pause_secs: Silence after which the pause is announced (rounded up to whole
                VAD windows of 32 ms; ``EchoSettings.turn_speculation_secs``).
            **kwargs: Passed to ``SileroVADAnalyzer`` (``params=``, ``sample_rate=``).
        """
        super().__init__(**kwargs)
        self._pause_secs = pause_secs
        self._listeners: list[PauseListener] = []
        self._onset_listeners: list[OnsetListener] = []
        self._paused = False
        self._last_state = VADState.QUIET

    def add_pause_listener(self, listener: PauseListener) -> None:
        """Call ``listener`` on every announced pause and resume."""
        self._listeners.append(listener)

    def add_onset_listener(self, listener: OnsetListener) -> None:
        """Call ``listener`` when voice starts after a stop, and when that onset fades."""
        self._onset_listeners.append(listener)

    def window_secs(self) -> float:
        """Length of one VAD analysis window in seconds."""
        return self.num_frames_required() / self.sample_rate

    async def analyze_audio(self, buffer: bytes) -> VADState:
        """Analyze like Silero, then announce pause starts and resumes."""
        state = await super().analyze_audio(buffer)
        last, self._last_state = self._last_state, state
        if state == VADState.STARTING and last == VADState.QUIET:
            for listener in self._onset_listeners:
                await listener.on_voice_onset()
        elif state == VADState.QUIET and last == VADState.STARTING:
            for listener in self._onset_listeners:
                await listener.on_voice_lost()
        if state == VADState.STOPPING:
            silence = self._vad_stopping_count * self.window_secs()
            if not self._paused and silence >= self._pause_secs - 1e-6:
                self._paused = True
                for listener in self._listeners:
                    await listener.on_speech_pause(silence)
        elif self._paused:
            self._paused = False
            if state == VADState.SPEAKING:
                for listener in self._listeners:
                    await listener.on_speech_resume()
        return state


class SpeculativeSmartTurnV3(LocalSmartTurnAnalyzerV3):
    """Smart-turn v3 that scores the turn at the pause start instead of at the VAD stop.

    On ``on_speech_pause`` it runs the model on the audio so far, padded with digital
    silence up to ``stop_secs`` (what it would have heard at the VAD stop); the next
    ``analyze_end_of_turn`` returns that verdict unless the user spoke in between.
    """

    def __init__(self, *, stop_secs: float, **kwargs: Any):
        """Initialize the analyzer.

        Args:
            stop_secs: The VAD's stop_secs (``EchoSettings.vad_stop_secs``): the silence
                the verdict is computed with.
            **kwargs: Passed to ``LocalSmartTurnAnalyzerV3`` (``params=``).
        """
        super().__init__(**kwargs)
        self._vad_stop_secs = stop_secs
        self._speculation: asyncio.Future | None = None
        self.speculations = 0  # verdicts computed at a pause
        self.hits = 0  # ... and used at the VAD stop

    async def on_speech_pause(self, silence_secs: float) -> None:
        """Score the audio so far (plus the silence still to come) in the model thread."""
        if not self._audio_buffer or not self._speech_triggered:
            return
        buffer = list(self._audio_buffer)
        missing = max(0.0, self._vad_stop_secs - silence_secs)
        if missing > 0 and self.sample_rate:
            stamp = buffer[-1][0]
            buffer.append((stamp, np.zeros(int(missing * self.sample_rate), dtype=np.int16)))
        loop = asyncio.get_running_loop()
        self._speculation = loop.run_in_executor(
            self._model_executor, self._process_speech_segment, buffer
        )
        self._speculation.add_done_callback(_consume_exception)
        self.speculations += 1

    async def on_speech_resume(self) -> None:
        """The user went on: the verdict is stale."""
        self._speculation = None

    async def analyze_end_of_turn(self) -> tuple[EndOfTurnState, MetricsData | None]:
        """The verdict computed at the pause if still valid, else a fresh one."""
        speculation, self._speculation = self._speculation, None
        if speculation is None:
            return await super().analyze_end_of_turn()
        try:
            state, result = await speculation
        except Exception:  # noqa: BLE001 - fall back to the ordinary path
            return await super().analyze_end_of_turn()
        self.hits += 1
        if state == EndOfTurnState.COMPLETE:
            self._clear(state)
        return state, result

    def _clear(self, turn_state: EndOfTurnState):
        self._speculation = None  # the audio it scored is gone with the buffer
        super()._clear(turn_state)
