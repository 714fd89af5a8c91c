"""Parsers for the care tasks: birth dates, names, call-back windows, plans, medications, moves.

Plain functions over speech-to-text output, like the parsers of days and times
(:mod:`clinic.understanding.when`), choices and providers beside it.
"""

from __future__ import annotations

import difflib
import re
from datetime import date

from clinic.understanding.text import WEEKDAYS, normalize

_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        "january february march april may june july august september october november "
        "december".split()
    )
}
_MONTHS.update({k[:3]: v for k, v in list(_MONTHS.items())})
_MONTHS["sept"] = 9
_MONTH_RE = "|".join(sorted(_MONTHS, key=len, reverse=True))
_DAY_RE = r"(\d{1,2})(?:st|nd|rd|th)?"
_YEAR_RE = r"((?:19|20)\d{2})"


def parse_birth_date(
    text: str, *, today: date | None = None
) -> tuple[date, tuple[int, int]] | None:
    """A date of birth in ``text`` (with a four-digit year) and its character span, or None.

    Understands "March 14th, 1980", "14 March 1980", "the 14th of March 1980", "3/14/1980"
    (US month first), "1980-03-14". A date after ``today`` is not a birth date.
    """
    t = str(text).lower().replace(",", " ")
    patterns = (
        (rf"\b({_MONTH_RE})\.?\s+(?:the\s+)?{_DAY_RE}\s+(?:of\s+)?{_YEAR_RE}\b", "mdy"),
        (rf"\b(?:the\s+)?{_DAY_RE}\s+(?:of\s+)?({_MONTH_RE})\.?\s+{_YEAR_RE}\b", "dmy"),
        (r"\b(\d{1,2})[/.-](\d{1,2})[/.-]((?:19|20)\d{2})\b", "num"),
        (r"\b((?:19|20)\d{2})-(\d{1,2})-(\d{1,2})\b", "iso"),
    )
    for pattern, kind in patterns:
        m = re.search(pattern, t)
        if not m:
            continue
        a, b, c = m.groups()
        try:
            if kind == "mdy":
                found = date(int(c), _MONTHS[a], int(b))
            elif kind == "dmy":
                found = date(int(c), _MONTHS[b], int(a))
            elif kind == "num":
                found = date(int(c), int(a), int(b))
            else:
                found = date(int(a), int(b), int(c))
        except (ValueError, KeyError):
            continue
        if today is not None and found > today:
            continue
        return found, m.span()
    return None


_NAME_LEAD = re.compile(
    r"\b(?:my name is|my name's|name is|the name is|this is|it's|it is|i'm|i am|call me)\s+",
    re.IGNORECASE,
)
_NAME_STOP = frozenset(
    """and born birth date of my is was on the a i yes yeah sure ok okay please it's its
    um uh well so date-of-birth dob""".split()
)


_NOT_NAMES = frozenset(
    """i me my mine you your we our it this that what when where which who why how is are was
    were be have has had do does did can could would will should may might need want like to
    for of in on at with about from the a an and or but not no yes yeah please thanks thank
    book booking cancel move change reschedule check see appointment appointments visit doctor
    dr refill prescription medication call back tomorrow today morning afternoon evening week
    next last first second third one two three help hello hi hey sorry okay ok just actually
    """.split()
)


def extract_person_name(
    text: str, *, skip_span: tuple[int, int] | None = None, with_date: bool = False
) -> str | None:
    """A person's full name as said ("Maria Lopez", "my name is Jo Ann Smith"), or None.

    Takes the words after a lead-in ("my name is", "this is") or else the leading words, up to
    the birth date or a stop word; needs two to four words of letters. Without a lead-in the
    words must look like a name: none of them a common function word or request word, and
    capitalized as a transcript writes names unless a birth date came with them
    (``with_date``), so "I need to cancel" is never taken for a name.
    """
    raw = str(text)
    if skip_span is not None:
        raw = raw[: skip_span[0]] + " , " + raw[skip_span[1] :]
    m = _NAME_LEAD.search(raw)
    tail = raw[m.end() :] if m else raw
    words: list[str] = []
    for token in re.split(r"\s+", tail.strip()):
        clean = re.sub(r"[^A-Za-z'\-]", "", token)
        if not clean or clean.lower() in _NAME_STOP or clean.lower() in _MONTHS:
            if words:
                break
            continue
        words.append(clean)
        if token.endswith((",", ".")) or len(words) == 4:
            break
    if len(words) < 2:
        return None
    if not m:
        if any(w.lower() in _NOT_NAMES for w in words):
            return None
        if not with_date and not all(w[:1].isupper() for w in words):
            return None
    return " ".join(w.capitalize() if w.islower() else w for w in words)


_WINDOW_RE = re.compile(
    r"\b(?:(?:later |this )?(?:today|tonight|this (?:morning|afternoon|evening))|"
    r"tomorrow(?: (?:morning|afternoon|evening))?|"
    rf"(?:on )?(?:{'|'.join(WEEKDAYS)})(?: (?:morning|afternoon|evening))?|"
    r"(?:in the |any ?time in the )?(?:morning|afternoon|evening)|"
    r"(?:after|before|around) \d{1,2}(?::\d{2})? ?(?:am|pm)?|as soon as possible|asap)\b"
)


def callback_window(text: str) -> str | None:
    """When the caller wants a call back, as they said it ("tomorrow morning"), or None."""
    m = _WINDOW_RE.search(normalize(text))
    return m.group(0).strip() if m else None


def insurance_plan(text: str) -> str | None:
    """The insurance plan a caller named ("do you take Aetna" → "Aetna"), or None."""
    m = re.search(
        r"\b(?:take|accept|covered by|cover|work with|in network with|is)\s+"
        r"((?:[A-Z][\w&'-]*\s?){1,4})",
        str(text),
    )
    if not m:
        return None
    plan = m.group(1).strip()
    plan = re.sub(r"\s+(?:insurance|plan|coverage)$", "", plan, flags=re.IGNORECASE)
    return plan if plan and plan.lower() not in ("i", "my", "you", "it") else None


def find_medication(text: str, medications: list[str]) -> str | None:
    """A medication from the vocabulary named in ``text`` (tolerant of small misspellings)."""
    names = {m.lower(): m for m in medications}
    words = re.findall(r"[a-z][a-z\-]+", normalize(text))
    for n in (3, 2, 1):
        for i in range(len(words) - n + 1):
            phrase = " ".join(words[i : i + n])
            if phrase in names:
                return names[phrase]
    for word in words:
        if len(word) < 6:
            continue
        close = difflib.get_close_matches(word, list(names), n=1, cutoff=0.85)
        if close:
            return names[close[0]]
    return None


def split_move(text: str) -> tuple[str, str]:
    """A move request split into what is moved and where to ("my Tuesday visit to Thursday")."""
    t = normalize(text)
    m = re.search(r"\b(?:to|for|until|till|into)\s+(?=\S)", t)
    if not m or not re.search(
        r"\b(?:move|moving|change|reschedule|push|switch|shift|bump)\b", t[: m.start()]
    ):
        return t, ""
    return t[: m.start()], t[m.end() :]
