"""Days, parts of the day and clock times in what a caller said."""

from __future__ import annotations

import re
from datetime import date, time, timedelta

from clinic.understanding.text import (
    MONTHS,
    NUMBER_WORDS,
    ORDINAL_WORDS,
    WEEKDAY_ALIASES,
    normalize,
    number_value,
    without_rejected,
)

_MINUTE_WORDS = {"o'clock": 0, "oclock": 0, "fifteen": 15, "thirty": 30, "forty-five": 45}


def _day_of_month(token: str) -> int | None:
    m = re.fullmatch(r"(\d{1,2})(?:st|nd|rd|th)?", token)
    if m:
        return int(m.group(1))
    return ORDINAL_WORDS.get(token)


def parse_day(text: str, today: date) -> date | None:
    """The calendar day named in ``text``, relative to ``today``.

    Understands ISO dates ("2025-12-02"), "today", "tomorrow", "the day after tomorrow",
    weekday names ("tuesday" = the next Tuesday on or after today; "next tuesday" = strictly
    after today), "next week" (its Monday) and month-day dates ("December 2nd", "2nd of
    December"; the next such date on or after today). When several days are named, the last
    one wins ("Tuesday, no, Wednesday"), except ones rejected with "not"/"instead of".
    """
    raw = str(text)
    iso = re.search(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b", raw)
    if iso:
        try:
            return date(int(iso.group(1)), int(iso.group(2)), int(iso.group(3)))
        except ValueError:
            return None
    t = without_rejected(normalize(raw))
    found: list[tuple[int, date]] = []

    for m in re.finditer(r"\b(?:the )?day after tomorrow\b", t):
        found.append((m.start(), today + timedelta(days=2)))
    t_no_dat = re.sub(r"\b(?:the )?day after tomorrow\b", lambda m: " " * len(m.group()), t)
    for m in re.finditer(r"\btomorrow\b", t_no_dat):
        found.append((m.start(), today + timedelta(days=1)))
    for m in re.finditer(r"\b(?:today|tonight|this (?:morning|afternoon|evening))\b", t):
        found.append((m.start(), today))
    for m in re.finditer(r"\bnext week\b", t):
        found.append((m.start(), today + timedelta(days=7 - today.weekday())))
    for m in re.finditer(r"\b(next |this |coming )?([a-z]+)\b", t):
        wd = WEEKDAY_ALIASES.get(m.group(2))
        if wd is None:
            continue
        delta = (wd - today.weekday()) % 7
        if m.group(1) == "next " and delta == 0:
            delta = 7
        found.append((m.start(), today + timedelta(days=delta)))
    month_words = "|".join(sorted(MONTHS, key=len, reverse=True))
    patterns = (
        rf"\b({month_words})\s+(?:the\s+)?(\d{{1,2}}(?:st|nd|rd|th)?|[a-z]+(?:\s[a-z]+)?)\b",
        rf"\b(?:the\s+)?(\d{{1,2}}(?:st|nd|rd|th)?|[a-z]+)\s+of\s+({month_words})\b",
    )
    for i, pattern in enumerate(patterns):
        for m in re.finditer(pattern, t):
            month_tok, day_tok = (m.group(1), m.group(2)) if i == 0 else (m.group(2), m.group(1))
            if day_tok.startswith("twenty ") or day_tok.startswith("thirty "):
                tens, _, unit = day_tok.partition(" ")
                day_num = (20 if tens == "twenty" else 30) + ORDINAL_WORDS.get(unit, 99)
            else:
                day_num = _day_of_month(day_tok.split(" ")[0])
            if day_num is None:
                continue
            month = MONTHS[month_tok]
            for year in (today.year, today.year + 1):
                try:
                    candidate = date(year, month, day_num)
                except ValueError:
                    candidate = None
                    break
                if candidate >= today:
                    break
            if candidate is not None:
                found.append((m.start(), candidate))
    if not found:
        return None
    return max(found, key=lambda item: item[0])[1]


def parse_part_of_day(text: str) -> str | None:
    """The part of the day asked for: "morning", "afternoon" (evening counts) or None."""
    t = re.sub(r"\bgood (?:morning|afternoon|evening)\b", " ", normalize(text))
    t = without_rejected(t)
    morning = [
        m.start()
        for m in re.finditer(r"\b(?:morning|mornings|before (?:noon|lunch)|in the am|early)\b", t)
    ]
    afternoon = [
        m.start()
        for m in re.finditer(
            r"\b(?:afternoon|afternoons|evening|after (?:noon|lunch)|in the pm|later in the day)\b",
            t,
        )
    ]
    if not morning and not afternoon:
        return None
    last_morning = max(morning, default=-1)
    last_afternoon = max(afternoon, default=-1)
    return "morning" if last_morning > last_afternoon else "afternoon"


def _infer_meridiem(hour: int, meridiem: str | None) -> int:
    """24-hour value; without AM/PM, clinic hours decide (1-7 → PM, 8-11 → AM, 12 → noon)."""
    if meridiem == "am":
        return 0 if hour == 12 else hour
    if meridiem == "pm":
        return hour if hour == 12 else hour + 12
    return hour + 12 if 1 <= hour <= 7 else hour


def parse_time(text: str) -> time | None:
    """A clock time in ``text``: "10:30", "2 pm", "2pm", "ten thirty", "half past ten", "noon".

    Bare number words count only when clearly a time ("at two", "two o'clock", "two pm"), so
    "the first one" is not 1 o'clock. Without AM/PM, hours 1-7 are taken as PM (clinic hours).
    """
    t = without_rejected(normalize(text))
    words = "|".join(NUMBER_WORDS)
    candidates: list[tuple[int, time]] = []

    def add(pos: int, hour: int, minute: int, meridiem: str | None) -> None:
        if not 0 <= minute < 60:
            return
        if 1 <= hour <= 12:
            candidates.append((pos, time(_infer_meridiem(hour, meridiem), minute)))
        elif meridiem is None and 13 <= hour <= 23:
            candidates.append((pos, time(hour, minute)))

    for m in re.finditer(r"\b(\d{1,2}):(\d{2})\s*(am|pm)?\b", t):
        add(m.start(), int(m.group(1)), int(m.group(2)), m.group(3))
    for m in re.finditer(r"\b(\d{1,2})\s*(am|pm)\b", t):
        add(m.start(), int(m.group(1)), 0, m.group(2))
    for m in re.finditer(r"\b(\d{1,2})(\d{2})\s*(am|pm)\b", t):
        add(m.start(), int(m.group(1)), int(m.group(2)), m.group(3))
    for m in re.finditer(r"\b(\d{1,2}) (00|15|30|45)\b(?:\s*(am|pm))?", t):
        add(m.start(), int(m.group(1)), int(m.group(2)), m.group(3))
    for m in re.finditer(r"\b(\d{1,2})\s*o'?clock\b", t):
        add(m.start(), int(m.group(1)), 0, None)
    for m in re.finditer(r"\b(?:at|around|about|by) (\d{1,2})\b(?!:| ?(?:am|pm|st|nd|rd|th))", t):
        add(m.start(), int(m.group(1)), 0, None)
    for m in re.finditer(
        rf"\b({words})(?: (o'?clock|oclock|fifteen|thirty|forty-five|forty five))?(?: (am|pm))?\b",
        t,
    ):
        hour = NUMBER_WORDS[m.group(1)]
        minute_word, meridiem = m.group(2), m.group(3)
        preceded_by_at = re.search(r"\b(?:at|around|about|by)\s*$", t[: m.start()]) is not None
        if minute_word is None and meridiem is None and not preceded_by_at:
            continue
        minute = _MINUTE_WORDS.get((minute_word or "o'clock").replace(" ", "-"), 0)
        add(m.start(), hour, minute, meridiem)
    for m in re.finditer(rf"\b(half|quarter) (past|to) (\d{{1,2}}|{words})\b", t):
        hour = number_value(m.group(3))
        if m.group(1) == "half":
            minute = 30
        elif m.group(2) == "past":
            minute = 15
        else:
            hour, minute = (hour - 1) or 12, 45
        add(m.start(), hour, minute, None)
    for m in re.finditer(r"\b(?:noon|midday|12 noon)\b", t):
        candidates.append((m.start(), time(12, 0)))
    if not candidates:
        return None
    return max(candidates, key=lambda item: item[0])[1]
