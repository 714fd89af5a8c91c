"""Candidate matches of a transcript's spans to vocabulary terms, and choosing among them.

``exact_matches`` finds spans that already are a term (they get locked); ``fuzzy_matches``
scores every other eligible span of one to five words against its sound-alike forms (the
lexicon's sound index ranks them, the weighted key distance scores the best few) and the
confusion table; ``select`` keeps the best non-overlapping ones over a threshold, leaving
close calls between two terms alone. :mod:`vocabulary.correction` builds on these.

Score = ``SOUND_WEIGHT`` × sound similarity + (1 − ``SOUND_WEIGHT``) × max(spelling
similarity (Jaro-Winkler, rapidfuzz), ``SPELL_FLOOR`` × sound), + ``CUE_BONUS`` next to a
context cue of the term's category.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rapidfuzz.distance import JaroWinkler

from vocabulary.analysis import Analysis
from vocabulary.distance import key_similarity, key_weight
from vocabulary.lexicon import Lexicon
from vocabulary.words import FUNCTION_WORDS

if TYPE_CHECKING:
    from vocabulary.context import ConversationContext

CUE_BONUS = 0.1
COMMON_MIN_ONE = 0.95  # sound similarity a single ordinary word needs (with a cue)
COMMON_MIN_MULTI = 0.8  # ... and a run of several ordinary words (with a cue)
CONFUSION_SCORE = 1.0
SHORT_KEY = 2.6  # runs whose key weighs less than this need a cue
MAX_SPAN = 5
FUZZY_LIMIT = 12  # sound-alike forms scored per span (the index ranks them first)
ODD_SHARE = 0.5  # without a cue, at least this share of a span's letters is in odd words
SOUND_WEIGHT = 0.7  # share of the sound similarity in the base score (rest: spelling)
SPELL_FLOOR = 0.8  # a spelling unlike the term's costs at most this share of the sound score
# A replacement whose best rival (another term for overlapping words) scores within this
# of it is not made: when two terms fit the sound about equally, guessing one invents a
# term about half the time, and leaving the words as heard invents none.
AMBIGUITY_MARGIN = 0.08
# Liberal search (biasing candidates): sound similarity an uncued run of ordinary words
# needs, and a run of ordinary words after "his doctor"/"the doctor".
LIBERAL_UNCUED_SOUND = 0.72
LIBERAL_WEAK_TITLE_SOUND = 0.88


@dataclass
class Match:
    """A span [i, j) of tokens matched to a spoken form, with its score and reason."""

    i: int
    j: int  # exclusive token index
    form: int
    score: float
    base: float
    reason: str
    exact: bool = False


def exact_matches(an: Analysis) -> list[Match]:
    """Spans that already are a term, longest first, non-overlapping; they get locked."""
    lex = an.lex
    n = len(an.tokens)
    found: list[Match] = []
    taken = [False] * n
    for length in range(min(lex.max_form_tokens + 2, MAX_SPAN), 0, -1):
        for i in range(0, n - length + 1):
            j = i + length
            if any(taken[i:j]) or any(an.breaks[i : j - 1]):
                continue
            joined = "".join(an.norms[i:j])
            for fid in lex.exact_forms(joined):
                form = lex.forms[fid]
                term = lex.terms[form.term]
                if term.category == "provider" and all(an.common[i:j]):
                    # A provider whose name is an ordinary word ("Dr. Long") only counts
                    # after a title.
                    if not (i > 0 and an.titles[i - 1]):
                        continue
                found.append(Match(i, j, fid, 1.0, 1.0, "exact, respaced", exact=True))
                for k in range(i, j):
                    taken[k] = True
                break
    return found


def fuzzy_matches(
    an: Analysis, floor: float, liberal: bool = False, context: ConversationContext | None = None
) -> list[Match]:
    """Sound-alike and confusion-table candidates for every eligible span.

    ``liberal`` (for choosing biasing terms, not for replacing text) lets a run of ordinary
    words through whenever a cue for the category is next to it, whatever its sound
    score, but takes a provider only in a name slot after a title.

    ``context`` (what the bot's last line offered or asked for): a term it offered counts
    as cued anywhere in the answer, even in a run of ordinary words or with no title (a
    provider otherwise needs one); a category it asked for, naming no term of it ("Which
    doctor do you usually see?"), cues every run of unusual words for that category.
    """
    lex = an.lex
    n = len(an.tokens)
    out: list[Match] = []
    categories = lex.categories
    offered = context.forms(lex) if context is not None else frozenset()
    offered_categories = context.offered_categories(lex) if context is not None else frozenset()
    expected = context.expected if context is not None else frozenset()
    for i in range(n):
        weak_slot = liberal and i > 0 and an.weak_titles[i - 1]
        name_slot = i > 0 and an.strong_titles[i - 1] or weak_slot
        for j in range(i + 1, min(n, i + MAX_SPAN) + 1):
            if not an.span_ok(i, j):
                break  # longer spans from i would contain the same obstacle
            words = tuple(an.norms[i:j])
            all_common = all(an.common[i:j])
            # Which categories this span may stand for, and the cue for each.
            cues = {cat: an.cue(cat, i, j) for cat in categories}
            if weak_slot and not cues.get("provider"):
                cues["provider"] = an.tokens[i - 1].raw
            if not all_common and not name_slot:
                for cat in expected:
                    cues[cat] = cues.get(cat) or f"asked for a {cat}"
            # Categories a span may stand for only because the bot offered such a term.
            offer_only = set() if name_slot else offered_categories - {c for c in cues if cues[c]}
            # Liberal search only: a run of several ordinary words with no cue may still
            # be a misheard term ("listen opera"), if it sounds very much like one.
            uncued = False
            if all_common:
                # Grammatical words alone are never a term ("in the"); after a title a run
                # of them may be a misheard name ("Doctor or do your"), one alone is not.
                function_only = all(w in FUNCTION_WORDS for w in words)
                if function_only and (not name_slot or j - i == 1):
                    continue
                allowed = {cat for cat, cue in cues.items() if cue}
                if name_slot:
                    allowed.add("provider")
                allowed |= offer_only
                if not allowed and liberal and j - i >= 2 and not function_only:
                    allowed = set(categories) - {"provider"}
                    uncued = True
                if not allowed:
                    continue
            else:
                allowed = set(categories)
            if name_slot:
                # Right after a title only a name fits ("Dr. Madar" is not a drug).
                allowed &= {"provider"}
            elif not cues.get("provider"):
                # With thousands of names, one sounds like almost anything: a provider is
                # only matched where a title (or a provider cue) announces a name, or one
                # the bot just offered.
                allowed.discard("provider")
                allowed |= offer_only & {"provider"}
            if not all_common:
                offer_only &= {"provider"}  # other categories were allowed anyway
            conf = lex.confusions.get(words)
            if conf is not None:
                term = lex.terms[conf]
                cue = cues.get(term.category)
                if (not all_common or cue) and (not name_slot or term.category == "provider"):
                    reason = "confusion table" + (f", cue '{cue}'" if cue else "")
                    out.append(Match(i, j, lex.first_form[conf], CONFUSION_SCORE, 1.0, reason))
            if not allowed:
                continue
            keys = an.span_keys(i, j)
            if not keys:
                continue
            key_weights = [key_weight(k) for k in keys]
            span_weight = key_weights[0]
            if uncued and span_weight < SHORT_KEY:
                continue  # no cue anywhere: too short to stand for any term
            # The edit distance may stop early below the lowest similarity that can count.
            sound_floor = max(floor, LIBERAL_UNCUED_SOUND - 0.01) if uncued else floor
            joined = "".join(words)
            common_min = COMMON_MIN_ONE if j - i == 1 else COMMON_MIN_MULTI
            # Without a cue, the odd words must carry most of the span ("feel dizzy when"
            # is an ordinary phrase around one unlisted word, not a misheard drug).
            odd_letters = sum(len(w) for w, c in zip(words, an.common[i:j], strict=True) if not c)
            mostly_odd = odd_letters >= ODD_SHARE * len(joined)
            found = lex.index.candidates(
                keys, limit=FUZZY_LIMIT, weight=span_weight, categories=allowed
            )
            found += [fid for fid in offered if fid not in found]
            for fid in found:
                form = lex.forms[fid]
                term = lex.terms[form.term]
                if term.category not in allowed:
                    continue
                if term.category in offer_only and fid not in offered:
                    continue
                form_weight = lex.form_weights[fid]
                cue = cues.get(term.category) or ("offered" if fid in offered else None)
                if not cue and (
                    min(span_weight, form_weight) < SHORT_KEY or not (mostly_odd or uncued)
                ):
                    continue
                sound = max(
                    key_similarity(a, b, sound_floor, wa, wb)
                    for a, wa in zip(keys, key_weights, strict=True)
                    for b, wb in zip(form.keys, lex.key_weights[fid], strict=True)
                )
                if sound <= floor or (uncued and sound < LIBERAL_UNCUED_SOUND):
                    continue
                if weak_slot and all_common and sound < LIBERAL_WEAK_TITLE_SOUND:
                    continue
                provider_slot = name_slot and term.category == "provider"
                if all_common and not liberal and not provider_slot and sound < common_min:
                    continue
                if an.contains_cue(term.category, i, j, form.tokens):
                    continue
                spell = JaroWinkler.similarity(joined, form.joined)
                base = SOUND_WEIGHT * sound + (1 - SOUND_WEIGHT) * max(spell, SPELL_FLOOR * sound)
                score = base + (CUE_BONUS if cue else 0.0)
                reason = f"sounds like '{form.joined}' ({sound:.2f})"
                if cue:
                    reason += f", cue '{cue}'"
                out.append(Match(i, j, fid, score, base, reason))
    return out


def select(
    matches: list[Match],
    threshold: float,
    n: int,
    terms: list[int] | None = None,
    margin: float = 0.0,
) -> list[Match]:
    """Non-overlapping matches over ``threshold``, best first.

    With ``terms`` (the term of each match) and a ``margin``, a match is dropped, and its
    words left as they are, when a match for another term over overlapping words scores
    within ``margin`` of it; a confusion-table entry is never dropped that way.
    """
    chosen: list[Match] = []
    used = [False] * n
    ranked = sorted(
        (m for m in matches if m.score >= threshold),
        key=lambda m: (-(m.score - 0.01 * (m.j - m.i)), m.i),
    )
    index = {id(m): k for k, m in enumerate(matches)}
    for m in ranked:
        if any(used[m.i : m.j]):
            continue
        if terms is not None and margin > 0 and not m.reason.startswith("confusion"):
            own = terms[index[id(m)]]
            if any(
                terms[k] != own and o.i < m.j and m.i < o.j and o.score > m.score - margin
                for k, o in enumerate(matches)
            ):
                for k in range(m.i, m.j):
                    used[k] = True
                continue
        chosen.append(m)
        for k in range(m.i, m.j):
            used[k] = True
    return sorted(chosen, key=lambda m: m.i)


def analyse(
    text: str,
    lexicon: Lexicon,
    floor: float,
    liberal: bool = False,
    context: ConversationContext | None = None,
) -> tuple[Analysis, list[Match]]:
    """The analysis of ``text`` and every match: exact ones (locked) and fuzzy ones.

    Words naming the person of a term ("dermatologist") are locked too. ``context``: see
    :func:`fuzzy_matches`.
    """
    an = Analysis(text, lexicon)
    exact = exact_matches(an)
    for m in exact:
        for k in range(m.i, m.j):
            an.locked[k] = True
    for k, norm in enumerate(an.norms):
        if lexicon.is_derived(norm):
            an.locked[k] = True  # "a dermatologist" was said, not a misheard "dermatology"
    return an, exact + fuzzy_matches(an, floor, liberal, context)
