"""One transcription path shared by the STT service, the CLI and the evaluation.

``Transcriber.transcribe(audio)`` runs faster-whisper on a 16 kHz float32 utterance:

1. log-mel features, padded only to ``pad_seconds`` (Whisper's own window is 30 s; an
   utterance of a few seconds decodes much faster in a shorter window) — longer audio
   falls back to the 30 s window, and audio over 30 s to faster-whisper's long-form path;
2. the encoder runs once; a first decoding pass gives the plain transcript;
3. with ``biasing`` and a lexicon, the terms the first pass may contain (exact or
   sound-alike, :func:`vocabulary.candidates`) become hotwords for a second decoding pass
   over the same encoder output — only when the first pass suggests a term that is not
   already spelled right. Whisper picks among close hotwords almost at random, so a term
   the biased pass wrote (and the first pass did not) is rescored against its rivals of
   the same category by forced alignment (the decoder's log-probability of the whole
   sentence with each rival in its place), and the most likely one is kept;
4. the vocabulary corrector maps what is still misheard to vocabulary terms.

The result keeps every stage (first pass, biased pass, corrected text, changes, timings).
"""

from __future__ import annotations

import difflib
import re
import time
import zlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vocabulary.correction import (
    DEFAULT_THRESHOLD,
    Change,
    candidates,
    correct,
    find_terms,
    term_spans,
)
from vocabulary.lexicon import Lexicon
from vocabulary.phonetic import key_similarity, key_weight

SAMPLE_RATE = 16000
FRAMES_PER_SECOND = 100
WHISPER_WINDOW = 30.0
# Candidate terms from the first pass that make a second, biased pass worth running.
BIAS_FLOOR = 0.6
BIAS_LIMIT = 6
BIAS_MARGIN = 0.2  # rivals for the same words within this score of the best go in too
MAX_RIVALS = 3  # other same-category candidates a biased-pass term is rescored against
# A term the biased pass introduced must make the sentence this much likelier (natural log,
# decoder primed with the names in question) than the words the first pass heard there.
GATE_LOGPROB = 1.0
# ... and beat every rival term by this much: when two names fit the audio about equally,
# the first pass's words are kept rather than a coin toss between them.
RIVAL_MARGIN = 3.5


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
            **({"baseline": self.baseline} if self.baseline is not None else {}),
        }


