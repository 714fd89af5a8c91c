"""``echo-agent compare-stt``: every available STT on the same clips, at several noise levels.

Each clip (a WAV with its reference sentence and terms, the utterance TSV of
``eval-vocab``) is decoded clean and with white or pink noise mixed in at each SNR
(:func:`speech.noise.mix_noise`, seeded per clip and level, so reruns hear the same
audio). The STTs:

* every bundled Whisper model (``tiny.en``, ``base``: :mod:`models`) through Echo's
  :class:`~speech.transcriber.Transcriber` configured as the pipeline configures it
  (vocabulary-biased second pass, then the corrector), and with ``plain`` also as plain
  one-pass Whisper (beam 5, no vocabulary);
* Deepgram's prerecorded REST API (``DEEPGRAM_API_KEY``; the vocabulary as ``keyterm``,
  then Echo's corrector, as the pipeline runs it), through Deepgram's own SDK.

Per STT × noise level: WER, term accuracy and invented terms (the definitions of
:mod:`vocabulary.evaluation`) and the time per clip (p50/p95). An STT that cannot run is a
row marked ``skipped`` with what it needs. Table, CSV and PNG: :mod:`speech.reporting`.
"""

from __future__ import annotations

import io
import time
import wave
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from speech.noise import mix_noise
from vocabulary.evaluation import (
    EvaluationError,
    Utterance,
    load_wav,
    percentile,
    score,
    term_outcome,
)

if TYPE_CHECKING:
    from config import EchoSettings
    from vocabulary.lexicon import Lexicon

STT_COLUMNS = (
    "stt",
    "noise",
    "status",
    "clips",
    "wer",
    "term_accuracy",
    "terms_found",
    "terms_said",
    "invented_terms",
    "time_p50_ms",
    "time_p95_ms",
    "note",
)
WHISPER_NAMES = ("tiny.en", "base")
DEEPGRAM_URL = "https://api.deepgram.com"
RATE = 16000


@dataclass(frozen=True)
class Clip:
    """One WAV and what was said in it."""

    utterance: Utterance
    path: Path


@dataclass
class SttEngine:
    """One STT to compare: ``transcribe(audio) -> text``, or why it cannot run.

    Attributes:
        name: Row label ("tiny.en", "tiny.en plain", "deepgram").
        note: What it is (model, biasing, correction).
        transcribe: Mono float32 16 kHz audio → final transcript; None when skipped.
        skipped: Why it cannot run (e.g. "no key: set DEEPGRAM_API_KEY").
    """

    name: str
    note: str
    transcribe: Callable[[np.ndarray], str] | None = None
    skipped: str | None = None


# --- inputs --------------------------------------------------------------------------------


def parse_snrs(text: str) -> list[float | None]:
    """``"none,20,10"`` → ``[None, 20.0, 10.0]`` (None: the clean clip).

    Raises:
        ValueError: An item is neither "none"/"clean" nor a number.
    """
    levels: list[float | None] = []
    for item in (part.strip().lower() for part in text.split(",")):
        if not item:
            continue
        if item in ("none", "clean"):
            levels.append(None)
            continue
        try:
            levels.append(float(item.removesuffix("db")))
        except ValueError:
            raise ValueError(f"bad SNR {item!r}: use numbers in dB or 'none'") from None
    if not levels:
        raise ValueError("no noise level given")
    return list(dict.fromkeys(levels))


def noise_label(snr: float | None, color: str) -> str:
    """Row label of a noise level: "none" or "20 dB white"."""
    return "none" if snr is None else f"{snr:g} dB {color}"


def resolve_clips(
    utterances: Sequence[Utterance],
    *,
    audio_dir: Path | None = None,
    wavs: Sequence[Path] = (),
) -> list[Clip]:
    """Pair reference sentences with WAVs.

    With ``wavs``, each file is matched to the utterance whose id is its stem; otherwise
    every utterance's ``<audio_dir>/<id>.wav`` is used.

    Raises:
        EvaluationError: A WAV is missing, or a WAV has no utterance row.
    """
    by_id = {u.id: u for u in utterances}
    if wavs:
        clips = []
        for path in wavs:
            if path.stem not in by_id:
                raise EvaluationError(f"{path}: no utterance with id '{path.stem}' in the TSV")
            clips.append(Clip(by_id[path.stem], path))
    elif audio_dir is not None:
        clips = [Clip(u, audio_dir / f"{u.id}.wav") for u in utterances]
    else:
        raise EvaluationError("give WAV files or --audio-dir")
    missing = [str(c.path) for c in clips if not c.path.is_file()]
    if missing:
        raise EvaluationError(f"{len(missing)} WAV file(s) missing, e.g. {missing[0]}")
    return clips


