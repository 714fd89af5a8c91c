"""A deployment vocabulary (providers, medications, specialties, procedures) ready to match.

The vocabulary file is JSON or YAML::

    {
      "providers":   ["Dr. Patel", {"term": "Dr. Kowalczyk", "spoken": ["doctor ko vall chick"]}],
      "medications": ["metformin", "insulin glargine"],
      "specialties": ["ENT", "cardiology"],
      "procedures":  ["MRI", "X-ray"],
      "confusions":  {"met for men": "metformin", "calks at kwon": "Dr. Kowalczyk"},
      "cues":        {"medication": {"before": ["dispense"], "after": ["inhaler"]}}
    }

Every list-valued key other than ``confusions``/``cues`` is a category; the common plural
names map to the singular category (``providers`` → ``provider``). An entry is a string or
an object with ``term`` and optional ``spoken`` (extra ways the term is said) and
``confusions`` (known misrecognitions). Providers written with a title ("Dr. Patel") are
matched both as "doctor patel" and as "patel"; acronyms ("ENT", "EKG") also as their
letters said one by one. Everything a match needs (tokens, phonetic keys, an index by
sound-class bigrams) is computed once in :meth:`Lexicon.load`.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np

from vocabulary.phonetic import key_weight, phonetic_key, skeleton, spell_letters

DATA_DIR = Path(__file__).resolve().parent / "data"
COMMON_WORDS_PATH = DATA_DIR / "common_words.txt"

CATEGORY_NAMES = {
    "providers": "provider",
    "provider": "provider",
    "doctors": "provider",
    "medications": "medication",
    "medication": "medication",
    "drugs": "medication",
    "specialties": "specialty",
    "specialty": "specialty",
    "departments": "specialty",
    "procedures": "procedure",
    "procedure": "procedure",
    "tests": "procedure",
}
RESERVED_KEYS = {"confusions", "cues", "name", "version", "description"}

# Words that say "a provider's name follows", including how tiny STT models mishear them.
TITLE_WORDS = frozenset(
    {"doctor", "dr", "doc", "docter", "docker", "dockter", "doktor", "doctors", "doctor's"}
)
# Endings that make the person of a term ("dermatolog|ist", "pediatric|ian").
DERIVED_ENDINGS = ("ists", "ist", "ians", "ian")
TITLE_PREFIXES = ("doctor", "docter", "docker", "dockter")
_TITLE_RE = re.compile(r"^\s*(dr\.?|doctor|prof\.?|professor)\s+", re.IGNORECASE)

# Context cues per category: phrases right before the term (a filler such as "my" may sit
# between) or right after it. Generic clinic-call wording, extendable from the file.
DEFAULT_CUES: dict[str, dict[str, list[str]]] = {
    # Providers are cued by a title right before the name ("Dr.", "Doctor"), see
    # TITLE_WORDS; extra phrases can be added from the vocabulary file.
    "provider": {"before": [], "after": []},
    "medication": {
        "before": """take | takes | taking | took | keep taking | stop taking | stopped taking |
            refill | refilled | refills | prescribed | prescribed me | prescribe | prescribe me |
            out of | been on | stay on | staying on | start | started | starting | stop |
            stopped | stopping | switch | switched | switch me from | try | tried | trying |
            dose of | doses of | dosage of | milligrams of | mg of | bottle of | supply of |
            days of | script for | prescription for | generic for | generic | allergic to |
            allergy to | reaction to | side effects of | pharmacy | medication | medicine |
            increase | increase my | lower my | double my""",
        "after": """prescription | prescriptions | refill | refills | dose | doses | dosage |
            tablet | tablets | pill | pills | capsule | capsules | mg | milligrams | injection |
            injections | inhaler | medication | medicine | side effects | with food |
            upset my | makes me | made me | is making me | twice a day | once a day |
            every morning | every night | at night | in the morning""",
    },
    "specialty": {
        "before": """referral to | referral for | refer me to | referred to | referred me to |
            sent to | sent me to | opening in | openings in | appointment in |
            appointment with | somebody in | someone in | doctor in | specialist in |
            department of | wait for | call in | over in | works in | hear back from""",
        "after": """department | clinic | specialist | specialists | doctor | doctors |
            appointment | appointments | see | sees | office | referral | unit | team | nurse |
            accept | accepts | wing | floor | waiting list""",
    },
    "procedure": {
        "before": """schedule | scheduled | book | booked | get my | have my | need a | for a |
            for my | before my | after my | before the | after the | due for | results of |
            ready for""",
        "after": """results | result | done | scan | test | appointment | report | booked |
            scheduled | due | take | tech | technician | covered | prep | preparation""",
    },
}
# Words that may sit between a "before" cue and the term ("refill my metformin").
FILLER_WORDS = frozenset(
    {"my", "the", "a", "an", "some", "your", "his", "her", "our", "their", "me", "more", "of"}
)

# Grammatical words: a run made only of these ("in the", "or do your") is never taken for
# a misheard term on its own.
FUNCTION_WORDS = frozenset(
    """a an the this that these those my your his her its our their me you him us them i
    we he she it they in on at to of for from by with about into onto over under up down
    out off as and or but nor so if then than because while when where what which who
    whom whose how why is am are was were be been being do does did have has had will
    would shall should can could may might must not no yes there here all any some each
    every just also too very really ill im id ive youre dont cant wont its thats""".split()
)

# Suffixes that make an inflected form of an ordinary word ("uncles", "tried", "walking").
_INFLECTIONS = (
    ("ies", "y"),
    ("es", ""),
    ("s", ""),
    ("ied", "y"),
    ("ed", ""),
    ("ed", "e"),
    ("ing", ""),
    ("ing", "e"),
    ("er", ""),
    ("ly", ""),
)

# A word, with inner apostrophes ("that's", "don't") but not a possessive "'s", which
# stays outside so a name can be replaced and keep it ("Petal's" → "Patel's").
_TOKEN_RE = re.compile(r"[A-Za-z0-9]+(?:['’](?![sS]\b)[A-Za-z]+)*")


class VocabularyError(ValueError):
    """The vocabulary file is missing, unreadable or malformed."""


@dataclass(frozen=True)
class Token:
    """One word of a transcript with its character offsets."""

    start: int
    end: int
    raw: str
    norm: str
    acronym: bool


def tokenize(text: str) -> list[Token]:
    """Split text into word tokens with offsets.

    Hyphens and dots split words ("X-ray" → "X", "ray"); apostrophes stay inside one
    ("that's" → "thats"), a possessive "'s" stays outside. A token glued to a misheard
    title ("Dockerquatch") or to a context word ("subprescription") is split in two, so
    the name can still be matched and the cue seen.
    """
    tokens: list[Token] = []
    for match in _TOKEN_RE.finditer(text):
        raw = match.group(0)
        if raw in ("s", "S") and match.start() > 0 and text[match.start() - 1] in "'’":
            continue  # the "s" of a possessive or "it's"
        norm = re.sub(r"['’]", "", raw).lower()
        start = match.start()
        for prefix in TITLE_PREFIXES:
            if norm.startswith(prefix) and len(norm) >= len(prefix) + 3:
                cut = start + len(prefix)
                tokens.append(Token(start, cut, text[start:cut], prefix, False))
                start, raw, norm = cut, raw[len(prefix) :], norm[len(prefix) :]
                break
        glued = _glued_suffix(norm)
        if glued:
            cut = match.end() - len(glued)
            tokens.append(_token(text, start, cut))
            start, raw, norm = cut, raw[-len(glued) :], glued
        tokens.append(_token(text, start, match.end()))
    return tokens


# Context words that Whisper sometimes glues to the misheard word before them
# ("subprescription"); split off so the cue is seen and the rest can be matched.
GLUED_CUES = ("prescription", "prescriptions", "prescribed", "referral", "results")


def _glued_suffix(norm: str) -> str | None:
    for cue in GLUED_CUES:
        if norm.endswith(cue) and len(norm) >= len(cue) + 2 and norm != cue:
            head = norm[: -len(cue)]
            if head not in ("re", "un", "pre", "non", "over", "under"):
                return cue
    return None


def _token(text: str, start: int, end: int) -> Token:
    raw = text[start:end]
    norm = re.sub(r"['’]", "", raw).lower()
    acronym = (raw.isupper() and 1 <= len(raw) <= 4) or (len(raw) == 1 and raw.isalpha())
    return Token(start, end, raw, norm, acronym)


def normalize_words(text: str) -> tuple[str, ...]:
    """Lower-case word tokens of a phrase, as matching sees them."""
    return tuple(token.norm for token in tokenize(text))


@dataclass(frozen=True)
class SpokenForm:
    """One way a term is said, ready for exact and fuzzy matching.

    Attributes:
        term: Index of the term in ``Lexicon.terms``.
        tokens: Normalized words ("doctor", "patel").
        joined: The words run together ("doctorpatel"), for exact matching.
        keys: Phonetic keys: of the words as read, and of the letters said one by one for
            acronyms.
        display: What replaces a misheard span matching this form ("Patel" for "Dr. Patel").
    """

    term: int
    tokens: tuple[str, ...]
    joined: str
    keys: tuple[str, ...]
    display: str


@dataclass(frozen=True)
class Term:
    """A vocabulary term: canonical text, category, and how it is said."""

    text: str
    category: str
    name: str
    forms: tuple[SpokenForm, ...] = ()


@dataclass(frozen=True)
class Cues:
    """Context phrases that announce a category, before or after a span."""

    before: tuple[tuple[str, ...], ...]
    after: tuple[tuple[str, ...], ...]


@dataclass
class Lexicon:
    """Terms with spoken forms, phonetic keys, confusions and context cues, indexed.

    Build with :meth:`load` (a file) or :meth:`from_dict`; treat as read-only afterwards.
    """

    terms: list[Term]
    forms: list[SpokenForm]
    confusions: dict[tuple[str, ...], int]
    cues: dict[str, Cues]
    common_words: frozenset[str]
    source: str = "<memory>"
    first_form: list[int] = field(default_factory=list, repr=False)
    form_weights: list[float] = field(default_factory=list, repr=False)
    display_tokens: list[tuple[str, ...]] = field(default_factory=list, repr=False)
    key_weights: list[tuple[float, ...]] = field(default_factory=list, repr=False)
    _exact: dict[str, list[int]] = field(default_factory=dict, repr=False)
    _postings: dict[str, np.ndarray] = field(default_factory=dict, repr=False)
    _gram_array: np.ndarray | None = field(default=None, repr=False)
    _weight_array: np.ndarray | None = field(default=None, repr=False)
    _category_masks: dict[str, np.ndarray] = field(default_factory=dict, repr=False)

    # --- construction -----------------------------------------------------------------

    @classmethod
    def load(cls, path: str | Path, *, common_words: Iterable[str] | None = None) -> Lexicon:
        """Read a JSON or YAML vocabulary file.

        Args:
            path: The file (``.json``, ``.yaml`` or ``.yml``).
            common_words: Override the shipped common-word list (mostly for tests).

        Raises:
            VocabularyError: The file is missing, unparsable or has malformed entries.
        """
        path = Path(path)
        try:
            content = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise VocabularyError(f"cannot read vocabulary file {path}: {exc}") from exc
        try:
            if path.suffix.lower() in (".yaml", ".yml"):
                import yaml

                data = yaml.safe_load(content)
            else:
                data = json.loads(content)
        except Exception as exc:  # noqa: BLE001 - any parser error is a bad file
            raise VocabularyError(f"cannot parse vocabulary file {path}: {exc}") from exc
        if not isinstance(data, Mapping):
            raise VocabularyError(f"{path}: the top level must be an object of categories")
        return cls.from_dict(data, source=str(path), common_words=common_words)

    @classmethod
    def from_dict(
        cls,
        data: Mapping,
        *,
        source: str = "<memory>",
        common_words: Iterable[str] | None = None,
    ) -> Lexicon:
        """Build a lexicon from the parsed file content (see the module docstring)."""
        terms: list[Term] = []
        forms: list[SpokenForm] = []
        by_text: dict[str, int] = {}
        pending_confusions: list[tuple[str, str]] = []

        for key, entries in data.items():
            if key in RESERVED_KEYS:
                continue
            if not isinstance(entries, list):
                raise VocabularyError(f"{source}: category '{key}' must be a list of terms")
            category = CATEGORY_NAMES.get(str(key).lower(), str(key).lower())
            for entry in entries:
                text, spoken, confusions = _parse_entry(entry, source, key)
                if text.lower() in by_text:
                    continue  # duplicates are harmless; keep the first
                index = len(terms)
                term_forms = _make_forms(index, text, category, spoken)
                if not term_forms:
                    raise VocabularyError(f"{source}: term {text!r} has no letters to match")
                name = _TITLE_RE.sub("", text) if category == "provider" else text
                terms.append(Term(text, category, name, tuple(term_forms)))
                forms.extend(term_forms)
                by_text[text.lower()] = index
                pending_confusions.extend((heard, text) for heard in confusions)

        raw_conf = data.get("confusions") or {}
        if isinstance(raw_conf, Mapping):
            pending_confusions.extend((str(k), str(v)) for k, v in raw_conf.items())
        elif isinstance(raw_conf, list):
            for item in raw_conf:
                if not isinstance(item, Mapping) or "heard" not in item or "term" not in item:
                    raise VocabularyError(
                        f"{source}: each confusion needs 'heard' and 'term', got {item!r}"
                    )
                pending_confusions.append((str(item["heard"]), str(item["term"])))
        else:
            raise VocabularyError(f"{source}: 'confusions' must be an object or a list")

        confusions: dict[tuple[str, ...], int] = {}
        for heard, target in pending_confusions:
            index = by_text.get(target.lower())
            if index is None:
                raise VocabularyError(
                    f"{source}: confusion {heard!r} points to unknown term {target!r}"
                )
            words = normalize_words(heard)
            if words:
                confusions[words] = index

        cues = _build_cues(data.get("cues") or {}, source)
        if common_words is None:
            common = load_common_words()
        else:
            common = frozenset(w.lower() for w in common_words)
        lexicon = cls(terms, forms, confusions, cues, common, source)
        lexicon._build_index()
        return lexicon

    def _build_index(self) -> None:
        exact: dict[str, list[int]] = defaultdict(list)
        postings: dict[str, list[int]] = defaultdict(list)
        first: dict[int, int] = {}
        gram_counts: list[int] = []
        for fid, form in enumerate(self.forms):
            first.setdefault(form.term, fid)
            self.form_weights.append(key_weight(form.keys[0]))
            self.display_tokens.append(normalize_words(form.display))
            self.key_weights.append(tuple(key_weight(k) for k in form.keys))
            exact[form.joined].append(fid)
            grams: set[str] = set()
            for key in form.keys:
                grams.update(skeleton_grams(key))
            gram_counts.append(len(grams))
            for gram in grams:
                postings[gram].append(fid)
        self.first_form = [first[t] for t in range(len(self.terms))]
        self._exact = dict(exact)
        self._postings = {g: np.asarray(ids, dtype=np.int32) for g, ids in postings.items()}
        self._gram_array = np.asarray(gram_counts, dtype=np.float64)
        self._weight_array = np.maximum(np.asarray(self.form_weights, dtype=np.float64), 0.1)
        form_categories = np.asarray([self.terms[f.term].category for f in self.forms])
        self._category_masks = {
            category: form_categories == category for category in self.categories
        }

    # --- queries ----------------------------------------------------------------------

    @cached_property
    def max_form_tokens(self) -> int:
        """Most words in any spoken form or confusion."""
        lengths = [len(form.tokens) for form in self.forms]
        lengths += [len(words) for words in self.confusions]
        return max(lengths, default=1)

    def exact_forms(self, joined: str) -> list[int]:
        """Indices of forms whose words, run together, equal ``joined``."""
        return self._exact.get(joined, [])

    def fuzzy_candidates(
        self,
        keys: Iterable[str],
        limit: int = 16,
        weight: float | None = None,
        ratio: tuple[float, float] = (0.55, 1.8),
        categories: Iterable[str] | None = None,
    ) -> list[int]:
        """Forms sharing sound-class bigrams with any of ``keys``, best Dice overlap first.

        Args:
            keys: Phonetic keys of a span.
            limit: Most forms returned.
            weight: The span key's weight; forms whose weight is out of ``ratio`` of it are
                skipped.
            ratio: Allowed span-to-form weight ratio.
            categories: Only forms of terms in these categories (default: all).
        """
        grams: set[str] = set()
        for key in keys:
            grams.update(skeleton_grams(key))
        postings = [self._postings[gram] for gram in grams if gram in self._postings]
        if not postings:
            return []
        counts = np.bincount(np.concatenate(postings), minlength=len(self.forms))
        dice = counts / (len(grams) + self._gram_array)
        if weight is not None:
            span_to_form = weight / self._weight_array
            dice[(span_to_form < ratio[0]) | (span_to_form > ratio[1])] = 0.0
        if categories is not None:
            wanted = set(categories)
            if wanted != set(self.categories):
                for category, mask in self._category_masks.items():
                    if category not in wanted:
                        dice[mask] = 0.0
        hits = int(np.count_nonzero(dice))
        if hits == 0:
            return []
        if hits <= limit:
            top = np.flatnonzero(dice)
        else:
            top = np.argpartition(-dice, limit)[:limit]
        return [int(fid) for fid in top[np.argsort(-dice[top], kind="stable")]]

    def is_common(self, word: str) -> bool:
        """Whether ``word`` is an ordinary English word or an inflection of one.

        Not a dictionary check: only tells ordinary words from likely misrecognitions.
        """
        common = self.common_words
        if word in common or word.isdigit():
            return True
        for suffix, repl in _INFLECTIONS:
            if word.endswith(suffix) and len(word) - len(suffix) >= 3:
                stem = word[: len(word) - len(suffix)] + repl
                if stem in common:
                    return True
        return False

    @cached_property
    def _term_stems(self) -> frozenset[str]:
        """Every form's spelling less at most its last three letters (at least 6 kept)."""
        return frozenset(
            form.joined[:k]
            for form in self.forms
            for k in range(max(6, len(form.joined) - 3), len(form.joined) + 1)
        )

    def is_derived(self, word: str) -> bool:
        """Whether ``word`` names the person of a term, not the term misheard.

        "dermatologist" (dermatology), "pediatrician" (pediatrics): without the ending
        the word is a term's spelling less at most its last three letters.
        """
        if word in self._exact:
            return False
        return any(
            word.endswith(ending)
            and len(word) - len(ending) >= 6
            and word[: -len(ending)] in self._term_stems
            for ending in DERIVED_ENDINGS
        )

    def term_by_text(self, text: str) -> Term | None:
        """The term with this canonical text (case-insensitive), if any."""
        low = text.lower()
        for term in self.terms:
            if term.text.lower() == low:
                return term
        return None

    def terms_of(self, category: str) -> list[str]:
        """The canonical text of every term of one category ("medication")."""
        return [t.text for t in self.terms if t.category == category]

    @cached_property
    def categories(self) -> list[str]:
        """Categories present, in file order."""
        seen: dict[str, None] = {}
        for term in self.terms:
            seen.setdefault(term.category, None)
        return list(seen)


