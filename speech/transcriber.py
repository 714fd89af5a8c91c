"""One transcription path shared by the STT service, the CLI and the evaluation.

``Transcriber.transcribe(audio)`` runs faster-whisper on a 16 kHz float32 utterance:

1. log-mel features, padded only to ``pad_seconds`` (Whisper's own window is 30 s; an
   utterance of a few seconds decodes much faster in a shorter window) — longer audio
   falls back to the 30 s window, and audio over 30 s to faster-whisper's long-form path;
2. the encoder runs once; a greedy first decoding pass gives the plain transcript;
3. with ``biasing`` and a lexicon, the terms the first pass may contain (exact or
   sound-alike, :func:`vocabulary.candidates`) become hotwords for a second, greedy
   decoding pass over the same encoder output. It runs only when a doubtful span is left
   that the corrector does not settle on its own, and it keeps the first pass's words
   before the first doubtful span as a forced prefix (they are not decoded again).
   Whisper picks among close hotwords almost at random and sometimes writes a hotword
   that was not said, so every term the biased pass wrote (and the first pass did not),
   and every strong first-pass candidate it did not write, is checked against the audio
   by forced alignment (the decoder's log-probability of the whole sentence with the
   term, with each rival in its place, and with the words heard there), all in one
   batch; a term is kept only if it clearly beats both the words heard and its rivals;
4. the vocabulary corrector maps what is still misheard to vocabulary terms.

The result keeps every stage (first pass, biased pass, corrected text, changes, checks,
timings). The decode is :mod:`speech.whisper`, the biased pass :mod:`speech.biasing`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from speech.biasing import BiasedPass
from speech.passes import drop_restart, plausible_second_pass
from speech.whisper import SAMPLE_RATE, WHISPER_WINDOW, WhisperDecoder
from vocabulary.context import ConversationContext
from vocabulary.correction import DEFAULT_THRESHOLD, Change, apply_changes, correct
from vocabulary.lexicon import Lexicon


@dataclass
class TranscriptResult:
    """What one utterance became at each stage.

    Attributes:
        raw: The STT output (the biased pass when it ran, else the first pass).
        text: The final transcript, after vocabulary correction.
        corrections: The corrector's changes to ``raw``.
        first_pass: The unbiased first-pass transcript.
        hotwords: The terms given to the second pass, or None when it did not run.
        timings: Milliseconds per stage: features, encode, decode1, decode2, stt, correct,
            total.
        baseline: Plain STT (unbiased, ``beam_size``, same window), only when asked for.
        checks: One dict per term the biased pass introduced: ``term``, ``heard`` (the
            first pass's words there), ``chosen`` (the term kept, None when the first
            pass's words were put back) and ``margin`` (log-probability gain).
    """

    raw: str
    text: str
    corrections: list[Change] = field(default_factory=list)
    first_pass: str = ""
    hotwords: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    baseline: str | None = None
    checks: list[dict] = field(default_factory=list)
    second_pass: str | None = None

    def to_dict(self) -> dict:
        """Plain-JSON form."""
        return {
            "raw": self.raw,
            "text": self.text,
            "corrections": [c.to_dict() for c in self.corrections],
            "first_pass": self.first_pass,
            "hotwords": self.hotwords,
            "timings": {k: round(v, 2) for k, v in self.timings.items()},
            "checks": self.checks,
            "second_pass": self.second_pass,
            **({"baseline": self.baseline} if self.baseline is not None else {}),
        }


class Transcriber(BiasedPass, WhisperDecoder):
    """faster-whisper with a short mel window, optional vocabulary biasing and correction.

    Args:
        model_dir: As :class:`~speech.whisper.WhisperDecoder` (so are ``compute_type``,
            ``pad_seconds``, ``no_speech_threshold``, ``cpu_threads`` and ``device``).
        lexicon: Deployment vocabulary; None disables biasing and correction.
        biasing: Run the second, hotword-biased pass when the first suggests terms.
        correction: Run the vocabulary corrector on the STT output.
        beam_size: Beam of the single pass when biasing is off (and of the evaluation's
            plain baseline).
        first_pass_beam: Beam of the first pass when biasing is on (greedy is enough to
            find candidates and keeps two passes near the cost of one).
        second_pass_beam: Beam of the biased pass (greedy: a beam costs almost twice as
            much per step and found no more terms; the audio check picks among them).
        threshold: Corrector threshold.
    """

    def __init__(
        self,
        model_dir: str | Any,
        *,
        compute_type: str = "int8",
        pad_seconds: float = 10.0,
        lexicon: Lexicon | None = None,
        biasing: bool = True,
        correction: bool = True,
        beam_size: int = 5,
        first_pass_beam: int = 1,
        second_pass_beam: int = 1,
        threshold: float = DEFAULT_THRESHOLD,
        no_speech_threshold: float = 0.4,
        cpu_threads: int = 0,
        device: str = "cpu",
    ):
        super().__init__(
            model_dir,
            compute_type=compute_type,
            pad_seconds=pad_seconds,
            no_speech_threshold=no_speech_threshold,
            cpu_threads=cpu_threads,
            device=device,
        )
        self.lexicon = lexicon
        self.biasing = biasing and lexicon is not None
        self.correction = correction and lexicon is not None
        self.beam_size = beam_size
        self.first_pass_beam = first_pass_beam if self.biasing else beam_size
        self.second_pass_beam = second_pass_beam
        self.threshold = threshold

    # --- public -----------------------------------------------------------------------

    def transcribe(
        self,
        audio: np.ndarray,
        *,
        with_baseline: bool = False,
        context: ConversationContext | None = None,
    ) -> TranscriptResult:
        """Transcribe one utterance.

        Args:
            audio: Mono float32 samples in [-1, 1] at 16 kHz.
            with_baseline: Also decode plain, unbiased STT with ``beam_size`` (for the
                evaluation; not counted in the timings).
            context: What the bot just offered or asked for: its terms join the biasing
                candidates, the audio check and the correction
                (:class:`vocabulary.ConversationContext`).

        Returns:
            Every stage of the transcript and its timings.
        """
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        timings: dict[str, float] = {}
        start = time.perf_counter()
        hotwords: str | None = None
        baseline: str | None = None
        encoded = None
        checks: list[dict] = []
        second_pass: str | None = None
        first_changes: list[Change] | None = None
        if len(audio) == 0:
            first = raw = ""
        elif len(audio) / SAMPLE_RATE > WHISPER_WINDOW:
            t0 = time.perf_counter()
            first = raw = self._long_form(audio, None)
            timings["decode1"] = (time.perf_counter() - t0) * 1000
            terms = self.bias_terms(first)
            if terms:
                hotwords = ", ".join(terms) + "."
                t1 = time.perf_counter()
                second_pass = self._long_form(audio, hotwords)
                second = drop_restart(second_pass)
                if plausible_second_pass(first, second):
                    raw = second
                timings["decode2"] = (time.perf_counter() - t1) * 1000
        else:
            encoded = self._encode(audio, timings)
            t0 = time.perf_counter()
            first, first_tokens = self._decode(encoded, self.first_pass_beam, None)
            raw = first
            timings["decode1"] = (time.perf_counter() - t0) * 1000
            found, first_changes, first_candidates = self._bias_plan(first, context)
            if found:
                hotwords = ", ".join(c.term for c in found) + "."
                t1 = time.perf_counter()
                # The words before the first doubtful span are kept as the first pass
                # heard them (forced, not decoded again), less one word of context.
                cut = min(c.start for c in found if not c.exact)
                cut = first.rfind(" ", 0, max(0, first.rfind(" ", 0, cut)))
                prefix = self._prefix_tokens(first_tokens, first, cut) if cut > 0 else []
                # The biased pass says the same utterance: cap it near the first's length.
                limit = (len(first_tokens) - len(prefix)) * 3 // 2 + 8
                second_pass, _ = self._decode(
                    encoded, self.second_pass_beam, hotwords, limit, prefix
                )
                second = drop_restart(second_pass)
                timings["decode2"] = (time.perf_counter() - t1) * 1000
                if plausible_second_pass(first, second):
                    raw = second
                    t2 = time.perf_counter()
                    frames = min(len(audio) // 160, encoded.shape[1] * 2)
                    raw = self.rescore_rivals(
                        encoded,
                        frames,
                        first,
                        raw,
                        checks,
                        first_changes,
                        first_candidates,
                        context,
                    )
                    timings["rescore"] = (time.perf_counter() - t2) * 1000
        timings["stt"] = (time.perf_counter() - start) * 1000
        text, changes = raw, []
        if self.correction and raw:
            t2 = time.perf_counter()
            if raw == first and first_changes is not None:
                changes = first_changes  # already computed on the same text
                text = apply_changes(raw, changes)
            else:
                result = correct(raw, self.lexicon, threshold=self.threshold, context=context)
                text, changes = result.text, result.changes
            timings["correct"] = (time.perf_counter() - t2) * 1000
        timings["total"] = (time.perf_counter() - start) * 1000
        if with_baseline:
            if encoded is not None and self.first_pass_beam == self.beam_size:
                baseline = first
            elif encoded is not None:
                baseline = self._decode(encoded, self.beam_size, None)[0]
            else:
                baseline = self._long_form(audio, None) if len(audio) else ""
        return TranscriptResult(
            raw, text, changes, first, hotwords, timings, baseline, checks, second_pass
        )