def noisy(audio: np.ndarray, snr: float | None, color: str, uid: str, seed: int) -> np.ndarray:
    """The clip at one noise level: the same noise for the same clip, level and seed."""
    if snr is None:
        return audio
    rng = np.random.default_rng(zlib.crc32(f"{seed}:{uid}:{snr:g}:{color}".encode()))
    mixed = mix_noise(audio, snr, rng, color=color)
    peak = float(np.max(np.abs(mixed))) if len(mixed) else 0.0
    return mixed * np.float32(0.99 / peak) if peak > 0.99 else mixed


def wav_bytes(audio: np.ndarray, rate: int = RATE) -> bytes:
    """Mono float32 audio as a 16-bit PCM WAV file in memory."""
    pcm = (np.clip(audio, -1.0, 1.0) * 32767.0).astype(np.int16)
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(pcm.tobytes())
    return buffer.getvalue()


# --- the STTs ------------------------------------------------------------------------------


def whisper_engines(
    settings: EchoSettings, lexicon: Lexicon, names: Sequence[str], *, plain: bool
) -> list[SttEngine]:
    """Echo's Transcriber (and plain Whisper) per bundled model; missing ones skipped."""
    from models import ModelNotFoundError, whisper_model_dir

    engines = []
    for name in names:
        try:
            path = whisper_model_dir(name, cache_dir=settings.models_dir())
        except ModelNotFoundError as exc:
            engines.append(SttEngine(name, "", skipped=f"not installed: {exc}"))
            if plain:
                engines.append(SttEngine(f"{name} plain", "", skipped="not installed"))
            continue
        engines += _whisper_pair(settings, lexicon, name, path, plain)
    return engines


def _whisper_pair(
    settings: EchoSettings, lexicon: Lexicon, name: str, path: str, plain: bool
) -> list[SttEngine]:
    """Echo's path for one model (loaded on first use) and, optionally, plain Whisper."""
    from vocabulary.cli import build_transcriber

    loaded: dict[str, Any] = {}

    def echo() -> Any:
        if "echo" not in loaded:
            model_settings = settings.model_copy(update={"whisper_model": path})
            loaded["echo"] = build_transcriber(model_settings, lexicon, correction=True)
        return loaded["echo"]

    def plain_stt() -> Any:
        if "plain" not in loaded:
            from speech.transcriber import Transcriber

            shared = echo()  # the same loaded model, no vocabulary: one pass, beam 5
            loaded["plain"] = Transcriber(
                shared.model, pad_seconds=shared.pad_seconds, lexicon=None
            )
        return loaded["plain"]

    engines = [
        SttEngine(
            name,
            f"faster-whisper {name} {settings.whisper_compute_type}: Echo's Transcriber "
            "(biased second pass + corrector)",
            transcribe=lambda audio: echo().transcribe(audio).text,
        )
    ]
    if plain:
        engines.append(
            SttEngine(
                f"{name} plain",
                f"faster-whisper {name}: one pass, beam 5, no vocabulary",
                transcribe=lambda audio: plain_stt().transcribe(audio).text,
            )
        )
    return engines


def deepgram_engines(
    settings: EchoSettings, lexicon: Lexicon, *, plain: bool, base_url: str = DEEPGRAM_URL
) -> list[SttEngine]:
    """Deepgram's prerecorded API (keyterms + Echo's corrector), skipped without a key."""
    from vocabulary.correction import DEFAULT_THRESHOLD, correct
    from vocabulary.keyterms import keyterms

    model = settings.deepgram_model
    key = settings.secret("deepgram_api_key")
    if not key:
        names = ["deepgram", "deepgram plain"] if plain else ["deepgram"]
        why = "no key: set DEEPGRAM_API_KEY"
        return [SttEngine(n, f"deepgram {model}", skipped=why) for n in names]
    terms = keyterms(lexicon)[:100]
    client = deepgram_client(key, base_url)

    def listen(audio: np.ndarray, boost: list[str] | None) -> str:
        response = client.listen.v1.media.transcribe_file(
            request=wav_bytes(audio), model=model, language="en-US", smart_format=True,
            keyterm=boost or None,
        )  # fmt: skip
        return response.results.channels[0].alternatives[0].transcript or ""

    def echo(audio: np.ndarray) -> str:
        text = listen(audio, terms)
        if settings.vocabulary_correction and text:
            text = correct(text, lexicon, threshold=DEFAULT_THRESHOLD).text
        return text

    engines = [
        SttEngine(
            "deepgram",
            f"deepgram {model} prerecorded: {len(terms)} keyterms + Echo's corrector",
            transcribe=echo,
        )
    ]
    if plain:
        engines.append(
            SttEngine(
                "deepgram plain",
                f"deepgram {model} prerecorded, no vocabulary",
                transcribe=lambda audio: listen(audio, None),
            )
        )
    return engines


