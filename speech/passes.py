"""Comparing the biased pass's text with the first pass's: the same utterance or not.

A biased decode sometimes restarts the sentence or drifts into other words; these plain
text checks decide whether its transcript may replace the first pass's at all (before any
term is checked against the audio, :mod:`speech.biasing`).
"""

from __future__ import annotations

import re

from vocabulary.words import TITLE_WORDS, normalize_words

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
    la, lb = letters(first), letters(second)
    if lb < 0.7 * la - 4 or lb > 1.35 * la + 6:
        return False
    grams = [
        tuple(w.lower().strip(".,?!") for w in words[i : i + 4]) for i in range(len(words) - 3)
    ]
    return len(grams) == len(set(grams))


def letters(text: str) -> int:
    """How many letters and digits ``text`` has."""
    return sum(ch.isalnum() for ch in text)
