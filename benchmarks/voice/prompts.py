"""The bench's scripted prompts, synthesized locally with the bundled Piper voice.

Two sets:

* ``short`` — the ten short prompts of the latency lab: five general questions and five
  clinic requests, each one breath long.
* ``paused`` — requests with a natural mid-sentence pause (``I'd like to book … [400 ms]
  … an appointment with Doctor Patel``): each part is synthesized on its own, the parts
  before a pause ending in a comma so they keep a non-final (continuation) intonation, and
  joined with the pause between them. (Until bench prompts v4 the whole sentence was
  synthesized and cut near the estimated word boundary; the estimate sometimes split a word
  — "book an ap… [pause] …pointment" — which no turn detector can be blamed for.) A turn
  detector that ends the turn in the pause cuts the user off.

Audio is synthesized once and cached as WAV under ``<cache_dir>`` (keyed by voice, text
and pause), trimmed so the last sample is the end of speech: the bench dates "the end of
the user's speech as sent" from it.
"""

from __future__ import annotations

import hashlib
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vocabulary.evaluation import edit_distance, wer_words

# Peak (int16) above which a 10 ms window counts as voiced (≈ −40 dBFS).
VOICED_PEAK = 330
WINDOW_SECS = 0.01


@dataclass(frozen=True)
class Prompt:
    """One thing the scripted caller says.

    Attributes:
        id: Short stable name (CSV key).
        parts: The spoken pieces; more than one means a pause between each.
        pause_secs: Silence between the pieces.
        kind: ``short`` or ``paused``.
    """

    id: str
    parts: tuple[str, ...]
    pause_secs: float = 0.0
    kind: str = "short"

    @property
    def text(self) -> str:
        """The whole sentence, pieces joined."""
        return " ".join(self.parts)

    @property
    def paused(self) -> bool:
        """Whether the prompt has a mid-sentence pause."""
        return len(self.parts) > 1


SHORT: tuple[Prompt, ...] = (
    Prompt("capital", ("What is the capital of France?",)),
    Prompt("spell", ("Spell mississippi.",)),
    Prompt("time", ("What time is it?",)),
    Prompt("joke", ("Tell me a joke.",)),
    Prompt("thanks", ("Thank you, that's all.",)),
    Prompt("book", ("I'd like to book an appointment with Doctor Patel.",)),
    Prompt("derm", ("Do you have a dermatologist available next week?",)),
    Prompt("mine", ("What appointments do I have?",)),
    Prompt("cancel", ("I need to cancel my appointment.",)),
    Prompt("nguyen", ("Is Doctor Nguyen free on Friday morning?",)),
)

PAUSED: tuple[Prompt, ...] = (
    Prompt("p-book", ("I'd like to book", "an appointment with Doctor Patel."), 0.4, "paused"),
    Prompt("p-derm", ("Can I see", "a dermatologist next Tuesday?"), 0.4, "paused"),
    Prompt("p-cancel", ("My appointment on Monday", "I need to cancel it."), 0.5, "paused"),
    Prompt(
        "p-nguyen",
        ("Could you check", "if Doctor Nguyen has anything open on Friday?"),
        0.6,
        "paused",
    ),
    Prompt("p-med", ("The medication I take is", "lisinopril."), 0.5, "paused"),
)

PROMPT_SETS: dict[str, tuple[Prompt, ...]] = {
    "short": SHORT,
    "paused": PAUSED,
    "all": SHORT + PAUSED,
}
# The frozen held-out set (``benchmarks/voice/heldout.py``), read from its file when asked for.
HELDOUT_SETS = (
    "heldout",
    "heldout-short",
    "heldout-paused",
    "heldout2",
    "heldout2-short",
    "heldout2-paused",
    "heldout3",
    "heldout3-short",
    "heldout3-paused",
    "heldout4",
    "heldout4-short",
    "heldout4-paused",
)
SET_NAMES = (*PROMPT_SETS, *HELDOUT_SETS)


