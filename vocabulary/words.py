"""The words of a transcript as matching sees them: tokens, titles, fillers, ordinary words.

``tokenize`` splits text into word tokens with character offsets (so a replacement keeps
everything around it); the word sets say which words announce a name (``TITLE_WORDS``),
may sit between a cue and a term (``FILLER_WORDS``) or are grammatical only
(``FUNCTION_WORDS``); ``is_common_word`` tells ordinary English words (and their
inflections) from likely misrecognitions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Words that say "a provider's name follows", including how tiny STT models mishear them.
TITLE_WORDS = frozenset(
    {"doctor", "dr", "doc", "docter", "docker", "dockter", "doktor", "doctors", "doctor's"}
)
TITLE_PREFIXES = ("doctor", "docter", "docker", "dockter")

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

# Context words that Whisper sometimes glues to the misheard word before them
# ("subprescription"); split off so the cue is seen and the rest can be matched.
GLUED_CUES = ("prescription", "prescriptions", "prescribed", "referral", "results")

# A word, with inner apostrophes ("that's", "don't") but not a possessive "'s", which
# stays outside so a name can be replaced and keep it ("Petal's" → "Patel's").
_TOKEN_RE = re.compile(r"[A-Za-z0-9]+(?:['’](?![sS]\b)[A-Za-z]+)*")


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


def is_common_word(word: str, common: frozenset[str]) -> bool:
    """Whether ``word`` is in ``common`` (ordinary English words) or an inflection of one.

    Not a dictionary check: only tells ordinary words from likely misrecognitions.
    """
    if word in common or word.isdigit():
        return True
    for suffix, repl in _INFLECTIONS:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            stem = word[: len(word) - len(suffix)] + repl
            if stem in common:
                return True
    return False
