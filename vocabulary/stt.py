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
timings).
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
    Candidate,
    Change,
    apply_changes,
    candidates,
    correct,
    find_terms,
    term_spans,
)
from vocabulary.lexicon import TITLE_WORDS, Lexicon, normalize_words
from vocabulary.phonetic import key_similarity, key_weight, phonetic_key

SAMPLE_RATE = 16000
FRAMES_PER_SECOND = 100
WHISPER_WINDOW = 30.0
# Candidate terms from the first pass that make a second, biased pass worth running.
BIAS_FLOOR = 0.6
BIAS_LIMIT = 6
BIAS_MARGIN = 0.2  # rivals for the same words within this score of the best go in too
RESCORE_POOL = 12  # candidates of each pass the audio check draws rivals from
MAX_RIVALS = 2  # other same-category candidates a biased-pass term is rescored against
# A term the biased pass introduced must make the sentence this much likelier (natural log,
# decoder primed with the names in question) than the words the first pass heard there.
GATE_LOGPROB = 1.0
# ... by this much when the first pass heard only ordinary words there ("met four men").
# Kept at the same 1 nat: on the calibration sets a higher gate removed about as many
# right terms as false ones.
GATE_ORDINARY = 1.0
# ... and beat every rival term by this much: when two names fit the audio about equally,
# the first pass's words are kept rather than a coin toss between them.
RIVAL_MARGIN = 3.5
# A rival is scored only if it sounds at least this much like the term or the words heard.
RIVAL_SOUND_FLOOR = 0.65
# A doubtful span the corrector replaces with the best candidate there at this score or more
# (not a name: names are always checked against the audio) needs no second pass.
SETTLED_SCORE = 0.9
# A first-pass candidate this strong that the biased pass did not write is checked too.
OPEN_FLOOR = 0.8
# Whisper's own silence rule (openai/whisper, faster-whisper): a decode is "no speech" when
# the no-speech probability is high *and* the words are unsure (mean token log-prob below
# this). The probability alone drops short real utterances: "That's all." after a pause
# scores 0.44-0.67 with a mean log-prob of -0.25 to -0.75; noise scores -1.5 to -2.2.
NO_SPEECH_LOGPROB = -1.0


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
        beam_size: Beam of the single pass when biasing is off (and of the evaluation's
            plain baseline).
        first_pass_beam: Beam of the first pass when biasing is on (greedy is enough to
            find candidates and keeps two passes near the cost of one).
        second_pass_beam: Beam of the biased pass (greedy: a beam costs almost twice as
            much per step and found no more terms; the audio check picks among them).
        threshold: Corrector threshold.
        no_speech_threshold: Drop the text when Whisper's no-speech probability reaches
            this and the decode is unsure (``is_no_speech``; Pipecat's WhisperSTTService
            drops on the probability alone, which loses short real utterances).
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
        second_pass_beam: int = 1,
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
        self.second_pass_beam = second_pass_beam
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

    def _decode(
        self,
        encoded,
        beam: int,
        hotwords: str | None,
        max_new_tokens: int = 200,
        prefix: list[int] | None = None,
    ) -> tuple[str, list[int]]:
        """Decode the encoder output; returns the text and its tokens.

        ``prefix`` tokens are forced at the start of the transcript (the decoder continues
        after them, and they are part of the result): the biased pass reuses the first
        pass's words before the first candidate term instead of decoding them again.
        """
        prompt = self.model.get_prompt(
            self._tokenizer, [], without_timestamps=True, hotwords=hotwords
        )
        prefix = list(prefix or [])
        options = {
            "length_penalty": 1.0,
            "max_length": min(self.model.max_length, len(prompt) + len(prefix) + max_new_tokens),
            "return_scores": True,
            "return_no_speech_prob": True,
            "suppress_blank": not prefix,
            "suppress_tokens": self._suppress,
            "beam_size": beam,
        }
        result = self.model.model.generate(encoded, [prompt + prefix], **options)[0]
        tokens = list(result.sequences_ids[0])
        text = self._tokenizer.decode(tokens).strip()
        if _compression_ratio(text) > 2.4:  # a repetition loop: decode again without it
            result = self.model.model.generate(
                encoded, [prompt + prefix], no_repeat_ngram_size=3, **options
            )[0]
            tokens = list(result.sequences_ids[0])
            text = self._tokenizer.decode(tokens).strip()
        length = len(tokens)
        mean_logprob = result.scores[0] * length ** options["length_penalty"] / (length + 1)
        if is_no_speech(text, result.no_speech_prob, mean_logprob, self.no_speech_threshold):
            return "", []
        return text, tokens

    def _prefix_tokens(self, tokens: list[int], text: str, cut: int) -> list[int]:
        """The longest run of ``tokens`` (which decode to ``text``) ending before ``cut``.

        Only whole words are kept: the run stops at the last token that ends a word
        before the character offset ``cut`` of ``text``.
        """
        keep = 0
        for k in range(1, len(tokens) + 1):
            piece = self._tokenizer.decode(tokens[:k]).strip()
            if len(piece) > cut or not text.startswith(piece):
                break
            nxt = text[len(piece) : len(piece) + 1]
            if nxt in ("", " "):
                keep = k
        return tokens[:keep]

    def _long_form(self, audio: np.ndarray, hotwords: str | None) -> str:
        segments, _ = self.model.transcribe(
            audio, language="en", beam_size=self.beam_size, hotwords=hotwords
        )
        return " ".join(
            s.text.strip()
            for s in segments
            if not is_no_speech(s.text, s.no_speech_prob, s.avg_logprob, self.no_speech_threshold)
        ).strip()

    def bias_candidates(self, text: str) -> list[Candidate]:
        """Candidate terms for the second pass, or [] when the first pass needs no help."""
        return self._bias_plan(text)[0]

    def _bias_plan(
        self, text: str
    ) -> tuple[list[Candidate], list[Change] | None, list[Candidate] | None]:
        """Second-pass candidates, with what was computed to choose them.

        Returns:
            The candidates for the second pass ([] when it is not needed), the corrector's
            changes to ``text`` and the longer candidate list (``RESCORE_POOL`` terms) for
            the audio check, each None when not computed.
        """
        if not self.biasing or not text:
            return [], None, None
        pool = candidates(
            text, self.lexicon, floor=BIAS_FLOOR, limit=RESCORE_POOL, margin=BIAS_MARGIN
        )
        found = pool[:BIAS_LIMIT]  # the same as asking for BIAS_LIMIT terms
        if not any(not c.exact for c in found):
            return [], None, pool
        # Spans the corrector settles on its own need no second pass: it runs only when a
        # doubtful span is left that the corrector does not settle.
        fixed = correct(text, self.lexicon, threshold=self.threshold).changes
        if all(c.exact or _settled(c, found, fixed) for c in found):
            return [], fixed, pool
        return found, fixed, pool

    def bias_terms(self, text: str) -> list[str]:
        """Terms to bias the second pass with, or [] when the first pass needs no help."""
        return [c.term for c in self.bias_candidates(text)]

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
        self,
        encoded,
        frames: int,
        first: str,
        raw: str,
        decisions: list | None = None,
        first_changes: list[Change] | None = None,
        first_candidates: list[Candidate] | None = None,
    ) -> str:
        """Check the biased pass's new terms (and missed strong candidates) against the audio.

        For a term the biased pass wrote and the first pass did not, the decoder scores
        (teacher-forced, primed with the names in question) the sentence with the term,
        with each of up to ``MAX_RIVALS`` same-category rivals in its place (other
        candidates and the names that sound most like the term or the words heard), and
        with the words the first pass heard there. The likeliest term is kept only when
        it beats the first pass's words by ``GATE_LOGPROB`` and every rival by
        ``RIVAL_MARGIN``; otherwise the first pass's words are put back (a hotword the
        audio does not support is a false term; two names that fit equally are a coin
        toss). A term the corrector writes into the first pass anyway and that has no
        rival is kept unscored. A first-pass candidate scoring ``OPEN_FLOOR`` or more that
        the biased pass did not write is checked the same way against the biased pass's
        words there. All sentences are scored in one batch.

        Args:
            encoded: Encoder output of the utterance.
            frames: Mel frames holding audio.
            first: The unbiased first pass (terms it already had are trusted).
            raw: The biased pass.
            decisions: When given, one dict per checked term is appended (term, heard,
                chosen, margin), for the evaluation and the audit.
            first_changes: The corrector's changes to ``first``, if already computed.
            first_candidates: ``candidates(first, limit=RESCORE_POOL)``, if already
                computed.

        Returns:
            ``raw`` with each introduced term confirmed, swapped for a likelier rival, or
            reverted to what the first pass heard.
        """
        lexicon = self.lexicon
        trusted = {t.lower() for t in find_terms(first, lexicon)}
        # A term the corrector alone writes into the first pass, with no rival to weigh it
        # against, needs no audio check: it would be in the final text anyway.
        if first_changes is None:
            first_changes = correct(first, lexicon, threshold=self.threshold).changes
        agreed = {c.term.lower() for c in first_changes}
        pool: list[str] = []
        heard_first = first_candidates
        if heard_first is None:
            heard_first = candidates(
                first, lexicon, floor=BIAS_FLOOR, limit=RESCORE_POOL, margin=BIAS_MARGIN
            )
        for cand in heard_first + candidates(
            raw, lexicon, floor=BIAS_FLOOR, limit=RESCORE_POOL, margin=BIAS_MARGIN
        ):
            if cand.term not in pool:
                pool.append(cand.term)
        # One sentence per option of every introduced term, all scored in one batch with
        # the decoder primed with every name in question.
        checks = []
        names: list[str] = []

        def add_check(start, end, name, options, spelled, heard, kept_text):
            """One check: ``raw`` with each option spelled like ``spelled`` at start:end."""
            nonlocal names
            texts = [raw[:start] + _spell_like(o.name, spelled) + raw[end:] for o in options]
            checks.append((start, end, name, options, texts, heard, kept_text))
            names += [o.text for o in options if o.text not in names]

        for start, end, name in term_spans(raw, lexicon):
            if name.lower() in trusted:
                continue
            term = lexicon.term_by_text(name)
            span = raw[start:end]
            heard_start, heard_end = _heard_span(first, raw, start, end)
            heard = first[heard_start:heard_end]
            if raw[end : end + 1] in (".", ",", "?", "!"):
                heard = heard.rstrip(".,?!")
            options = [term] + _rivals(lexicon, term, heard, pool)
            if len(options) == 1 and name.lower() in agreed:
                # No rival, and the corrector writes the term into the first pass anyway.
                if decisions is not None:
                    decisions.append({"term": name, "chosen": name, "heard": heard, "agreed": True})
                continue
            kept_text = " ".join((raw[:start] + heard + raw[end:]).split())
            add_check(start, end, name, options, span, heard, kept_text)
        # A strong candidate of the first pass that the biased pass did not write either
        # (its words there are no term) is checked the same way: the sentence with the
        # term in place of those words against the sentence as it is.
        spans = term_spans(raw, lexicon)
        present = {name.lower() for _, _, name in spans}
        taken = [(s, e) for s, e, _ in spans]
        for cand in heard_first:
            if cand.exact or cand.score < OPEN_FLOOR or cand.term.lower() in present:
                continue
            start, end = _heard_span(raw, first, cand.start, cand.end)
            words = raw[start:end].rstrip(".,?!")
            end = start + len(words)
            if not words.strip() or any(start < e and s < end for s, e in taken):
                continue
            taken.append((start, end))
            term = lexicon.term_by_text(cand.term)
            options = [term] + _rivals(lexicon, term, words, pool)
            add_check(start, end, term.text, options, words, words, raw)
        if not checks:
            return raw
        checks.sort(key=lambda check: check[0])
        batch = [text for check in checks for text in check[4] + [check[6]]]
        all_scores = self._sentence_logprobs(encoded, frames, batch, ", ".join(names) + ".")
        scored = []
        offset = 0
        for check in checks:
            count = len(check[4]) + 1
            scored.append((*check, all_scores[offset : offset + count]))
            offset += count
        # Decide from the last term back, so earlier offsets stay valid as raw changes.
        for start, end, name, options, _texts, heard, _kept, scores in reversed(scored):
            best = max(range(len(options)), key=lambda k: scores[k])
            margin = scores[best] - scores[-1]
            gap = min(
                (scores[best] - scores[k] for k in range(len(options)) if k != best),
                default=float("inf"),
            )
            # Ordinary words heard there ("met four men") are a likely sentence in their
            # own right: the term must beat them by more.
            ordinary = bool(heard.strip()) and all(
                lexicon.is_common(w) for w in normalize_words(heard)
            )
            keep_term = margin >= (GATE_ORDINARY if ordinary else GATE_LOGPROB)
            # A term where the first pass heard no words at all is an insertion by the
            # prompt, not a better reading of the audio.
            keep_term = keep_term and gap >= RIVAL_MARGIN and bool(heard.strip())
            # Right after a subject pronoun a verb must come, not a drug or a procedure
            # ("I met four men" is not "I metformin").
            keep_term = keep_term and not (
                after_subject(raw[:start]) and options[best].category != "provider"
            )
            if decisions is not None:
                decisions.append(
                    {
                        "term": name,
                        "chosen": options[best].text if keep_term else None,
                        "best": options[best].text,
                        "heard": heard,
                        "ordinary": ordinary,
                        "margin": round(margin, 2),
                        "gap": round(gap, 2) if gap != float("inf") else None,
                    }
                )
            if keep_term:
                raw = raw[:start] + _spell_like(options[best].name, raw[start:end]) + raw[end:]
            else:
                raw = _put_back(raw, start, end, heard)
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
            found, first_changes, first_candidates = self._bias_plan(first)
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
                        encoded, frames, first, raw, checks, first_changes, first_candidates
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
                result = correct(raw, self.lexicon, threshold=self.threshold)
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