def prompt_set(name: str) -> tuple[Prompt, ...]:
    """The prompts of a named set: a tuning set here, or the frozen held-out set.

    Raises:
        ValueError: Unknown set name.
    """
    if name in PROMPT_SETS:
        return PROMPT_SETS[name]
    if name not in HELDOUT_SETS:
        raise ValueError(f"unknown prompt set '{name}': use one of {', '.join(SET_NAMES)}")
    from benchmarks.voice.heldout import (
        HELDOUT2_PATH,
        HELDOUT3_PATH,
        HELDOUT4_PATH,
        HELDOUT_PATH,
        load,
    )

    base, _, part = name.partition("-")
    paths = {"heldout2": HELDOUT2_PATH, "heldout3": HELDOUT3_PATH, "heldout4": HELDOUT4_PATH}
    prompts = tuple(load(paths.get(base, HELDOUT_PATH)))
    if part == "short":
        return tuple(p for p in prompts if not p.paused)
    if part == "paused":
        return tuple(p for p in prompts if p.paused)
    return prompts


def select(name: str, limit: int | None = None, only: list[str] | None = None) -> list[Prompt]:
    """The prompts of a set (``short``, ``paused``, ``all`` or a held-out set).

    Args:
        name: The set (:data:`SET_NAMES`).
        limit: Keep the first ``limit``.
        only: Keep these prompt ids (in this order), from any set.

    Raises:
        ValueError: Unknown set name or prompt id, or a limit below 1.
    """
    pool = prompt_set(name)
    if limit is not None and limit < 1:
        raise ValueError("--limit must be at least 1")
    if only:
        by_id = {p.id: p for p in (*PROMPT_SETS["all"], *pool)}
        unknown = [i for i in only if i not in by_id]
        if unknown:
            raise ValueError(f"unknown prompt id(s) {', '.join(unknown)}: use {', '.join(by_id)}")
        prompts = [by_id[i] for i in only]
    else:
        prompts = list(pool)
    return prompts[:limit] if limit else prompts


def words(text: str) -> list[str]:
    """Lower-case words without punctuation, ``dr`` spelled ``doctor`` (for WER)."""
    return wer_words(text)


