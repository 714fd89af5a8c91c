"""``echo-agent compare-tts``: every available TTS on the same sentences, heard back by Echo.

Each TTS runs as a Pipecat service in a real pipeline (``[probe, tts, probe]``): every
sentence goes in as a ``TTSSpeakFrame`` and the probes time its ``TTSAudioRawFrame`` s.
The TTSs:

* Piper (``LocalPiperTTSService``, the bundled voice, as the cascaded pipeline runs it;
  no phrase cache, so every sentence is synthesized);
* espeak-ng (:class:`speech.espeak_tts.EspeakTTSService`, the Debian binary);
* Cartesia (``CARTESIA_API_KEY``: Pipecat's ``CartesiaTTSService``, its WebSocket API);
* ElevenLabs is listed and reported as skipped (not wired in).

Per TTS: first-audio latency (``TTSSpeakFrame`` queued → first audio frame) p50/p95, the
real-time factor (time to the last audio frame / audio duration) and intelligibility: the
audio through Echo's STT (the tiny.en :class:`~speech.transcriber.Transcriber` with the
vocabulary, as the pipeline hears a caller) scored against the sentence — WER and term
accuracy of the names (:mod:`vocabulary.evaluation`).

The default sentences are clinic replies written for this comparison (in no evaluation
set); their provider, medication, specialty and procedure names come from the
vocabulary file at run time.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from pipecat.frames.frames import (
    ErrorFrame,
    Frame,
    StartFrame,
    TTSAudioRawFrame,
    TTSStoppedFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.services.tts_service import TTSService

from speech.compare import scored_result, wav_bytes
from speech.espeak_tts import EspeakTTSService
from vocabulary.evaluation import percentile, score

if TYPE_CHECKING:
    from config import EchoSettings
    from vocabulary.lexicon import Lexicon

TTS_COLUMNS = (
    "tts",
    "status",
    "sentences",
    "first_audio_p50_ms",
    "first_audio_p95_ms",
    "rtf_p50",
    "audio_s",
    "wer",
    "term_accuracy",
    "terms_found",
    "terms_said",
    "invented_terms",
    "note",
)
RATE = 16000
# Written for this comparison (in no evaluation set); {category} is filled from the vocabulary.
SENTENCE_TEMPLATES = (
    "{provider} can see you next Wednesday afternoon at three.",
    "Your refill of {medication} is ready at the front desk.",
    "I have moved your {specialty} appointment to Friday morning.",
    "Please come fifteen minutes early for your {procedure}.",
    "{provider} asked me to remind you to keep taking {medication}.",
    "The {specialty} nurse will call you back before five o'clock.",
    "We can book the {specialty} visit right after you see {provider}.",
    "Take the {medication} with breakfast and tell us about any side effects.",
)


@dataclass(frozen=True)
class Sentence:
    """A sentence to speak and the vocabulary terms in it."""

    text: str
    terms: tuple[str, ...]


def default_sentences(lexicon: Lexicon) -> list[Sentence]:
    """:data:`SENTENCE_TEMPLATES` filled with names from ``lexicon`` (spread, no repeats)."""
    used: dict[str, int] = {}
    sentences = []
    for template in SENTENCE_TEMPLATES:
        values, terms = {}, []
        for category in ("provider", "medication", "specialty", "procedure"):
            if "{" + category + "}" not in template:
                continue
            names = lexicon.terms_of(category)
            if not names:
                raise ValueError(f"the vocabulary has no '{category}' terms")
            k = used.get(category, 0)
            used[category] = k + 1
            values[category] = names[(5 * k + 1) % len(names)]
            terms.append(values[category])
        sentences.append(Sentence(template.format(**values), tuple(terms)))
    return sentences


def sentences_from_lines(lines: Sequence[str], lexicon: Lexicon) -> list[Sentence]:
    """Sentences given as text; their terms are the vocabulary terms found in them."""
    from vocabulary.correction import find_terms

    return [Sentence(line, tuple(find_terms(line, lexicon))) for line in lines]


# --- the TTSs ------------------------------------------------------------------------------


@dataclass
class TtsEngine:
    """One TTS to compare: a factory of its Pipecat service, or why it cannot run."""

    name: str
    note: str
    create: Callable[[], TTSService] | None = None
    skipped: str | None = None


def tts_engines(settings: EchoSettings, names: Sequence[str]) -> list[TtsEngine]:
    """The requested TTSs ("piper", "espeak", "cartesia", "elevenlabs")."""
    engines = []
    for name in names:
        if name == "piper":
            engines.append(TtsEngine("piper", f"piper {settings.piper_voice}", _piper(settings)))
        elif name == "espeak":
            if shutil.which("espeak-ng") is None:
                engines.append(
                    TtsEngine("espeak", "espeak-ng", skipped="not installed: espeak-ng (apt)")
                )
            else:
                engines.append(TtsEngine("espeak", "espeak-ng en-us 165 wpm", EspeakTTSService))
        elif name == "cartesia":
            engines.append(_cartesia(settings))
        elif name == "elevenlabs":
            why = "no key: set ELEVENLABS_API_KEY"
            if os.environ.get("ELEVENLABS_API_KEY"):
                why = "not wired into compare-tts yet (Cartesia is)"
            engines.append(TtsEngine("elevenlabs", "elevenlabs", skipped=why))
        else:
            raise ValueError(f"unknown TTS {name!r}: use piper, espeak, cartesia, elevenlabs")
    return engines


def _piper(settings: EchoSettings) -> Callable[[], TTSService]:
    def create() -> TTSService:
        from providers.local import LocalModels, LocalPiperTTSService

        return LocalPiperTTSService(
            voice=LocalModels(settings).piper(),
            voice_name=settings.piper_voice,
            split_clauses=settings.tts_split_clauses,
        )

    return create


def _cartesia(settings: EchoSettings) -> TtsEngine:
    """Cartesia as a call makes it (the provider registry; ``ECHO_CARTESIA_BASE_URL``)."""
    from providers import PROVIDERS, ProviderContext

    spec = PROVIDERS["tts"]["cartesia"]
    note = spec.model(settings)
    if missing := spec.missing_key(settings):
        return TtsEngine("cartesia", note, skipped=f"no key: set {missing}")
    return TtsEngine("cartesia", note, lambda: spec.create(ProviderContext(settings, None)))


# --- measuring one TTS in a pipeline -------------------------------------------------------


@dataclass
class Take:
    """One sentence as the probes saw it (times from ``perf_counter``)."""

    queued: float
    first_audio: float | None = None
    last_audio: float | None = None
    pcm: list[bytes] = field(default_factory=list)
    error: str | None = None
    done: asyncio.Event = field(default_factory=asyncio.Event)

    def seen(self, frame: Frame) -> None:
        """Note one frame from the pipeline."""
        now = time.perf_counter()
        if isinstance(frame, TTSAudioRawFrame) and frame.audio:
            self.first_audio = self.first_audio or now
            self.last_audio = now
            self.pcm.append(frame.audio)
        elif isinstance(frame, TTSStoppedFrame) and self.pcm:
            self.done.set()
        elif isinstance(frame, ErrorFrame):
            self.error = str(frame.error)[:200]
            self.done.set()


class TTSProbe(FrameProcessor):
    """Hands every frame it passes to ``on_frame`` (a thin adapter for timing)."""

    def __init__(self, *, on_frame: Callable[[Frame], None], **kwargs):
        """Initialize with the callback that sees every frame."""
        super().__init__(**kwargs)
        self._on_frame = on_frame

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        """Show the frame to the callback, then pass it on."""
        await super().process_frame(frame, direction)
        self._on_frame(frame)
        await self.push_frame(frame, direction)


async def speak_all(
    tts: TTSService, texts: Sequence[str], *, timeout: float = 60.0, warm_up: str = "Hello."
) -> list[Take]:
    """Speak each text through ``[probe, tts, probe]``; one :class:`Take` per text.

    ``warm_up`` is spoken first and not returned (the first synthesis loads things).

    Raises:
        RuntimeError: The pipeline did not start, or a sentence got no audio in time.
    """
    from pipecat.frames.frames import EndFrame, TTSSpeakFrame
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.pipeline.worker import PipelineParams, PipelineWorker
    from pipecat.workers.runner import WorkerRunner

    started = asyncio.Event()
    current: list[Take] = []

    def on_frame(frame: Frame) -> None:
        if isinstance(frame, StartFrame):
            started.set()
        elif current:
            current[-1].seen(frame)

    pipeline = Pipeline([TTSProbe(on_frame=on_frame), tts, TTSProbe(on_frame=on_frame)])
    worker = PipelineWorker(
        pipeline,
        params=PipelineParams(audio_out_sample_rate=RATE),
        idle_timeout_secs=None,
        enable_rtvi=False,
    )
    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    running = asyncio.create_task(runner.run())
    takes: list[Take] = []
    try:
        await asyncio.wait_for(started.wait(), timeout)
        for i, text in enumerate([warm_up, *texts]):
            current.append(Take(queued=time.perf_counter()))
            await worker.queue_frame(TTSSpeakFrame(text))
            try:
                await asyncio.wait_for(current[-1].done.wait(), timeout)
            except TimeoutError:
                raise RuntimeError(f"no audio within {timeout:g} s for sentence {i}") from None
            if current[-1].error:
                raise RuntimeError(current[-1].error)
            if i:
                takes.append(current[-1])
        await worker.queue_frame(EndFrame())
        await asyncio.wait_for(asyncio.shield(running), timeout)
    finally:
        if not running.done():
            await worker.cancel()
            await asyncio.wait_for(running, 10)
    return takes


# --- the comparison ------------------------------------------------------------------------


def compare_tts(
    engines: Sequence[TtsEngine],
    sentences: Sequence[Sentence],
    lexicon: Lexicon,
    transcribe: Callable[[np.ndarray], str],
    *,
    audio_dir: Path | None = None,
    timeout: float = 60.0,
    progress: Callable[[str], None] | None = None,
) -> list[dict]:
    """One row per TTS; skipped and failed TTSs get a row with their status.

    Args:
        engines: The TTSs.
        sentences: What each one says.
        lexicon: Vocabulary the term accuracy is counted in.
        transcribe: Echo's STT: 16 kHz float32 audio → final transcript.
        audio_dir: Keep each TTS's audio as ``<audio_dir>/<tts>/<n>.wav``.
        timeout: Longest wait for a sentence's audio.
        progress: Called with a line per TTS.
    """
    rows = []
    texts = [s.text for s in sentences]
    for engine in engines:
        row = dict.fromkeys(TTS_COLUMNS)
        row.update(tts=engine.name, note=engine.note, sentences=0, status="ok")
        if engine.create is None:
            row["status"] = f"skipped: {engine.skipped}"
            rows.append(row)
            continue
        if progress:
            progress(engine.name)
        try:
            takes = asyncio.run(speak_all(engine.create(), texts, timeout=timeout))
        except Exception as exc:  # a cloud TTS's connection/API error: report, go on
            row["status"] = f"failed: {type(exc).__name__}: {str(exc)[:200]}"
            rows.append(row)
            continue
        row.update(_measured(takes, sentences, lexicon, transcribe, engine.name, audio_dir))
        rows.append(row)
    return rows


def _measured(
    takes: list[Take],
    sentences: Sequence[Sentence],
    lexicon: Lexicon,
    transcribe: Callable[[np.ndarray], str],
    name: str,
    audio_dir: Path | None,
) -> dict:
    first, rtf, results, total = [], [], [], 0.0
    for n, (take, sentence) in enumerate(zip(takes, sentences, strict=True)):
        pcm = b"".join(take.pcm)
        audio = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768.0
        seconds = len(audio) / RATE
        total += seconds
        first.append((take.first_audio - take.queued) * 1000)
        rtf.append((take.last_audio - take.queued) / seconds)
        if audio_dir is not None:
            (audio_dir / name).mkdir(parents=True, exist_ok=True)
            (audio_dir / name / f"{n:02d}.wav").write_bytes(wav_bytes(audio))
        results.append(scored_result(sentence.text, sentence.terms, transcribe(audio), lexicon))
    s = score(results, "text")
    return {
        "sentences": len(takes),
        "first_audio_p50_ms": round(percentile(first, 50), 1),
        "first_audio_p95_ms": round(percentile(first, 95), 1),
        "rtf_p50": round(percentile(rtf, 50), 3),
        "audio_s": round(total, 2),
        "wer": s["wer"],
        "term_accuracy": s["term_accuracy"],
        "terms_found": s["terms_found"],
        "terms_said": s["terms_said"],
        "invented_terms": s["false_terms"],
    }


def echo_stt(settings: EchoSettings, lexicon: Lexicon) -> Callable[[np.ndarray], str]:
    """Echo's tiny.en Transcriber with the vocabulary (biasing + corrector): audio → text."""
    from vocabulary.cli import build_transcriber

    transcriber = build_transcriber(
        settings.model_copy(update={"whisper_model": "tiny.en"}), lexicon, correction=True
    )
    return lambda audio: transcriber.transcribe(audio).text