class Transcriber:
    """faster-whisper with a short mel window, optional vocabulary biasing and correction.

    Args:
        model_dir: CTranslate2 Whisper model directory (see :func:`models.whisper_model_dir`),
            or an already loaded ``faster_whisper.WhisperModel`` to share.
        compute_type: CTranslate2 compute type ("int8" on CPU).
        pad_seconds: Mel window for utterances that fit in it (≤ 30).
        lexicon: Deployment vocabulary; None disables biasing and correction.
        biasing: Run the second, hotword-biased pass when the first suggests terms.
        correction: Run the vocabulary corrector on the STT output.
        beam_size: Beam of the final (second) pass, and of the first pass when biasing is
            off.
        first_pass_beam: Beam of the first pass when biasing is on (greedy is enough to
            find candidates and keeps two passes near the cost of one).
        threshold: Corrector threshold.
        no_speech_threshold: Drop the text when Whisper's no-speech probability reaches
            this (as Pipecat's WhisperSTTService does).
        cpu_threads: CTranslate2 intra-op threads (0: its default).
        device: "cpu" or "auto".
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
        threshold: float = DEFAULT_THRESHOLD,
        no_speech_threshold: float = 0.4,
        cpu_threads: int = 0,
        device: str = "cpu",
    ):
        from faster_whisper import WhisperModel
        from faster_whisper.tokenizer import Tokenizer
        from faster_whisper.transcribe import get_suppressed_tokens

        if not 1.0 <= pad_seconds <= WHISPER_WINDOW:
            raise ValueError(f"pad_seconds must be between 1 and 30, got {pad_seconds}")
        if isinstance(model_dir, str):
            model_dir = WhisperModel(
                model_dir, device=device, compute_type=compute_type, cpu_threads=cpu_threads
            )
        self.model = model_dir
        self.pad_seconds = float(pad_seconds)
        self.lexicon = lexicon
        self.biasing = biasing and lexicon is not None
        self.correction = correction and lexicon is not None
        self.beam_size = beam_size
        self.first_pass_beam = first_pass_beam if self.biasing else beam_size
        self.threshold = threshold
        self.no_speech_threshold = no_speech_threshold
        self._tokenizer = Tokenizer(
            self.model.hf_tokenizer,
            self.model.model.is_multilingual,
            task="transcribe",
            language="en",
        )
        self._suppress = list(get_suppressed_tokens(self._tokenizer, [-1]))

    # --- stages -----------------------------------------------------------------------

    def window_seconds(self, duration: float) -> float:
        """Mel window used for audio of ``duration`` seconds."""
        needed = duration + 0.5
        return self.pad_seconds if needed <= self.pad_seconds else WHISPER_WINDOW

    def _encode(self, audio: np.ndarray, timings: dict[str, float]):
        t0 = time.perf_counter()
        features = self.model.feature_extractor(audio)
        frames = int(self.window_seconds(len(audio) / SAMPLE_RATE) * FRAMES_PER_SECOND)
        features = features[:, :frames]
        if features.shape[1] < frames:
            features = np.pad(features, ((0, 0), (0, frames - features.shape[1])))
        t1 = time.perf_counter()
        encoded = self.model.encode(features)
        t2 = time.perf_counter()
        timings["features"] = (t1 - t0) * 1000
        timings["encode"] = (t2 - t1) * 1000
        return encoded

    def _decode(self, encoded, beam: int, hotwords: str | None, max_new_tokens: int = 200) -> str:
        prompt = self.model.get_prompt(
            self._tokenizer, [], without_timestamps=True, hotwords=hotwords
        )
        options = {
            "length_penalty": 1.0,
            "max_length": min(self.model.max_length, len(prompt) + max_new_tokens),
            "return_scores": True,
            "return_no_speech_prob": True,
            "suppress_blank": True,
            "suppress_tokens": self._suppress,
            "beam_size": beam,
        }
        result = self.model.model.generate(encoded, [prompt], **options)[0]
        text = self._tokenizer.decode(result.sequences_ids[0]).strip()
        if _compression_ratio(text) > 2.4:  # a repetition loop: decode again without it
            result = self.model.model.generate(
                encoded, [prompt], no_repeat_ngram_size=3, **options
            )[0]
            text = self._tokenizer.decode(result.sequences_ids[0]).strip()
        if result.no_speech_prob >= self.no_speech_threshold:
            return ""
        return text

    def _long_form(self, audio: np.ndarray, hotwords: str | None) -> str:
        segments, _ = self.model.transcribe(
            audio, language="en", beam_size=self.beam_size, hotwords=hotwords
        )
        return " ".join(
            s.text.strip() for s in segments if s.no_speech_prob < self.no_speech_threshold
        ).strip()

    def bias_terms(self, text: str) -> list[str]:
        """Terms to bias the second pass with, or [] when the first pass needs no help."""
        if not self.biasing or not text:
            return []
        found = candidates(
            text, self.lexicon, floor=BIAS_FLOOR, limit=BIAS_LIMIT, margin=BIAS_MARGIN
        )
        if not any(not c.exact for c in found):
            return []
        return [c.term for c in found]

    def _sentence_logprobs(
        self, encoded, frames: int, texts: list[str], hotwords: str | None = None
    ) -> list[float]:
        """Decoder log-probability of each text given the audio (teacher-forced).

        With ``hotwords`` the decoder is primed with them, as in the biased pass, so every
        listed name starts from the same prior and only the audio tells them apart.
        """
        import ctranslate2

        array = np.asarray(encoded)
        batch = ctranslate2.StorageView.from_array(np.repeat(array, len(texts), axis=0))
        tokens = [self._tokenizer.encode(" " + text.strip()) for text in texts]
        if hotwords:
            start = self.model.get_prompt(
                self._tokenizer, [], without_timestamps=True, hotwords=hotwords
            )
        else:
            start = self._tokenizer.sot_sequence
        results = self.model.model.align(batch, start, tokens, frames)
        return [
            float(np.sum(np.log(np.maximum(np.asarray(r.text_token_probs), 1e-9)))) for r in results
        ]

    def rescore_rivals(
        self, encoded, frames: int, first: str, raw: str, decisions: list | None = None
    ) -> str:
        """Check each term the biased pass introduced against its rivals and the first pass.

        For a term the biased pass wrote and the first pass did not, the decoder scores
        (teacher-forced, primed with the names in question) the sentence with the term,
        with each same-category rival in its place (other candidates and sound-alikes),
        and with the words the first pass heard there. The likeliest term is kept only
        when it beats the first pass's words by ``GATE_LOGPROB``; otherwise the first
        pass's words are put back (a hotword the audio does not support is a false term).

        Args:
            encoded: Encoder output of the utterance.
            frames: Mel frames holding audio.
            first: The unbiased first pass (terms it already had are trusted).
            raw: The biased pass.
            decisions: When given, one dict per checked term is appended (term, heard,
                chosen, margin), for the evaluation and the audit.

        Returns:
            ``raw`` with each introduced term confirmed, swapped for a likelier rival, or
            reverted to what the first pass heard.
        """
        lexicon = self.lexicon
        trusted = {t.lower() for t in find_terms(first, lexicon)}
        pool: list[str] = []
        for text in (first, raw):
            for cand in candidates(text, lexicon, floor=BIAS_FLOOR, limit=12, margin=BIAS_MARGIN):
                if cand.term not in pool:
                    pool.append(cand.term)
        for start, end, name in reversed(term_spans(raw, lexicon)):
            if name.lower() in trusted:
                continue
            term = lexicon.term_by_text(name)
            rivals = [
                t for t in pool if t != name and lexicon.term_by_text(t).category == term.category
            ]
            for neighbour in sound_alikes(lexicon, term):
                if neighbour not in rivals:
                    rivals.append(neighbour)
            rivals = rivals[:MAX_RIVALS]
            options = [term] + [lexicon.term_by_text(t) for t in rivals]
            span = raw[start:end]
            texts = [raw[:start] + _spell_like(o.name, span) + raw[end:] for o in options]
            heard_start, heard_end = _heard_span(first, raw, start, end)
            heard = first[heard_start:heard_end]
            if raw[end : end + 1] in (".", ",", "?", "!"):
                heard = heard.rstrip(".,?!")
            kept_text = " ".join((raw[:start] + heard + raw[end:]).split())
            scores = self._sentence_logprobs(
                encoded, frames, texts + [kept_text], ", ".join(o.text for o in options) + "."
            )
            best = max(range(len(options)), key=lambda k: scores[k])
            margin = scores[best] - scores[-1]
            gap = min(
                (scores[best] - scores[k] for k in range(len(options)) if k != best),
                default=float("inf"),
            )
            keep_term = margin >= GATE_LOGPROB and gap >= RIVAL_MARGIN
            if decisions is not None:
                decisions.append(
                    {
                        "term": name,
                        "chosen": options[best].text if keep_term else None,
                        "heard": heard,
                        "margin": round(margin, 2),
                        "gap": round(gap, 2) if gap != float("inf") else None,
                    }
                )
            raw = texts[best] if keep_term else kept_text
        return raw

    # --- public -----------------------------------------------------------------------

    def transcribe(self, audio: np.ndarray, *, with_baseline: bool = False) -> TranscriptResult:
        """Transcribe one utterance.

        Args:
            audio: Mono float32 samples in [-1, 1] at 16 kHz.
            with_baseline: Also decode plain, unbiased STT with ``beam_size`` (for the
                evaluation; not counted in the timings).

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
                second = self._long_form(audio, hotwords)
                if plausible_second_pass(first, second):
                    raw = second
                timings["decode2"] = (time.perf_counter() - t1) * 1000
        else:
            encoded = self._encode(audio, timings)
            t0 = time.perf_counter()
            first = raw = self._decode(encoded, self.first_pass_beam, None)
            timings["decode1"] = (time.perf_counter() - t0) * 1000
            terms = self.bias_terms(first)
            if terms:
                hotwords = ", ".join(terms) + "."
                t1 = time.perf_counter()
                # The biased pass says the same utterance: cap it near the first's length.
                limit = len(self._tokenizer.encode(" " + first)) * 3 // 2 + 8
                second = self._decode(encoded, self.beam_size, hotwords, limit)
                timings["decode2"] = (time.perf_counter() - t1) * 1000
                if plausible_second_pass(first, second):
                    raw = second
                    t2 = time.perf_counter()
                    frames = min(len(audio) // 160, encoded.shape[1] * 2)
                    raw = self.rescore_rivals(encoded, frames, first, raw, checks)
                    timings["rescore"] = (time.perf_counter() - t2) * 1000
        timings["stt"] = (time.perf_counter() - start) * 1000
        text, changes = raw, []
        if self.correction and raw:
            t2 = time.perf_counter()
            result = correct(raw, self.lexicon, threshold=self.threshold)
            timings["correct"] = (time.perf_counter() - t2) * 1000
            text, changes = result.text, result.changes
        timings["total"] = (time.perf_counter() - start) * 1000
        if with_baseline:
            if encoded is not None and self.first_pass_beam == self.beam_size:
                baseline = first
            elif encoded is not None:
                baseline = self._decode(encoded, self.beam_size, None)
            else:
                baseline = self._long_form(audio, None) if len(audio) else ""
        return TranscriptResult(raw, text, changes, first, hotwords, timings, baseline, checks)


def sound_alikes(lexicon: Lexicon, term, floor: float = 0.65, limit: int = 3) -> list[str]:
    """Terms of the same category whose name sounds like ``term``'s, closest first."""
    key = term.forms[0].keys[0]
    found = []
    for fid in lexicon.fuzzy_candidates(
        term.forms[0].keys, weight=key_weight(key), categories={term.category}
    ):
        other = lexicon.terms[lexicon.forms[fid].term]
        if other.text == term.text:
            continue
        similarity = max(key_similarity(key, k) for k in lexicon.forms[fid].keys)
        if similarity >= floor and other.text not in found:
            found.append((similarity, other.text))
    return [text for _, text in sorted(found, key=lambda item: -item[0])[:limit]]


def _words(text: str) -> list[tuple[int, int, str]]:
    """Whitespace-separated words of ``text`` with offsets and a comparable form."""
    return [
        (m.start(), m.end(), m.group(0).lower().strip(".,?!;:\"'"))
        for m in re.finditer(r"\S+", text)
    ]


def _heard_span(first: str, raw: str, start: int, end: int) -> tuple[int, int]:
    """Character span of ``first`` that the words of ``raw[start:end]`` stand for.

    The two passes are aligned word by word; the span covers the first-pass words of
    every differing stretch that touches the raw span (empty when the biased pass only
    inserted words there).
    """
    a, b = _words(raw), _words(first)
    lo = next((k for k, w in enumerate(a) if w[1] > start), len(a))
    hi = next((k for k, w in enumerate(a) if w[0] >= end), len(a))
    matcher = difflib.SequenceMatcher(a=[w[2] for w in a], b=[w[2] for w in b], autojunk=False)
    b_lo = b_hi = None
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            # Words the passes share inside the span map one to one.
            for k in range(max(i1, lo), min(i2, hi)):
                j = j1 + k - i1
                b_lo = j if b_lo is None else min(b_lo, j)
                b_hi = j + 1 if b_hi is None else max(b_hi, j + 1)
            continue
        if (i1 < hi and i2 > lo) or (i1 == i2 and lo <= i1 <= hi):
            b_lo = j1 if b_lo is None else min(b_lo, j1)
            b_hi = j2 if b_hi is None else max(b_hi, j2)
    if b_lo is None or b_hi is None or b_hi <= b_lo:
        return (0, 0)
    return b[b_lo][0], b[b_hi - 1][1]


def _spell_like(name: str, span: str) -> str:
    """A term's spelling, capitalized like the span it replaces when that starts upper."""
    if span[:1].isupper() and name[:1].islower():
        return name[:1].upper() + name[1:]
    return name


def plausible_second_pass(first: str, second: str) -> bool:
    """Whether a biased pass looks like the same utterance (not cut short, not looping).

    A prompt can make Whisper skip words it believes were already said, or repeat itself;
    such a pass is discarded in favour of the first.
    """
    a, b = first.split(), second.split()
    if not b:
        return False
    if len(b) < 0.75 * len(a) - 1 or len(b) > 1.3 * len(a) + 1:
        return False
    grams = [tuple(w.lower().strip(".,?!") for w in b[i : i + 4]) for i in range(len(b) - 3)]
    return len(grams) == len(set(grams))


def _compression_ratio(text: str) -> float:
    data = text.encode("utf-8")
    if not data:
        return 0.0
    return len(data) / len(zlib.compress(data))