def _settled(cand: Candidate, found: list[Candidate], fixed: list[Change]) -> bool:
    """Whether the corrector settles ``cand``'s span: it writes the best candidate there."""
    here = [c for c in found if not c.exact and c.start < cand.end and cand.start < c.end]
    best = max(here, key=lambda c: c.score)
    return any(
        change.term == best.term
        and change.score >= SETTLED_SCORE
        and change.category != "provider"
        and change.start < cand.end
        and cand.start < change.end
        for change in fixed
    )


def _rivals(lexicon: Lexicon, term, heard: str, pool: list[str]) -> list:
    """Up to ``MAX_RIVALS`` terms to weigh ``term`` against, closest in sound first.

    Other candidates of the category (``pool``) and the names that sound most like the
    term or like the words heard, if they sound at least ``RIVAL_SOUND_FLOOR`` alike.
    """
    keys = [term.forms[0].keys[0]]
    if heard.strip():
        keys.append(phonetic_key(heard))
    names = [
        t for t in pool if t != term.text and lexicon.term_by_text(t).category == term.category
    ]
    for neighbour in sound_alikes(lexicon, term, keys=keys):
        if neighbour != term.text and neighbour not in names:
            names.append(neighbour)
    ranked = []
    for text in names:
        rival = lexicon.term_by_text(text)
        sound = max(key_similarity(k, f.keys[0]) for k in keys for f in rival.forms)
        if sound >= RIVAL_SOUND_FLOOR:
            ranked.append((sound, rival))
    ranked.sort(key=lambda item: -item[0])
    return [rival for _, rival in ranked[:MAX_RIVALS]]


