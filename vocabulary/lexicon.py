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
letters said one by one (:mod:`vocabulary.entries` reads the entries). Everything a match
needs (tokens, phonetic keys, the sound index of :mod:`vocabulary.sound_index`) is
computed once in :meth:`Lexicon.load`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from vocabulary.distance import key_weight
from vocabulary.entries import Cues, SpokenForm, Term, VocabularyError, parse_vocabulary
from vocabulary.sound_index import SoundIndex
from vocabulary.words import is_common_word, normalize_words

DATA_DIR = Path(__file__).resolve().parent / "data"
COMMON_WORDS_PATH = DATA_DIR / "common_words.txt"

# Endings that make the person of a term ("dermatolog|ist", "pediatric|ian").
DERIVED_ENDINGS = ("ists", "ist", "ians", "ian")


@dataclass
class Lexicon:
    """Terms with spoken forms, phonetic keys, confusions and context cues, indexed.

    Build with :meth:`load` (a file) or :meth:`from_dict`; treat as read-only afterwards.
    ``index`` finds a span's sound-alike forms (:class:`SoundIndex`).
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
    index: SoundIndex | None = field(default=None, repr=False)
    _exact: dict[str, list[int]] = field(default_factory=dict, repr=False)

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
        terms, forms, confusions, cues = parse_vocabulary(data, source)
        if common_words is None:
            common = load_common_words()
        else:
            common = frozenset(w.lower() for w in common_words)
        lexicon = cls(terms, forms, confusions, cues, common, source)
        lexicon._build_index()
        return lexicon

    def _build_index(self) -> None:
        exact: dict[str, list[int]] = defaultdict(list)
        first: dict[int, int] = {}
        for fid, form in enumerate(self.forms):
            first.setdefault(form.term, fid)
            self.form_weights.append(key_weight(form.keys[0]))
            self.display_tokens.append(normalize_words(form.display))
            self.key_weights.append(tuple(key_weight(k) for k in form.keys))
            exact[form.joined].append(fid)
        self.first_form = [first[t] for t in range(len(self.terms))]
        self._exact = dict(exact)
        self.index = SoundIndex(
            [form.keys for form in self.forms],
            self.form_weights,
            [self.terms[form.term].category for form in self.forms],
        )

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

    def is_common(self, word: str) -> bool:
        """Whether ``word`` is an ordinary English word or an inflection of one.

        Not a dictionary check: only tells ordinary words from likely misrecognitions.
        """
        return is_common_word(word, self.common_words)

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

    @cached_property
    def forms_by_term(self) -> dict[str, tuple[int, ...]]:
        """Form indices of every term, by its canonical text in lowercase."""
        found: dict[str, list[int]] = defaultdict(list)
        for fid, form in enumerate(self.forms):
            found[self.terms[form.term].text.lower()].append(fid)
        return {text: tuple(fids) for text, fids in found.items()}

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


def load_common_words(path: Path = COMMON_WORDS_PATH) -> frozenset[str]:
    """The shipped list of ordinary English words."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise VocabularyError(f"cannot read common-word list {path}: {exc}") from exc
    return frozenset(line.strip() for line in lines if line.strip() and not line.startswith("#"))
