"""Background noise mixed into speech at a chosen signal-to-noise ratio.

One place for the noise of Echo's test audio: ``scripts/synth_utterances.py`` (light white
noise at a random SNR) and ``echo-agent compare-stt`` (white or pink noise at fixed SNRs)
both mix it with :func:`mix_noise`.
"""

from __future__ import annotations

import numpy as np

NOISE_COLORS = ("white", "pink")


def pink_noise(length: int, rng: np.random.Generator) -> np.ndarray:
    """Unit-power pink (1/f power) noise: white noise shaped in the frequency domain."""
    if length <= 0:
        return np.zeros(0, dtype=np.float32)
    spectrum = np.fft.rfft(rng.standard_normal(length))
    freqs = np.arange(len(spectrum), dtype=np.float64)
    freqs[0] = 1.0
    spectrum = spectrum / np.sqrt(freqs)
    spectrum[0] = 0.0  # no DC offset
    noise = np.fft.irfft(spectrum, n=length)
    rms = float(np.sqrt(np.mean(noise**2))) or 1.0
    return (noise / rms).astype(np.float32)


def speech_power(audio: np.ndarray, *, frame: int = 320, floor_db: float = 30.0) -> float:
    """Mean power of the voiced part: 20 ms frames within ``floor_db`` of the loudest.

    Leading and trailing silence (a VAD-cut clip has some) would otherwise lower the
    power and make the noise quieter than the SNR says.
    """
    samples = np.asarray(audio, dtype=np.float64).reshape(-1)
    usable = len(samples) // frame * frame
    if usable == 0:
        return float(np.mean(samples**2)) if len(samples) else 0.0
    powers = np.mean(samples[:usable].reshape(-1, frame) ** 2, axis=1)
    loud = powers[powers >= powers.max() * 10 ** (-floor_db / 10)]
    return float(np.mean(loud))


def mix_noise(
    audio: np.ndarray,
    snr_db: float,
    rng: np.random.Generator,
    *,
    color: str = "white",
    power: float | None = None,
) -> np.ndarray:
    """``audio`` plus noise ``snr_db`` below its power (float32 out, not clipped).

    Args:
        audio: Mono float32 samples.
        snr_db: Signal-to-noise ratio in dB.
        rng: Source of the noise (seed it for repeatable audio).
        color: "white" or "pink".
        power: Signal power the SNR refers to (default: :func:`speech_power`).

    Raises:
        ValueError: Unknown ``color``.
    """
    if color not in NOISE_COLORS:
        raise ValueError(f"unknown noise color {color!r}: use one of {', '.join(NOISE_COLORS)}")
    audio = np.asarray(audio, dtype=np.float32)
    if power is None:
        power = speech_power(audio) or 1e-8
    if color == "white":
        noise = rng.standard_normal(len(audio)).astype(np.float32)
    else:
        noise = pink_noise(len(audio), rng)
    return audio + noise * np.float32(np.sqrt(power / (10 ** (snr_db / 10))))
