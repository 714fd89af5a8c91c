"""Map misrecognized spans of a transcript back to vocabulary terms.

``correct(text, lexicon)`` looks at every run of one to five words, and for runs that are
not already a vocabulary term it asks the lexicon's sound index for terms that sound
alike. A run is replaced when its score reaches the threshold:

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
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from vocabulary.lexicon import (
    FILLER_WORDS,
    FUNCTION_WORDS,
    TITLE_WORDS,
    Lexicon,
    Token,
    tokenize,
)
from vocabulary.phonetic import (
    VOWEL,
    jaro_winkler,
    key_similarity,
    key_weight,
    phonetic_key,
    spell_letters,
)

DEFAULT_THRESHOLD = 0.74
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
_SPELLED_TITLES = frozenset({"doctor", "dr"})
_DETERMINERS = frozenset(
    {"the", "my", "a", "your", "his", "her", "our", "their", "that", "this", "any", "another"}
)
_BARRIER_MIN_LEN = 6  # single-word cues at least this long are never part of a span
# A replacement whose best rival (another term for overlapping words) scores within this
# of it is not made: when two terms fit the sound about equally, guessing one invents a
# term about half the time, and leaving the words as heard invents none.
AMBIGUITY_MARGIN = 0.08
# Liberal search (biasing candidates): sound similarity an uncued run of ordinary words
# needs, and a run of ordinary words after "his doctor"/"the doctor".
LIBERAL_UNCUED_SOUND = 0.72
LIBERAL_WEAK_TITLE_SOUND = 0.88


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


@dataclass
class _Match:
    i: int
    j: int  # exclusive token index
    form: int
    score: float
    base: float
    reason: str
    exact: bool = False


class _Analysis:
    """Tokens of one transcript with the facts every span check needs."""

    def __init__(self, text: str, lexicon: Lexicon):
        self.text = text
        self.lex = lexicon
        self.tokens: list[Token] = tokenize(text)
        n = len(self.tokens)
        self.norms = [t.norm for t in self.tokens]
        self.common = [lexicon.is_common(t.norm) for t in self.tokens]
        # A phrase break between token k and k+1 (punctuation; a dot only after a word,
        # not after an initial or a title).
        self.breaks = [False] * n
        for k in range(n - 1):
            gap = text[self.tokens[k].end : self.tokens[k + 1].start]
            if "?" in gap or "!" in gap or "," in gap or ";" in gap:
                self.breaks[k] = True
            elif "." in gap and len(self.tokens[k].norm) > 1 and self.norms[k] not in TITLE_WORDS:
                self.breaks[k] = True
        self.titles = [self._is_title(k) for k in range(n)]
        # "doctor" after a determiner ("his doctor"): often a misheard "is Doctor"; only
        # the liberal candidate search (for biasing, checked against the audio) uses it.
        self.weak_titles = [
            self.norms[k] in TITLE_WORDS
            and not self.titles[k]
            and (k + 1 >= n or "," not in text[self.tokens[k].end : self.tokens[k + 1].start])
            for k in range(n)
        ]
        # A title right before a name slot: "Dr." or "Doctor" not set off by a comma.
        self.strong_titles = [
            self.titles[k] and "," not in text[self.tokens[k].end : self.tokens[k + 1].start]
            if k + 1 < n
            else False
            for k in range(n)
        ]
        barriers = {
            words[0]
            for cues in lexicon.cues.values()
            for words in cues.before + cues.after
            if len(words) == 1 and len(words[0]) >= _BARRIER_MIN_LEN
        }
        self.barrier = [self.norms[k] in barriers or self.norms[k] in TITLE_WORDS for k in range(n)]
        self.locked = [False] * n
        self._before: dict[tuple[str, int], str | None] = {}
        self._after: dict[tuple[str, int], str | None] = {}
        self._inside: dict[tuple[str, int, int], list[tuple[str, ...]]] = {}

    def _is_title(self, k: int) -> bool:
        """Token k is a title announcing a name ("Dr." / "Doctor", not "the doctor")."""
        if self.norms[k] not in TITLE_WORDS:
            return False
        if k > 0 and self.norms[k - 1] in _DETERMINERS and not self.tokens[k].raw[0].isupper():
            return False
        return True

    def sentence_start(self, k: int) -> bool:
        return k == 0 or self.breaks[k - 1]

    def cue(self, category: str, i: int, j: int) -> str | None:
        """The context cue for ``category`` next to tokens [i, j), if any."""
        key = (category, i)
        if key not in self._before:
            self._before[key] = self._cue_before(category, i)
        found = self._before[key]
        if found is not None:
            return found
        key = (category, -j)
        if key not in self._after:
            self._after[key] = self._cue_after(category, j)
        return self._after[key]

    def _cue_before(self, category: str, i: int) -> str | None:
        if category == "provider" and i > 0 and self.titles[i - 1]:
            return self.tokens[i - 1].raw
        cues = self.lex.cues.get(category)
        if cues is None:
            return None
        # The phrase ends right before the span, or one filler word earlier.
        for end in (i, i - 1):
            if end < i and (end < 0 or self.norms[end] not in FILLER_WORDS):
                continue
            for phrase in cues.before:
                start = end - len(phrase)
                if start >= 0 and tuple(self.norms[start:end]) == phrase:
                    if not any(self.breaks[start:end]):
                        return " ".join(phrase)
        return None

    def _cue_after(self, category: str, j: int) -> str | None:
        cues = self.lex.cues.get(category)
        if cues is None:
            return None
        for phrase in cues.after:
            stop = j + len(phrase)
            if stop <= len(self.norms) and tuple(self.norms[j:stop]) == phrase:
                if not self.breaks[j - 1]:
                    return " ".join(phrase)
        return None

    def contains_cue(self, category: str, i: int, j: int, own: tuple[str, ...] = ()) -> bool:
        """Whether the span holds a cue phrase of ``category`` (so it is not the term).

        Words of the term itself (``own``: "scan" in "CT scan") do not count.
        """
        key = (category, i, j)
        found = self._inside.get(key)
        if found is None:
            found = self._inside[key] = self._cues_inside(category, i, j)
        return any(not all(word in own for word in phrase) for phrase in found)

    def _cues_inside(self, category: str, i: int, j: int) -> list[tuple[str, ...]]:
        cues = self.lex.cues.get(category)
        if cues is None:
            return []
        words = self.norms[i:j]
        present = set(words)
        found = []
        for phrase in cues.before + cues.after:
            if phrase[0] not in present:
                continue
            size = len(phrase)
            for k in range(len(words) - size + 1):
                if tuple(words[k : k + size]) == phrase:
                    found.append(phrase)
                    break
        return found

    def span_keys(self, i: int, j: int) -> tuple[str, ...]:
        """Phonetic keys of tokens [i, j).

        As read, spelled out (acronyms), and without a first consonant that the previous
        word ends with ("of foam perzole" → "omeprazole").
        """
        key = phonetic_key(" ".join(self.norms[i:j]))
        keys = [key]
        if any(t.acronym for t in self.tokens[i:j]):
            lettered = "".join(
                spell_letters(t.norm) if t.acronym else t.norm for t in self.tokens[i:j]
            )
            keys.append(phonetic_key(lettered))
        if i > 0 and len(key) > 2 and key[0] != VOWEL:
            prev = phonetic_key(self.norms[i - 1])
            if prev and prev[-1] == key[0]:
                keys.append(key[1:])
        return tuple(k for k in dict.fromkeys(keys) if k)

    def span_ok(self, i: int, j: int) -> bool:
        """The span may be replaced: no locked, title or barrier word, no sentence break."""
        if any(self.locked[i:j]) or any(self.barrier[i:j]):
            return False
        return not any(self.breaks[i : j - 1])


def _exact_matches(an: _Analysis) -> list[_Match]:
    """Spans that already are a term, longest first, non-overlapping; they get locked."""
    lex = an.lex
    n = len(an.tokens)
    found: list[_Match] = []
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
                found.append(_Match(i, j, fid, 1.0, 1.0, "exact, respaced", exact=True))
                for k in range(i, j):
                    taken[k] = True
                break
    return found


def _fuzzy_matches(an: _Analysis, floor: float, liberal: bool = False) -> list[_Match]:
    """Sound-alike and confusion-table candidates for every eligible span.

    ``liberal`` (for choosing biasing terms, not for replacing text) lets a run of ordinary
    words through whenever a cue for the category is next to it, whatever its sound
    score, but takes a provider only in a name slot after a title.
    """
    lex = an.lex
    n = len(an.tokens)
    out: list[_Match] = []
    categories = lex.categories
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
                # only matched where a title (or a provider cue) announces a name.
                allowed.discard("provider")
            conf = lex.confusions.get(words)
            if conf is not None:
                term = lex.terms[conf]
                cue = cues.get(term.category)
                if (not all_common or cue) and (not name_slot or term.category == "provider"):
                    reason = "confusion table" + (f", cue '{cue}'" if cue else "")
                    out.append(_Match(i, j, lex.first_form[conf], CONFUSION_SCORE, 1.0, reason))
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
            for fid in lex.fuzzy_candidates(
                keys, limit=FUZZY_LIMIT, weight=span_weight, categories=allowed
            ):
                form = lex.forms[fid]
                term = lex.terms[form.term]
                if term.category not in allowed:
                    continue
                form_weight = lex.form_weights[fid]
                cue = cues.get(term.category)
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
                spell = jaro_winkler(joined, form.joined)
                base = SOUND_WEIGHT * sound + (1 - SOUND_WEIGHT) * max(spell, SPELL_FLOOR * sound)
                score = base + (CUE_BONUS if cue else 0.0)
                reason = f"sounds like '{form.joined}' ({sound:.2f})"
                if cue:
                    reason += f", cue '{cue}'"
                out.append(_Match(i, j, fid, score, base, reason))
    return out


def _select(
    matches: list[_Match],
    threshold: float,
    n: int,
    terms: list[int] | None = None,
    margin: float = 0.0,
) -> list[_Match]:
    """Non-overlapping matches over ``threshold``, best first.

    With ``terms`` (the term of each match) and a ``margin``, a match is dropped, and its
    words left as they are, when a match for another term over overlapping words scores
    within ``margin`` of it; a confusion-table entry is never dropped that way.
    """
    chosen: list[_Match] = []
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


def _analyse(
    text: str, lexicon: Lexicon, floor: float, liberal: bool = False
) -> tuple[_Analysis, list[_Match]]:
    an = _Analysis(text, lexicon)
    exact = _exact_matches(an)
    for m in exact:
        for k in range(m.i, m.j):
            an.locked[k] = True
    for k, norm in enumerate(an.norms):
        if lexicon.is_derived(norm):
            an.locked[k] = True  # "a dermatologist" was said, not a misheard "dermatology"
    return an, exact + _fuzzy_matches(an, floor, liberal)


def correct(text: str, lexicon: Lexicon, *, threshold: float = DEFAULT_THRESHOLD) -> Correction:
    """Replace misrecognized vocabulary terms in a transcript.

    Args:
        text: The transcript as the STT produced it.
        lexicon: The deployment vocabulary.
        threshold: Minimum score for a replacement; higher changes less.

    Returns:
        The corrected text and one :class:`Change` per replacement (offsets refer to
        ``text``). Text outside the replaced spans, including case and punctuation, is
        kept as it was.
    """
    if not text or not text.strip():
        return Correction(text, text, [])
    an, matches = _analyse(text, lexicon, floor=max(0.0, threshold - CUE_BONUS - 0.15))
    fuzzy = [m for m in matches if not m.exact]
    chosen = _select(
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
    an = _Analysis(text, lexicon)
    found = sorted(_exact_matches(an), key=lambda m: m.i)
    names = [lexicon.terms[lexicon.forms[m.form].term].text for m in found]
    return list(dict.fromkeys(names))


def term_spans(text: str, lexicon: Lexicon) -> list[tuple[int, int, str]]:
    """Character spans of the terms literally present: ``(start, end, canonical term)``."""
    an = _Analysis(text, lexicon)
    found = sorted(_exact_matches(an), key=lambda m: m.i)
    return [
        (
            an.tokens[m.i].start,
            an.tokens[m.j - 1].end,
            lexicon.terms[lexicon.forms[m.form].term].text,
        )
        for m in found
    ]


def candidates(
    text: str, lexicon: Lexicon, *, floor: float = 0.6, limit: int = 8, margin: float = 0.12
) -> list[Candidate]:
    """Terms that may have been said, best first: exact ones and sound-alikes above ``floor``.

    Used to choose the vocabulary subset that biases a second STT pass, so it is more
    liberal than :func:`correct` about ordinary words next to a cue ("refill my map from
    in") and stricter about providers (only after a title).
    """
    if not text or not text.strip():
        return []
    an, matches = _analyse(text, lexicon, floor=max(0.0, floor - CUE_BONUS), liberal=True)
    best: dict[int, _Match] = {}
    for m in matches:
        if m.score < floor:
            continue
        tid = lexicon.forms[m.form].term
        if tid not in best or m.score > best[tid].score:
            best[tid] = m
    # Keep a term only if no overlapping span has a much better candidate.
    ranked_all = sorted(best.items(), key=lambda item: -item[1].score)
    kept: list[tuple[int, _Match]] = []
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
