"""Which offered option the caller picked, yes or no, "anything else?", "anyone is fine"."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime, time

from clinic.understanding.text import normalize, number_value
from clinic.understanding.when import parse_time

_CHOICE_ORDINALS = {
    "first": 0,
    "1st": 0,
    "earliest": 0,
    "second": 1,
    "2nd": 1,
    "third": 2,
    "3rd": 2,
    "fourth": 3,
    "4th": 3,
    "fifth": 4,
    "5th": 4,
}


_BARE_NUMBER_RE = re.compile(
    r"(?:(?:the|that|um|uh|ok|okay|yes|yeah|how about|let's do|lets do|i'll take)\s+)*"
    r"(\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
    r"(?:\s+(?:one|please|thanks|thank you))*"
)


def _index(idx: int, n: int) -> int | None:
    """``idx`` when it picks one of ``n`` items, else None."""
    return idx if 0 <= idx < n else None


def parse_ordinal(text: str, n: int) -> int | None:
    """Index (0-based) of the item picked by position among ``n``, or None.

    Understands "the first one", "second", "the 2nd", "the last one", "number 2", "option
    three" and a bare number ("two", "the 3 one").
    """
    if n <= 0:
        return None
    t = normalize(text)
    m = re.search(r"\b(?:number|option)\s*(\d|one|two|three|four|five)\b", t)
    if m:
        return _index(number_value(m.group(1)) - 1, n)
    positions = [
        (mm.start(), _CHOICE_ORDINALS[mm.group(1)])
        for mm in re.finditer(r"\b(" + "|".join(_CHOICE_ORDINALS) + r")\b", t)
    ]
    positions += [(mm.start(), n - 1) for mm in re.finditer(r"\b(?:last|latest|final)\b", t)]
    if positions:
        return _index(max(positions)[1], n)
    bare = _BARE_NUMBER_RE.fullmatch(t)
    if bare:
        return _index(number_value(bare.group(1)) - 1, n)
    return None


def parse_choice(text: str, options: Sequence[time | datetime]) -> int | None:
    """Index of the option the caller picked among offered times, or None.

    Understands times ("10:30", "the 2 pm one", "at two") and positions ("the first one",
    "second", "the last one", "number 2"). A bare number ("two") is a time when one of the
    options is on that hour, otherwise a position.
    """
    n = len(options)
    if n == 0:
        return None
    t = normalize(text)
    times = [o.time() if isinstance(o, datetime) else o for o in options]

    bare = _BARE_NUMBER_RE.fullmatch(t)
    if bare:
        value = number_value(bare.group(1))
        for i, o in enumerate(times):
            if (o.hour % 12 or 12) == value and o.minute == 0:
                return i
        return _index(value - 1, n)

    wanted = parse_time(t)
    if wanted is not None:
        for i, o in enumerate(times):
            if (o.hour, o.minute) == (wanted.hour, wanted.minute):
                return i
        # "10:30" without AM/PM may mean the other half of the day.
        if not re.search(r"\b(?:am|pm|noon)\b", t):
            alt = (wanted.hour + 12) % 24
            for i, o in enumerate(times):
                if (o.hour, o.minute) == (alt, wanted.minute):
                    return i
        return None
    return parse_ordinal(t, n)


_NO_RE = re.compile(
    r"\b(?:no|nope|nah|don't|do not|dont|not really|never ?mind|cancel that|scratch that|"
    r"wait|hold on|stop|negative|wrong|that's wrong|not right|not correct|i'd rather not)\b"
)
_YES_RE = re.compile(
    r"\b(?:yes|yeah|yea|yep|yup|ya|sure|ok|okay|alright|all right|correct|right|please do|"
    r"go ahead|do it|book it|cancel it|sounds good|that works|works for me|perfect|great|fine|"
    r"absolutely|definitely|of course|affirmative|please|confirm|confirmed|that's it|lovely)\b"
)


def parse_yes_no(text: str) -> bool | None:
    """True for a yes ("yes", "sure", "go ahead"), False for a no ("no", "wait"), else None."""
    t = normalize(text)
    t = re.sub(r"\b(?:no problem|no worries|why not|no doubt)\b", " yes ", t)
    if _NO_RE.search(t):
        return False
    if _YES_RE.search(t):
        return True
    return None


_MORE_RE = re.compile(
    r"\b(?:anything|something|any|other|others|else|more|different|later|another time|"
    r"next ones?|other options?|other times?)\b"
)
_MORE_WORD_RE = re.compile(r"\b(?:else|other|others|more|later|different|another|next)\b")
_ANYONE_RE = re.compile(
    r"\b(?:anyone|anybody|any of them|any one|whoever|doesn't matter|does not matter|"
    r"don't mind|do not mind|don't care|no preference|first available|soonest|earliest)\b"
)


def asks_for_more(text: str) -> bool:
    """Whether the caller asks for other options ("anything later?", "what else", "other times")."""
    t = normalize(text)
    return bool(_MORE_RE.search(t) and _MORE_WORD_RE.search(t))


def says_anyone(text: str) -> bool:
    """Whether the caller leaves the choice of provider to us ("anyone", "doesn't matter")."""
    return bool(_ANYONE_RE.search(normalize(text)))
