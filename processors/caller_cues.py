"""Frustration cues from what the caller says and how they say it.

For every final transcription the processor measures the caller's audio since the previous
one: loudness (RMS of the voiced frames, dBFS), pitch (median autocorrelation F0 of voiced
frames) and speech rate (words per voiced second), and compares them with the caller's own
baseline (the median of their earlier turns, so a loud voice is not taken for an angry one).
With the text cues — negative wording (VADER's lexicon) and repeating the previous request —
they decide ``frustrated``. The cues go into the frame's metadata (``echo.cues``, kept by the
audit trail) and to an optional listener (the local brain, which then acknowledges the
frustration and offers a person). The measurements are plain functions; the processor is a
thin adapter that passes every frame through.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from typing import Any

import numpy as np
from pipecat.frames.frames import Frame, InputAudioRawFrame, TranscriptionFrame
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

CUES_KEY = "echo.cues"
MAX_SECONDS = 15.0
_FRAME_S = 0.04


def voiced_frames(samples: np.ndarray, rate: int) -> np.ndarray:
    """The 40 ms frames (rows, float in -1..1) louder than the recording's own noise floor."""
    n = int(rate * _FRAME_S)
    if len(samples) < n:
        return np.zeros((0, n), dtype=np.float32)
    frames = samples[: len(samples) // n * n].reshape(-1, n)
    rms = np.sqrt((frames**2).mean(axis=1) + 1e-12)
    floor = np.percentile(rms, 20)
    return frames[(rms > max(floor * 3.0, 0.01))]


def pitch_hz(frame: np.ndarray, rate: int, lo: float = 75.0, hi: float = 400.0) -> float | None:
    """Autocorrelation F0 of one voiced frame, or None when it is not periodic enough."""
    x = frame - frame.mean()
    corr = np.correlate(x, x, mode="full")[len(x) - 1 :]
    if corr[0] <= 0:
        return None
    lag_lo, lag_hi = int(rate / hi), min(int(rate / lo), len(corr) - 1)
    if lag_hi <= lag_lo:
        return None
    lag = lag_lo + int(np.argmax(corr[lag_lo:lag_hi]))
    return rate / lag if corr[lag] / corr[0] > 0.3 else None


def measure(samples: np.ndarray, rate: int, words: int) -> dict[str, float] | None:
    """Loudness (dBFS), pitch (Hz) and rate (words per voiced second) of one turn's audio."""
    voiced = voiced_frames(samples, rate)
    if len(voiced) < 5:
        return None
    rms = float(np.sqrt((voiced**2).mean()))
    pitches = [p for p in (pitch_hz(f, rate) for f in voiced) if p is not None]
    return {
        "loudness_db": round(20 * np.log10(max(rms, 1e-6)), 1),
        "pitch_hz": round(float(np.median(pitches)), 1) if pitches else 0.0,
        "rate_wps": round(words / (len(voiced) * _FRAME_S), 2),
    }


def judge(
    now: dict[str, float] | None,
    history: list[dict[str, float]],
    *,
    negativity: float,
    repeated: bool,
) -> dict[str, Any]:
    """The cues of one turn against the caller's baseline, and whether they add up.

    Frustrated: strongly negative wording; or saying the same request again (they were not
    understood); or a raised voice (≥ 6 dB louder and ≥ 20 % higher pitch than the caller's
    own median) with some negative wording. Audio alone never decides: a caller who speaks up
    on a bad line is not angry.
    """
    cues: dict[str, Any] = {"text_negativity": round(negativity, 2), "repeated": repeated}
    raised = False
    if now is not None:
        cues.update(now)
        if len(history) >= 2:
            base_db = float(np.median([h["loudness_db"] for h in history]))
            pitched = [h["pitch_hz"] for h in history if h["pitch_hz"]]
            base_f0 = float(np.median(pitched)) if pitched else 0.0
            louder = now["loudness_db"] - base_db >= 6.0
            higher = bool(base_f0 and now["pitch_hz"] >= 1.2 * base_f0)
            raised = louder and higher
            cues["baseline"] = {"loudness_db": round(base_db, 1), "pitch_hz": round(base_f0, 1)}
    cues["raised_voice"] = raised
    cues["frustrated"] = bool(negativity >= 0.5 or repeated or (raised and negativity >= 0.2))
    return cues


class CallerCuesProcessor(FrameProcessor):
    """Adds ``echo.cues`` to each final transcription (and tells ``on_cues``).

    Args:
        on_cues: Called with ``(text, cues)`` before the transcription is pushed on.
        **kwargs: Passed to ``FrameProcessor``.
    """

    def __init__(self, *, on_cues: Callable[[str, dict], None] | None = None, **kwargs):
        super().__init__(**kwargs)
        self._on_cues = on_cues
        self._chunks: list[np.ndarray] = []
        self._seconds = 0.0
        self._rate = 16000
        self._history: list[dict[str, float]] = []
        self._previous = ""

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        """Keep the caller's audio; add cues to final transcriptions; pass everything on."""
        await super().process_frame(frame, direction)
        if isinstance(frame, InputAudioRawFrame):
            self._keep(frame)
        elif isinstance(frame, TranscriptionFrame) and frame.text.strip():
            self._add_cues(frame)
        await self.push_frame(frame, direction)

    def _keep(self, frame: InputAudioRawFrame) -> None:
        pcm = np.frombuffer(frame.audio, dtype=np.int16)
        if frame.num_channels > 1:
            pcm = pcm[:: frame.num_channels]
        self._rate = frame.sample_rate
        self._chunks.append(pcm.astype(np.float32) / 32768.0)
        self._seconds += len(pcm) / frame.sample_rate
        while self._seconds > MAX_SECONDS and len(self._chunks) > 1:
            self._seconds -= len(self._chunks.pop(0)) / self._rate

    def _add_cues(self, frame: TranscriptionFrame) -> None:
        from clinic.understanding.cues import frustration_score

        text = frame.text.strip()
        samples = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.float32)
        self._chunks, self._seconds = [], 0.0
        now = measure(samples, self._rate, len(text.split()))
        repeated = len(text.split()) >= 3 and (
            difflib.SequenceMatcher(None, text.lower(), self._previous.lower()).ratio() >= 0.8
        )
        cues = judge(now, self._history, negativity=frustration_score(text), repeated=repeated)
        if now is not None:
            self._history.append(now)
        self._previous = text
        frame.metadata[CUES_KEY] = cues
        if self._on_cues is not None:
            self._on_cues(text, cues)