def sound_alikes(
    lexicon: Lexicon,
    term,
    floor: float = 0.65,
    limit: int = 3,
    keys: list[str] | None = None,
) -> list[str]:
    """Terms of ``term``'s category that sound like it (or like ``keys``), closest first."""
    keys = keys or [term.forms[0].keys[0]]
    found: dict[str, float] = {}
    for key in keys:
        for fid in lexicon.fuzzy_candidates(
            [key], weight=key_weight(key), categories={term.category}
        ):
            other = lexicon.terms[lexicon.forms[fid].term]
            if other.text == term.text:
                continue
            similarity = max(key_similarity(key, k) for k in lexicon.forms[fid].keys)
            if similarity >= floor and similarity > found.get(other.text, -1.0):
                found[other.text] = similarity
    return [text for text, _ in sorted(found.items(), key=lambda item: -item[1])[:limit]]


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


def _put_back(text: str, start: int, end: int, heard: str) -> str:
    """``text`` with ``text[start:end]`` replaced by ``heard`` (no double space left)."""
    head, tail = text[:start], text[end:]
    if not heard.strip():
        head = head.rstrip(" ")
        if head and tail[:1] not in ("", " ", ".", ",", "?", "!"):
            head += " "
        elif not head:
            tail = tail.lstrip(" ")
    return head + heard + tail