def word_error_rate(reference: str, hypothesis: str) -> float:
    """Word-level edit distance over the reference length (1.0 when nothing was heard)."""
    ref, hyp = wer_words(reference), wer_words(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return edit_distance(ref, hyp) / len(ref)


def voiced_bounds(pcm: np.ndarray, rate: int) -> tuple[int, int]:
    """First and one-past-last sample of the voiced region (10 ms windows above −40 dBFS).

    Raises:
        ValueError: The audio has no voiced window.
    """
    step = max(1, int(rate * WINDOW_SECS))
    n = len(pcm) // step
    if n == 0:
        raise ValueError("audio is shorter than one 10 ms window")
    peaks = np.abs(pcm[: n * step].astype(np.int32)).reshape(n, step).max(axis=1)
    voiced = np.flatnonzero(peaks > VOICED_PEAK)
    if len(voiced) == 0:
        raise ValueError("audio has no voiced window")
    return int(voiced[0] * step), int(min(len(pcm), (voiced[-1] + 1) * step))


def trim(pcm: np.ndarray, rate: int) -> np.ndarray:
    """The voiced region only: no leading or trailing silence."""
    start, end = voiced_bounds(pcm, rate)
    return pcm[start:end]


@dataclass
class PromptAudio:
    """A prompt's audio: int16 mono PCM ending on the last voiced sample."""

    prompt: Prompt
    pcm: np.ndarray
    rate: int

    @property
    def duration(self) -> float:
        """Seconds of audio."""
        return len(self.pcm) / self.rate


@dataclass(frozen=True)
class BenchVoice:
    """A caller's voice: an engine and its pace.

    Attributes:
        name: Label in the CSV and report.
        engine: ``piper`` (the bundled voice) or ``espeak`` (espeak-ng).
        pace: Piper ``length_scale`` (below 1 is faster) or espeak-ng words per minute.
        espeak_voice: espeak-ng voice name.
    """

    name: str
    engine: str
    pace: float
    espeak_voice: str = "en-us"


VOICES: dict[str, BenchVoice] = {
    "piper": BenchVoice("piper", "piper", 1.0),
    "piper-fast": BenchVoice("piper-fast", "piper", 0.8),
    "espeak": BenchVoice("espeak", "espeak", 160, "en-us"),
    "espeak-f": BenchVoice("espeak-f", "espeak", 145, "en-us+f3"),
}


def voices(names: list[str]) -> list[BenchVoice]:
    """The named voices.

    Raises:
        ValueError: An unknown name, or none.
    """
    unknown = [n for n in names if n not in VOICES]
    if unknown or not names:
        named = ", ".join(unknown) or "(none)"
        raise ValueError(f"unknown voice(s) {named}: use {', '.join(VOICES)}")
    return [VOICES[n] for n in names]


def espeak_pcm(text: str, voice: str, wpm: float) -> tuple[np.ndarray, int]:
    """Speak ``text`` with espeak-ng; int16 mono PCM and its rate.

    Raises:
        RuntimeError: espeak-ng is missing or failed.
    """
    import shutil
    import subprocess
    import tempfile

    if shutil.which("espeak-ng") is None:
        raise RuntimeError("espeak-ng is not installed (Debian package espeak-ng)")
    with tempfile.NamedTemporaryFile(suffix=".wav") as tmp:
        cmd = ["espeak-ng", "-v", voice, "-s", str(int(wpm)), "-w", tmp.name, text]
        done = subprocess.run(cmd, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"espeak-ng failed: {done.stderr.strip()[:200]}")
        return read_wav(Path(tmp.name))


class PromptSynthesizer:
    """Synthesizes prompts with a caller voice and caches them as WAV files."""

    def __init__(self, voice_name: str, cache_dir: Path, voice: BenchVoice | None = None):
        """Initialize.

        Args:
            voice_name: The bundled Piper voice (see ``models.PIPER_VOICES``).
            cache_dir: Where WAVs are cached.
            voice: The caller voice (default: that Piper voice at its own pace).
        """
        self.voice_name = voice_name
        self.cache_dir = Path(cache_dir)
        self.voice = voice or VOICES["piper"]
        self._voice = None

    def _load(self):
        if self._voice is None:
            from piper import PiperVoice

            from models import piper_voice_dir

            path = piper_voice_dir(self.voice_name) / f"{self.voice_name}.onnx"
            self._voice = PiperVoice.load(path)
        return self._voice

    def _speak(self, text: str) -> tuple[np.ndarray, int]:
        if self.voice.engine == "espeak":
            pcm, rate = espeak_pcm(text, self.voice.espeak_voice, self.voice.pace)
            return trim(pcm, rate), rate
        from piper import SynthesisConfig

        voice = self._load()
        rate = voice.config.sample_rate
        config = SynthesisConfig(length_scale=self.voice.pace)
        chunks = [
            np.frombuffer(c.audio_int16_bytes, np.int16) for c in voice.synthesize(text, config)
        ]
        return trim(np.concatenate(chunks), rate), rate

    def cache_path(self, prompt: Prompt) -> Path:
        """Where a prompt's WAV is cached."""
        speaker = self.voice_name if self.voice == VOICES["piper"] else repr(self.voice)
        key = f"v4|{speaker}|{'|'.join(prompt.parts)}|{prompt.pause_secs:.3f}"
        digest = hashlib.sha256(key.encode()).hexdigest()[:16]
        return self.cache_dir / f"{prompt.id}-{digest}.wav"

    def audio(self, prompt: Prompt) -> PromptAudio:
        """The prompt's audio, from the cache or synthesized (then cached)."""
        path = self.cache_path(prompt)
        if path.exists():
            pcm, rate = read_wav(path)
            return PromptAudio(prompt, pcm, rate)
        if prompt.paused:
            pieces = []
            for k, part in enumerate(prompt.parts):
                last = k == len(prompt.parts) - 1
                text = part if last or part.endswith((",", ".", "?", "!")) else part + ","
                piece, rate = self._speak(text)
                pieces.append(piece)
                if not last:
                    pieces.append(np.zeros(int(rate * prompt.pause_secs), np.int16))
            pcm = np.concatenate(pieces)
        else:
            pcm, rate = self._speak(prompt.text)
        self.cache_dir.mkdir(parents=True, exist_ok=True)
        write_wav(path, pcm, rate)
        return PromptAudio(prompt, pcm, rate)


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """Int16 mono PCM and its rate from a WAV file.

    Raises:
        ValueError: Not 16-bit mono.
    """
    with wave.open(str(path), "rb") as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise ValueError(f"{path}: expected 16-bit mono WAV")
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16), w.getframerate()


def write_wav(path: Path, pcm: np.ndarray, rate: int) -> Path:
    """Write int16 mono PCM as WAV (via a temp file, so a crash leaves no half file)."""
    tmp = path.with_suffix(".tmp")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.astype(np.int16).tobytes())
    tmp.replace(path)
    return path
