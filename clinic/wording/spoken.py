"""Values said aloud: days, times, specialties, providers, lists, slots and appointments."""

from __future__ import annotations

from datetime import date, datetime, time

from clinic.understanding.text import WEEKDAYS

_MONTH_NAMES = (
    "January February March April May June July August September October November December"
).split()


def _ordinal_suffix(n: int) -> str:
    if 11 <= n % 100 <= 13:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def format_day(d: date) -> str:
    """Spoken date: "Tuesday, December 2nd"."""
    weekday = WEEKDAYS[d.weekday()].capitalize()
    return f"{weekday}, {_MONTH_NAMES[d.month - 1]} {d.day}{_ordinal_suffix(d.day)}"


def format_time(t: time | datetime) -> str:
    """Spoken time: "10:30 AM", "9 AM", "12 PM"."""
    hour12 = t.hour % 12 or 12
    suffix = "AM" if t.hour < 12 else "PM"
    return f"{hour12} {suffix}" if t.minute == 0 else f"{hour12}:{t.minute:02d} {suffix}"


def format_when(moment: datetime) -> str:
    """Spoken date and time: "Tuesday, December 2nd at 10:30 AM"."""
    return f"{format_day(moment.date())} at {format_time(moment)}"


_SPOKEN_SPECIALTY = {
    "ent": "ear, nose and throat",
    "ob-gyn": "OB GYN",
    "allergist": "allergy",
}


def spoken_specialty(specialty: str) -> str:
    """How a specialty is said aloud ("ENT" → "ear, nose and throat")."""
    return _SPOKEN_SPECIALTY.get(specialty.lower(), specialty)


def spoken_provider(name: str) -> str:
    """Say a directory name aloud: "Dr. Patel" → "Doctor Patel"."""
    stripped = name.strip()
    for title in ("Dr. ", "Dr ", "Doctor "):
        if stripped.startswith(title):
            return "Doctor " + stripped[len(title) :].strip()
    return stripped


def join_words(items: list[str], conjunction: str = "and") -> str:
    """A spoken list: "A", "A and B", "A, B and C"."""
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


def slot_start(slot: dict) -> datetime:
    """When a slot or appointment (a tool result dict) starts, clinic-local."""
    return datetime.fromisoformat(slot["start"])


def describe_slots(slots: list[dict], conjunction: str = "or") -> str:
    """Slots said aloud, grouped by day: "Tuesday, December 2nd at 9 AM, 10:30 AM or 2 PM"."""
    groups: list[tuple[date, list[str]]] = []
    for slot in slots:
        start = slot_start(slot)
        if groups and groups[-1][0] == start.date():
            groups[-1][1].append(format_time(start))
        else:
            groups.append((start.date(), [format_time(start)]))
    if len(groups) == 1:
        day, times = groups[0]
        return f"{format_day(day)} at {join_words(times, conjunction)}"
    parts = [f"{format_day(day)} at {join_words(times, 'and')}" for day, times in groups]
    return join_words(parts, conjunction)


def describe_with_doctors(slots: list[dict]) -> str:
    """Slots of several doctors: "on Monday, December 1st at 9 AM with Doctor A or Doctor B"."""
    by_time: list[tuple[datetime, list[str]]] = []
    for slot in slots:
        start, who = slot_start(slot), spoken_provider(slot["provider"])
        if by_time and by_time[-1][0] == start:
            by_time[-1][1].append(who)
        else:
            by_time.append((start, [who]))
    if len({start.date() for start, _ in by_time}) == 1:
        parts = [f"at {format_time(start)} with {join_words(who, 'or')}" for start, who in by_time]
        return f"on {format_day(by_time[0][0].date())} {join_words(parts, 'or')}"
    return join_words(
        [f"{format_when(start)} with {join_words(who, 'or')}" for start, who in by_time], "or"
    )


def describe_appointment(appt: dict) -> str:
    """An appointment said aloud: "with Doctor Patel on Tuesday, December 2nd at 9 AM"."""
    return f"with {spoken_provider(appt['provider'])} on {format_when(slot_start(appt))}"


def code_spoken(appointment_id: str) -> str:
    """A code said aloud: "APT-7K3F9Q" → "7 K 3 F 9 Q" (easy to write down)."""
    code = appointment_id.split("-", 1)[-1]
    return " ".join(code)
