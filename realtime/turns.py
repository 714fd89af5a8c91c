"""Server-side turn detection: a small state machine over per-window voice confidences.

The model (Silero) scores fixed windows of 16 kHz audio; this module turns the scores into
"speech started at t" / "speech stopped at t" decisions in audio time, so the events carry
exact ``audio_start_ms`` / ``audio_end_ms`` and the logic is testable without audio.
"""

from __future__ import annotations

from dataclasses import dataclass

VAD_RATE = 16000
WINDOW = 512  # Silero's window at 16 kHz
WINDOW_MS = WINDOW * 1000 / VAD_RATE  # 32 ms

# Semantic VAD: how long a silence is before the end-of-turn model is asked, and the longest
# the server waits for more when the model says the turn is not finished ("eagerness").
SEMANTIC_CHECK_MS = 250
SEMANTIC_MAX_WAIT_MS = {"low": 8000, "medium": 4000, "auto": 3000, "high": 2000}


@dataclass
class TurnEvent:
    """A turn-detection decision, in ms of session audio."""

    kind: str  # "start" | "stop"
    at_ms: int


class TurnDetector:
    """Hysteresis over voice confidence.

    Speech starts after ``start_ms`` of windows at or above the threshold and stops after
    ``silence_ms`` of windows below it.

    Args:
        threshold: Confidence at or above which a window counts as speech (0..1).
        silence_ms: Non-speech needed to end the speech.
        start_ms: Speech needed to start it (filters clicks).

    """

    def __init__(self, *, threshold: float, silence_ms: int, start_ms: int = 64):
        self.threshold = threshold
        self.silence_ms = silence_ms
        self.start_ms = start_ms
        self.speaking = False
        self._windows = 0  # windows seen since the session started
        self._run_start: int | None = None  # first window of the current speech run
        self._last_speech: int | None = None  # last window scored as speech

    def reconfigure(self, *, threshold: float, silence_ms: int) -> None:
        """Change the thresholds without losing the current state."""
        self.threshold = threshold
        self.silence_ms = silence_ms

    def reset(self) -> None:
        """Forget any speech in progress (the buffer was cleared)."""
        self.speaking = False
        self._run_start = None
        self._last_speech = None

    def _ms(self, window: int) -> int:
        return int(round(window * WINDOW_MS))

    def push(self, confidence: float) -> TurnEvent | None:
        """Score one window; returns a start/stop decision when one is made."""
        w = self._windows
        self._windows += 1
        speech = confidence >= self.threshold
        if not self.speaking:
            if not speech:
                self._run_start = None
                return None
            if self._run_start is None:
                self._run_start = w
            self._last_speech = w
            if self._ms(w + 1 - self._run_start) >= self.start_ms:
                self.speaking = True
                return TurnEvent("start", self._ms(self._run_start))
            return None
        if speech:
            self._last_speech = w
            return None
        assert self._last_speech is not None
        if self._ms(w + 1 - (self._last_speech + 1)) >= self.silence_ms:
            self.speaking = False
            self._run_start = None
            return TurnEvent("stop", self._ms(self._last_speech + 1))
        return None
