"""What a speech model heard, checked by similarity, never by an exact word.

Whisper on another CPU hears "vote" for "book" or "met from in" for "metformin" now and then;
a test about turn-taking, a protocol or a pipeline checks that the sentence arrived, roughly.
"""

import difflib
import re


def words(text: str) -> list[str]:
    """Lowercase words and numbers of a transcript."""
    return re.findall(r"[a-z0-9']+", str(text).lower())


def word_similarity(heard: str, said: str) -> float:
    """0..1: how much of the word sequence matches (difflib ratio over word lists)."""
    return difflib.SequenceMatcher(None, words(heard), words(said)).ratio()


def heard_like(heard: str, said: str, bound: float = 0.6) -> bool:
    """Whether ``heard`` is ``said``, roughly (word-sequence similarity at least ``bound``)."""
    return word_similarity(heard, said) >= bound


def starts_like(heard: str, said: str, bound: float = 0.5) -> bool:
    """Whether the first word heard is the first word said, roughly (letters' similarity)."""
    h, s = words(heard), words(said)
    return bool(h and s) and difflib.SequenceMatcher(None, h[0], s[0]).ratio() >= bound
