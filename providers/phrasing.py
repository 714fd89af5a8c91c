"""How a reply is cut into pieces for the local voice, so speech starts before all is ready.

Plain functions over a sentence's text: :func:`split_first_clause` cuts a sentence after
its first clause or phrase, and :func:`speakable` is the text Piper is given for a piece.
The cascaded TTS service, the speculative reply and the local Realtime server's audio all
cut the same way, so a piece synthesized ahead of time is found by the one that plays it.
"""

from __future__ import annotations

import re

from pipelines.clauses import VERBS

_CLAUSE_END = re.compile(r"[,;:]\s+|\s+[—–-]\s+")


def split_first_clause(
    text: str, *, min_words: int = 2, min_rest_words: int = 3, max_head_words: int = 6
) -> list[str]:
    """Split a sentence after its first clause so speech can start before the rest is ready.

    Piper synthesizes a piece as a whole (~40 ms per second of speech here, plus ~5 ms), so
    a long sentence makes the caller wait for all of it. The first clause — up to the first
    comma, semicolon, colon or dash, when it has at least ``min_words`` words and at least
    ``min_rest_words`` follow — is synthesized on its own, or, when it is shorter, the
    words before a phrase boundary among the first ``max_head_words``
    (:func:`_phrase_break`). The pieces joined with spaces are ``text``.

    >>> split_first_clause("Doctor Patel has openings on Tuesday, at 9 AM and 2 PM.")
    ['Doctor Patel has openings', 'on Tuesday, at 9 AM and 2 PM.']
    >>> split_first_clause("Yes, please.")
    ['Yes, please.']
    """
    pieces = [text]
    for match in _CLAUSE_END.finditer(text):
        head, rest = text[: match.start()], text[match.end() :]
        if len(head.split()) < min_words:
            continue
        if len(rest.split()) < min_rest_words:
            break
        pieces = [text[: match.end()].rstrip(), rest]
        break
    shorter = _phrase_break(text, max_head_words, min_rest_words)
    if len(shorter[0].split()) < len(pieces[0].split()):
        pieces = shorter
    return pieces


# Words a phrase starts with: a first piece may be cut just before one of them ("to" only
# before a verb: "… the front desk | to call you", not "Monday | to Thursday").
_PHRASE_STARTS = frozenset(
    """
    in on at for with from by about into after before between during without until
    and but or so because if when while where which who than
    """.split()
)


def _phrase_break(text: str, max_head_words: int, min_rest_words: int) -> list[str]:
    """Cut ``text`` before the last phrase start within its first ``max_head_words`` words.

    Only when at least 3 words come before the cut and ``min_rest_words`` after it, so a
    name or a short opener stays whole ("Doctor Patel | has …" is never a cut).

    >>> _phrase_break("Your refill request for metformin has been sent to the pharmacy.", 6, 3)
    ['Your refill request', 'for metformin has been sent to the pharmacy.']
    """
    words = text.split(" ")
    if len(words) <= max_head_words:
        return [text]
    for cut in range(min(max_head_words, len(words) - min_rest_words), 2, -1):
        word, after = words[cut].lower(), words[cut + 1].lower().strip(".,;:!?")
        starts = word in _PHRASE_STARTS or (word == "to" and after in VERBS)
        if starts and words[cut - 1][-1:].isalnum():
            return [" ".join(words[:cut]), " ".join(words[cut:])]
    return [text]


def speakable(piece: str) -> str:
    """The text Piper is given for ``piece``: a piece cut mid-sentence gets a comma.

    Without it Piper ends the piece with a sentence's falling pitch; with it, with the
    rising pitch of a phrase that goes on, as at a real comma.
    """
    return piece if piece[-1:] in ".,;:!?-—–\"')" else f"{piece},"
