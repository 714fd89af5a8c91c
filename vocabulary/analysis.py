"""One transcript's words with the facts every span check needs.

:class:`Analysis` tokenizes a transcript once and records, per word: whether it is an
ordinary word, a phrase break after it, whether it is a title announcing a name ("Dr.",
"Doctor", not "the doctor"), a barrier (a title or a long context word, never part of a
span) or locked (already a term). It answers which context cue of a category sits next
to a span, whether a span holds a cue, and the phonetic keys of a span.
"""

from __future__ import annotations

from vocabulary.lexicon import Lexicon
from vocabulary.phonetic import VOWEL, phonetic_key, spell_letters
from vocabulary.words import FILLER_WORDS, TITLE_WORDS, Token, tokenize

_DETERMINERS = frozenset(
    {"the", "my", "a", "your", "his", "her", "our", "their", "that", "this", "any", "another"}
)
_BARRIER_MIN_LEN = 6  # single-word cues at least this long are never part of a span


class Analysis:
    """Tokens of one transcript with the facts every span check needs.

    Args:
        text: The transcript.
        lexicon: The deployment vocabulary (its cues and common words).
    """

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
        """Token k starts a sentence or a phrase (the text start or after a break)."""
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
