"""Shared text handling for understanding: normalization, word tables of dates and numbers."""

from __future__ import annotations

import re

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
WEEKDAY_ALIASES = {
    **{d: i for i, d in enumerate(WEEKDAYS)},
    "mon": 0,
    "tue": 1,
    "tues": 1,
    "wed": 2,
    "weds": 2,
    "thu": 3,
    "thur": 3,
    "thurs": 3,
    "fri": 4,
}
MONTHS = {
    "january": 1,
    "jan": 1,
    "february": 2,
    "feb": 2,
    "march": 3,
    "mar": 3,
    "april": 4,
    "apr": 4,
    "may": 5,
    "june": 6,
    "jun": 6,
    "july": 7,
    "jul": 7,
    "august": 8,
    "aug": 8,
    "september": 9,
    "sept": 9,
    "sep": 9,
    "october": 10,
    "oct": 10,
    "november": 11,
    "nov": 11,
    "december": 12,
    "dec": 12,
}
NUMBER_WORDS = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
}
ORDINAL_WORDS = {
    "first": 1,
    "second": 2,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "eleventh": 11,
    "twelfth": 12,
    "thirteenth": 13,
    "fourteenth": 14,
    "fifteenth": 15,
    "sixteenth": 16,
    "seventeenth": 17,
    "eighteenth": 18,
    "nineteenth": 19,
    "twentieth": 20,
    "thirtieth": 30,
}


def normalize(text: str) -> str:
    """Lowercase STT text, unify "Dr."/"a.m." spellings, drop punctuation, collapse spaces."""
    t = str(text).lower().replace("’", "'").replace("‘", "'")
    t = re.sub(r"\b([ap])\.\s?m\b\.?", r"\1m", t)
    t = re.sub(r"\b(\d{1,2})\.(\d{2})\b", r"\1:\2", t)  # "10.30" -> "10:30"
    t = re.sub(r"\bdr\b\.?", "doctor ", t)
    t = re.sub(r"[^a-z0-9:'\- ]+", " ", t)
    t = re.sub(r"(?<!\d):|:(?!\d)", " ", t)
    t = re.sub(r"(?<![a-z0-9])[-']|[-'](?![a-z0-9])", " ", t)
    return re.sub(r"\s+", " ", t).strip()


def without_rejected(t: str) -> str:
    """Drop "instead of X" / "not X" spans so the day or time that remains is the wanted one."""
    return re.sub(
        r"\b(?:instead of|rather than|not)\s+(?:on\s+|at\s+)?[a-z0-9:]+(?:\s+[ap]m)?", " ", t
    )


def number_value(token: str) -> int:
    """The value of a digit string or a number word ("3", "three" -> 3)."""
    return int(token) if token.isdigit() else NUMBER_WORDS[token]