def skeleton_grams(key: str) -> set[str]:
    """Index grams of a key, robust to one or two misheard sounds.

    Consonant-class bigrams (``b``), bigrams skipping one class (``s``), bigrams of five
    broad classes (``c``: lips, tongue tip, back, nasal, liquid), and the first and last
    broad class (``^``/``$``).
    """
    skel = skeleton(key)
    broad = _broad(skel)
    grams = {"b" + skel[i : i + 2] for i in range(len(skel) - 1)}
    grams.update("s" + skel[i] + skel[i + 2] for i in range(len(skel) - 2))
    grams.update("c" + broad[i : i + 2] for i in range(len(broad) - 1))
    if broad:
        grams.add("^" + broad[0])
        grams.add("$" + broad[-1])
    else:
        grams.add("^_")
    if len(skel) < 2:
        grams.add("u" + (skel or "_"))
    return grams


_BROAD = {"P": "P", "F": "P", "T": "T", "S": "T", "K": "K", "N": "N", "L": "L"}


def _broad(skel: str) -> str:
    out: list[str] = []
    for sym in skel:
        cls = _BROAD.get(sym, sym)
        if not out or out[-1] != cls:
            out.append(cls)
    return "".join(out)


def load_common_words(path: Path = COMMON_WORDS_PATH) -> frozenset[str]:
    """The shipped list of ordinary English words."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise VocabularyError(f"cannot read common-word list {path}: {exc}") from exc
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))


def _parse_entry(entry, source: str, key: str) -> tuple[str, list[str], list[str]]:
    if isinstance(entry, str):
        text, spoken, confusions = entry, [], []
    elif isinstance(entry, Mapping):
        text = entry.get("term") or entry.get("text") or entry.get("name")
        spoken = entry.get("spoken") or []
        confusions = entry.get("confusions") or entry.get("misheard") or []
        if isinstance(spoken, str):
            spoken = [spoken]
        if isinstance(confusions, str):
            confusions = [confusions]
        if not isinstance(spoken, list) or not isinstance(confusions, list):
            raise VocabularyError(f"{source}: 'spoken'/'confusions' of {text!r} must be lists")
    else:
        raise VocabularyError(f"{source}: entries of '{key}' must be strings or objects")
    if not isinstance(text, str) or not text.strip():
        raise VocabularyError(f"{source}: an entry of '{key}' has no term text: {entry!r}")
    return text.strip(), [str(s) for s in spoken], [str(c) for c in confusions]


def _form_keys(words: list[Token]) -> tuple[str, ...]:
    keys = [phonetic_key(" ".join(w.norm for w in words))]
    if any(w.acronym for w in words):
        lettered = "".join(spell_letters(w.norm) if w.acronym else w.norm for w in words)
        keys.append(phonetic_key(lettered))
    return tuple(dict.fromkeys(k for k in keys if k))


def _make_forms(index: int, text: str, category: str, spoken: list[str]) -> list[SpokenForm]:
    forms: list[SpokenForm] = []
    title = _TITLE_RE.match(text)
    name = text[title.end() :] if title else text

    def add(phrase: str) -> None:
        words = tokenize(phrase)
        if not words:
            return
        tokens = tuple(w.norm for w in words)
        if any(f.tokens == tokens for f in forms):
            return
        forms.append(SpokenForm(index, tokens, "".join(tokens), _form_keys(words), name))

    add(name)
    for phrase in spoken:
        phrase_title = _TITLE_RE.match(phrase)
        add(phrase[phrase_title.end() :] if phrase_title else phrase)
    return forms


def _phrases(text: str | list[str]) -> list[str]:
    """Cue phrases from a ``|``-separated string (or a list of phrases)."""
    if isinstance(text, str):
        return [p.strip() for p in text.split("|") if p.strip()]
    return list(text)


def _build_cues(extra: Mapping, source: str) -> dict[str, Cues]:
    if not isinstance(extra, Mapping):
        raise VocabularyError(f"{source}: 'cues' must be an object of categories")
    merged: dict[str, dict[str, list[str]]] = {
        cat: {side: _phrases(words) for side, words in sides.items()}
        for cat, sides in DEFAULT_CUES.items()
    }
    for cat, sides in extra.items():
        if not isinstance(sides, Mapping):
            raise VocabularyError(f"{source}: cues for '{cat}' must have 'before'/'after' lists")
        category = CATEGORY_NAMES.get(str(cat).lower(), str(cat).lower())
        target = merged.setdefault(category, {"before": [], "after": []})
        for side in ("before", "after"):
            target.setdefault(side, []).extend(str(w) for w in sides.get(side, []) or [])
    return {
        cat: Cues(
            tuple(dict.fromkeys(normalize_words(p) for p in sides.get("before", []))),
            tuple(dict.fromkeys(normalize_words(p) for p in sides.get("after", []))),
        )
        for cat, sides in merged.items()
    }
