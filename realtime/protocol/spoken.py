"""Spoken output: which words of a reply were heard (the pieces: clinic.wording.sentences).

The server streams each word's transcript delta just before the audio chunk where the word
starts (:func:`word_timings`), so a truncated item keeps exactly the words played
(:func:`heard_transcript`).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WordTiming:
    """One word of a spoken reply and where its audio starts, in ms of the item's audio."""

    text: str  # the word with its leading space, as streamed in a transcript delta
    start_ms: int


def word_timings(sentence: str, offset_ms: int, duration_ms: int, first: bool) -> list[WordTiming]:
    """Spread a sentence's words over its audio in proportion to their length.

    ``first`` says whether this is the item's first sentence (no leading space).
    """
    words = sentence.split()
    total = sum(len(w) + 1 for w in words) or 1
    out, done = [], 0
    for i, word in enumerate(words):
        start = offset_ms + int(duration_ms * done / total)
        out.append(WordTiming(text=word if (first and i == 0) else f" {word}", start_ms=start))
        done += len(word) + 1
    return out


def heard_transcript(words: list[WordTiming], audio_end_ms: int) -> str:
    """The transcript of what was played before ``audio_end_ms`` (whole words only)."""
    return "".join(w.text for w in words if w.start_ms < audio_end_ms).strip()