def deepgram_client(key: str, base_url: str = DEEPGRAM_URL) -> Any:
    """Deepgram's SDK client for ``base_url`` (its REST API, or a server speaking it)."""
    from deepgram import DeepgramClient
    from deepgram.environment import DeepgramClientEnvironment

    base = base_url.rstrip("/")
    ws = "ws" + base.removeprefix("http")
    environment = DeepgramClientEnvironment(base=base, production=ws, agent=ws, agent_rest=base)
    return DeepgramClient(api_key=key, environment=environment)


# --- the comparison ------------------------------------------------------------------------


def compare_stt(
    engines: Sequence[SttEngine],
    clips: Sequence[Clip],
    snrs: Sequence[float | None],
    lexicon: Lexicon,
    *,
    color: str = "white",
    seed: int = 7,
    progress: Callable[[str], None] | None = None,
) -> list[dict]:
    """One row per STT × noise level (skipped STTs: one row each, status ``skipped``).

    An STT that fails mid-way (a network error, an HTTP error) gets ``failed: ...`` rows
    and the comparison goes on with the next STT.
    """
    audio = {c.utterance.id: load_wav(c.path) for c in clips}
    rows: list[dict] = []
    for engine in engines:
        if engine.transcribe is None:
            rows.append(_row(engine, "-", status=f"skipped: {engine.skipped}"))
            continue
        try:
            rows += _measure(engine, clips, audio, snrs, lexicon, color, seed, progress)
        except Exception as exc:  # a cloud STT's network/HTTP error: report, go on
            status = f"failed: {type(exc).__name__}: {str(exc)[:200]}"
            rows += [_row(engine, noise_label(s, color), status=status) for s in snrs]
    return rows


def _measure(engine, clips, audio, snrs, lexicon, color, seed, progress) -> list[dict]:
    """The rows of one STT, one per noise level."""
    first = clips[0].utterance.id
    engine.transcribe(audio[first])  # untimed: loads the model, opens the connection
    rows = []
    for snr in snrs:
        label = noise_label(snr, color)
        if progress:
            progress(f"{engine.name} / {label}")
        results, times = [], []
        for clip in clips:
            uid = clip.utterance.id
            samples = noisy(audio[uid], snr, color, uid, seed)
            t0 = time.perf_counter()
            text = engine.transcribe(samples)
            times.append((time.perf_counter() - t0) * 1000)
            utt = clip.utterance
            results.append(scored_result(utt.text, utt.terms, text, lexicon))
        rows.append(_row(engine, label, results=results, times=times))
    return rows


def scored_result(ref: str, terms: Sequence[str], text: str, lexicon: Lexicon) -> dict:
    """One transcript in the shape :func:`vocabulary.evaluation.score` reads (stage "text")."""
    return {
        "ref": ref,
        "terms": list(terms),
        "text": text,
        "text_terms": term_outcome(terms, text, lexicon),
    }


def _row(
    engine: SttEngine,
    noise: str,
    *,
    results: list[dict] | None = None,
    times: list[float] | None = None,
    status: str = "ok",
) -> dict:
    row = dict.fromkeys(STT_COLUMNS)
    row.update(stt=engine.name, noise=noise, status=status, note=engine.note, clips=0)
    if results:
        s = score(results, "text")
        row.update(
            clips=len(results),
            wer=s["wer"],
            term_accuracy=s["term_accuracy"],
            terms_found=s["terms_found"],
            terms_said=s["terms_said"],
            invented_terms=s["false_terms"],
            time_p50_ms=round(percentile(times or [], 50), 1),
            time_p95_ms=round(percentile(times or [], 95), 1),
        )
    return row