def _spell_like(name: str, span: str) -> str:
    """A term's spelling, capitalized like the span it replaces when that starts upper."""
    if span[:1].isupper() and name[:1].islower():
        return name[:1].upper() + name[1:]
    return name


_SUBJECT_PRONOUNS = frozenset("i we they he she".split())


def after_subject(text: str) -> bool:
    """Whether ``text`` ends on a subject pronoun (so a verb, not a noun, comes next).

    >>> after_subject("Yesterday I "), after_subject("He prescribed me ")
    (True, False)
    """
    words = normalize_words(text)
    return bool(words) and words[-1] in _SUBJECT_PRONOUNS


def drop_restart(text: str) -> str:
    """The text without a second go at the same sentence after the first one ended.

    A prompted pass sometimes finishes the utterance and starts it again until the token
    limit cuts it ("Can I see Dr. Rajagopalan this week? Can I see Dr. Rajagop"): after a
    sentence end, a repeat of the text's first three words (or of all of them, if fewer
    are left) starts the loop, and what follows is dropped.

    >>> drop_restart("Can I see Dr. Rajagopalan this week? Can I see Dr. Rajagop")
    'Can I see Dr. Rajagopalan this week?'
    """
    words = [(m.end(), m.group()) for m in re.finditer(r"\S+", text)]
    norms = [w.lower().strip(".,?!") for _, w in words]
    for k in range(1, len(words)):
        if not words[k - 1][1].endswith(("?", "!", ".")) or norms[k - 1] in TITLE_WORDS:
            continue  # no sentence end ("Dr." is a title)
        n = min(3, len(words) - k)
        if n >= 2 and norms[k : k + n] == norms[:n]:
            return text[: words[k - 1][0]]
    return text


