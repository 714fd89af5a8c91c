"""The vocabulary-biased second pass: rare names heard right, never invented.

With a lexicon, the terms the first pass may contain (exact or sound-alike,
:func:`vocabulary.candidates`) become hotwords for a second, greedy decoding pass over the
same encoder output. It runs only when a doubtful span is left that the corrector does not
settle on its own, and it keeps the first pass's words before the first doubtful span as a
forced prefix. Whisper picks among close hotwords almost at random and sometimes writes a
hotword that was not said, so every term the biased pass wrote (and the first pass did
not), and every strong first-pass candidate it did not write, is checked against the audio
by forced alignment (the decoder's log-probability of the whole sentence with the term,
with each rival in its place, and with the words heard there), all in one batch; a term is
kept only if it clearly beats both the words heard and its rivals.

:class:`BiasedPass` is mixed into :class:`speech.transcriber.Transcriber`, whose decoder
(:class:`speech.whisper.WhisperDecoder`) and settings (``lexicon``, ``biasing``,
``threshold``) it uses. With ``context`` (what the bot just offered or asked for,
:class:`vocabulary.ConversationContext`) the offered terms join the candidates, the check
and the correction. The pass and its check share the span helpers at the bottom, so they
stay in one module (a little over 400 lines).
"""

from __future__ import annotations

import difflib
import re

import numpy as np

from speech.passes import after_subject
from vocabulary.context import ConversationContext
from vocabulary.correction import (
    Candidate,
    Change,
    candidates,
    correct,
    find_terms,
    term_spans,
)
from vocabulary.distance import key_similarity, key_weight
from vocabulary.lexicon import Lexicon
from vocabulary.phonetic import phonetic_key
from vocabulary.words import normalize_words

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


class BiasedPass:
    """Choosing the second pass's hotwords and checking its terms against the audio."""

    def bias_candidates(
        self, text: str, context: ConversationContext | None = None
    ) -> list[Candidate]:
        """Candidate terms for the second pass, or [] when the first pass needs no help."""
        return self._bias_plan(text, context)[0]

    def _bias_plan(
        self, text: str, context: ConversationContext | None = None
    ) -> tuple[list[Candidate], list[Change] | None, list[Candidate] | None]:
        """Second-pass candidates, with what was computed to choose them.

        ``context``: what the bot just offered or asked for (a term it offered is a
        candidate wherever the first pass heard something like it).

        Returns:
            The candidates for the second pass ([] when it is not needed), the corrector's
            changes to ``text`` and the longer candidate list (``RESCORE_POOL`` terms) for
            the audio check, each None when not computed.
        """
        if not self.biasing or not text:
            return [], None, None
        pool = self._pool(text, context)
        found = pool[:BIAS_LIMIT]  # the same as asking for BIAS_LIMIT terms
        if not any(not c.exact for c in found):
            return [], None, pool
        # Spans the corrector settles on its own need no second pass: it runs only when a
        # doubtful span is left that the corrector does not settle.
        fixed = correct(text, self.lexicon, threshold=self.threshold, context=context).changes
        if all(c.exact or _settled(c, found, fixed) for c in found):
            return [], fixed, pool
        return found, fixed, pool

    def _pool(self, text: str, context: ConversationContext | None) -> list[Candidate]:
        """The ``RESCORE_POOL`` candidates of ``text`` (the biased pass takes the first).

        Of the context only the offered terms count: a category asked for would make every
        name of it a hotword, and Whisper picks among close hotwords almost at random
        (tuning split of the context set: bare answers to "Which doctor …?" 0.411 terms
        right with the corrector alone, 0.389 with the whole context in the STT too).
        """
        return candidates(
            text,
            self.lexicon,
            floor=BIAS_FLOOR,
            limit=RESCORE_POOL,
            margin=BIAS_MARGIN,
            context=context.offers() if context is not None else None,
        )

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
        context: ConversationContext | None = None,
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
            context: What the bot just offered or asked for (as for the first pass).

        Returns:
            ``raw`` with each introduced term confirmed, swapped for a likelier rival, or
            reverted to what the first pass heard.
        """
        lexicon = self.lexicon
        trusted = {t.lower() for t in find_terms(first, lexicon)}
        # A term the corrector alone writes into the first pass, with no rival to weigh it
        # against, needs no audio check: it would be in the final text anyway.
        if first_changes is None:
            first_changes = correct(
                first, lexicon, threshold=self.threshold, context=context
            ).changes
        agreed = {c.term.lower() for c in first_changes}
        pool: list[str] = []
        heard_first = first_candidates
        if heard_first is None:
            heard_first = self._pool(first, context)
        for cand in heard_first + self._pool(raw, context):
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
        for fid in lexicon.index.candidates(
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
