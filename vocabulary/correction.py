"""Map misrecognized spans of a transcript back to vocabulary terms.

``correct(text, lexicon)`` looks at every run of one to five words, and for runs that are
not already a vocabulary term it asks the lexicon's sound index for terms that sound
alike (:mod:`vocabulary.matching`). A run is replaced when its score reaches the
threshold:

- score = sound similarity of the phonetic keys (mostly) and spelling similarity, plus a
  bonus when a context cue for the term's category sits next to the run ("Doctor …",
  "refill my …", "referral to …", "… prescription");
- a run made only of ordinary English words ("my aunt", "met four men") is changed only
  with a cue for the category and a near-perfect sound match, so ordinary speech is
  left alone; short runs (one or two sounds) also need a cue;
- the vocabulary's confusion table ("met for men" → metformin) scores as a sure match,
  subject to the same ordinary-words rule.

Overlapping candidates are resolved best score first. Every change carries the raw span,
its offsets in the raw text, the replacement, the term, the score and the reason.
``candidates`` is the more liberal search that picks the terms biasing a second STT pass.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

from vocabulary.analysis import Analysis
from vocabulary.lexicon import Lexicon
from vocabulary.matching import AMBIGUITY_MARGIN, CUE_BONUS, Match, analyse, exact_matches, select

if TYPE_CHECKING:
    from vocabulary.context import ConversationContext

DEFAULT_THRESHOLD = 0.74
_SPELLED_TITLES = frozenset({"doctor", "dr"})


@dataclass(frozen=True)
class Change:
    """One replacement made in a transcript, for the audit log.

    Attributes:
        start: Offset of the first replaced character in the raw text.
        end: Offset just past the last replaced character in the raw text.
        raw: The replaced text as heard (``raw_text[start:end]``).
        replacement: What was put in its place.
        term: Canonical vocabulary term ("Dr. Kowalczyk").
        category: The term's category ("provider", "medication", ...).
        score: Match score (0..~1.1; the threshold applies to it).
        reason: How the match was made ("confusion table", "sounds like", context cue).
    """

    start: int
    end: int
    raw: str
    replacement: str
    term: str
    category: str
    score: float
    reason: str

    def to_dict(self) -> dict:
        """Plain-JSON form for the audit log."""
        data = asdict(self)
        data["score"] = round(self.score, 3)
        return data


@dataclass(frozen=True)
class Correction:
    """A corrected transcript and the changes that produced it."""

    raw: str
    text: str
    changes: list[Change] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        """Whether any replacement was made."""
        return bool(self.changes)


@dataclass(frozen=True)
class Candidate:
    """A term that may have been said: its best-matching span and score."""

    term: str
    category: str
    score: float
    start: int
    end: int
    exact: bool


def correct(
    text: str,
    lexicon: Lexicon,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    context: ConversationContext | None = None,
) -> Correction:
    """Replace misrecognized vocabulary terms in a transcript.

    Args:
        text: The transcript as the STT produced it.
        lexicon: The deployment vocabulary.
        threshold: Minimum score for a replacement; higher changes less.
        context: What the bot's last line offered or asked for
            (:class:`vocabulary.context.ConversationContext`); ``None``: nothing.

    Returns:
        The corrected text and one :class:`Change` per replacement (offsets refer to
        ``text``). Text outside the replaced spans, including case and punctuation, is
        kept as it was.
    """
    if not text or not text.strip():
        return Correction(text, text, [])
    an, matches = analyse(
        text, lexicon, floor=max(0.0, threshold - CUE_BONUS - 0.15), context=context
    )
    fuzzy = [m for m in matches if not m.exact]
    chosen = select(
        fuzzy,
        threshold,
        len(an.tokens),
        [lexicon.forms[m.form].term for m in fuzzy],
        AMBIGUITY_MARGIN,
    )
    # A term already said but split or joined differently ("physical the rapy",
    # "E.N.T.") is written the vocabulary's way.
    respaced = [
        m
        for m in matches
        if m.exact and tuple(an.norms[m.i : m.j]) != lexicon.display_tokens[m.form]
    ]
    chosen = sorted(chosen + respaced, key=lambda m: m.i)
    changes: list[Change] = []
    for m in chosen:
        form = lexicon.forms[m.form]
        term = lexicon.terms[form.term]
        i, j = m.i, m.j
        replacement = form.display
        # A misheard title before a provider name is fixed along with the name.
        if (
            term.category == "provider"
            and i > 0
            and an.titles[i - 1]
            and an.norms[i - 1] not in _SPELLED_TITLES
        ):
            i -= 1
            replacement = term.text
        start, end = an.tokens[i].start, an.tokens[j - 1].end
        raw = text[start:end]
        if an.sentence_start(i) and replacement[:1].islower():
            replacement = replacement[:1].upper() + replacement[1:]
        # A span cut out of a glued word ("subprescription") gets its space back.
        if end < len(text) and text[end].isalnum():
            replacement += " "
        if start > 0 and text[start - 1].isalnum():
            replacement = " " + replacement
        if raw == replacement:
            continue
        changes.append(
            Change(start, end, raw, replacement, term.text, term.category, m.score, m.reason)
        )
    return Correction(text, apply_changes(text, changes), changes)


def apply_changes(text: str, changes: list[Change]) -> str:
    """``text`` with non-overlapping ``changes`` (offsets into ``text``) applied."""
    out = text
    for change in sorted(changes, key=lambda c: c.start, reverse=True):
        out = out[: change.start] + change.replacement + out[change.end :]
    return out


def find_terms(text: str, lexicon: Lexicon) -> list[str]:
    """Canonical terms literally present in ``text`` (case and punctuation ignored).

    A provider counts when the name is present ("Patel", "Dr. Patel"); a provider whose
    name is an ordinary word counts only after a title. Terms are listed once, in order.
    """
    an = Analysis(text, lexicon)
    found = sorted(exact_matches(an), key=lambda m: m.i)
    names = [lexicon.terms[lexicon.forms[m.form].term].text for m in found]
    return list(dict.fromkeys(names))


def term_spans(text: str, lexicon: Lexicon) -> list[tuple[int, int, str]]:
    """Character spans of the terms literally present: ``(start, end, canonical term)``."""
    an = Analysis(text, lexicon)
    found = sorted(exact_matches(an), key=lambda m: m.i)
    return [
        (
            an.tokens[m.i].start,
            an.tokens[m.j - 1].end,
            lexicon.terms[lexicon.forms[m.form].term].text,
        )
        for m in found
    ]


def candidates(
    text: str,
    lexicon: Lexicon,
    *,
    floor: float = 0.6,
    limit: int = 8,
    margin: float = 0.12,
    context: ConversationContext | None = None,
) -> list[Candidate]:
    """Terms that may have been said, best first: exact ones and sound-alikes above ``floor``.

    Used to choose the vocabulary subset that biases a second STT pass, so it is more
    liberal than :func:`correct` about ordinary words next to a cue ("refill my map from
    in") and stricter about providers (only after a title, or offered in ``context``).
    """
    if not text or not text.strip():
        return []
    an, matches = analyse(
        text, lexicon, floor=max(0.0, floor - CUE_BONUS), liberal=True, context=context
    )
    best: dict[int, Match] = {}
    for m in matches:
        if m.score < floor:
            continue
        tid = lexicon.forms[m.form].term
        if tid not in best or m.score > best[tid].score:
            best[tid] = m
    # Keep a term only if no overlapping span has a much better candidate.
    ranked_all = sorted(best.items(), key=lambda item: -item[1].score)
    kept: list[tuple[int, Match]] = []
    for tid, m in ranked_all:
        rivals = [k for _, k in kept if k.i < m.j and m.i < k.j]
        if rivals and max(k.score for k in rivals) - m.score > margin:
            continue
        kept.append((tid, m))
    ranked = kept[:limit]
    out = []
    for tid, m in ranked:
        term = lexicon.terms[tid]
        start, end = an.tokens[m.i].start, an.tokens[m.j - 1].end
        out.append(Candidate(term.text, term.category, m.score, start, end, m.exact))
    return out