def plausible_second_pass(first: str, second: str) -> bool:
    """Whether a biased pass looks like the same utterance (not cut short, not looping).

    A prompt can make Whisper skip words it believes were already said, or repeat itself;
    such a pass is discarded in favour of the first. Length is compared in letters, not
    words: a term the first pass heard as several words ("at or rest that in") is one
    word in the biased pass.
    """
    words = second.split()
    if not words:
        return False
    la, lb = _letters(first), _letters(second)
    if lb < 0.7 * la - 4 or lb > 1.35 * la + 6:
        return False
    grams = [
        tuple(w.lower().strip(".,?!") for w in words[i : i + 4]) for i in range(len(words) - 3)
    ]
    return len(grams) == len(set(grams))


def is_no_speech(
    text: str,
    no_speech_prob: float,
    mean_logprob: float,
    threshold: float,
    logprob_threshold: float = NO_SPEECH_LOGPROB,
) -> bool:
    """Whether a Whisper decode is silence or noise rather than words, and is dropped.

    Whisper's rule: the no-speech probability reaches ``threshold`` and the decode is
    unsure (mean token log-prob below ``logprob_threshold``). A decode with no letter or
    digit (Whisper writes "." for silence) is no speech either.

    Args:
        text: The decoded text.
        no_speech_prob: Whisper's probability of the no-speech token at the start.
        mean_logprob: Mean log-probability of the decoded tokens (Whisper's avg_logprob).
        threshold: No-speech probability from which an unsure decode is dropped.
        logprob_threshold: Mean log-prob under which a decode counts as unsure.
    """
    if not any(c.isalnum() for c in text):
        return True
    return no_speech_prob >= threshold and mean_logprob < logprob_threshold


def _letters(text: str) -> int:
    return sum(ch.isalnum() for ch in text)


def _compression_ratio(text: str) -> float:
    data = text.encode("utf-8")
    if not data:
        return 0.0
    return len(data) / len(zlib.compress(data))
