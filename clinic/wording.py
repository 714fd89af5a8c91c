"""How the local brain says things.

Fixed sentences, and slots, providers and appointments said aloud: one home for the spoken
wording, so the dialogue modules decide and this module speaks.
"""

from __future__ import annotations

import ast
import re
from datetime import date, datetime
from pathlib import Path

from clinic.nlu import format_day, format_time, format_when

GREETING = (
    "Hi, this is Echo, the clinic's appointment line. I can book, move or cancel visits, "
    "or request refills. How can I help?"
)


HELP = (
    "I can book, move or cancel appointments, request refills, or answer clinic questions. "
    "For example, say: book me with Doctor Patel on Tuesday."
)


FILLER = "One moment, let me check."


_SENTENCE_END = re.compile(r"(?<=[.?!])\s+")


def sentences(text: str) -> list[str]:
    """``text`` split into sentences as the TTS service receives them."""
    return [part.strip() for part in _SENTENCE_END.split(text.strip()) if part.strip()]


EMERGENCY = (
    "If this is an emergency, hang up and call 911 now. "
    "If you're safe, I can help with appointments."
)
CRISIS = (
    "Please call 911 now, or call or text 988 to reach the Suicide and Crisis Lifeline. "
    "You are not alone."
)
SCOPE = "I can book, move or cancel visits, request refills, or answer questions about the clinic."
DECLINE = "Sorry, I can't help with that on this line. " + SCOPE
UNSURE_LEAD = "I'm not sure I can help with that. "
UNSURE = UNSURE_LEAD + SCOPE
ASK_IDENTITY = "What's your full name and date of birth?"


def fixed_phrases() -> list[str]:
    """Sentences the brain speaks verbatim, for pre-synthesis (TTS warm-up).

    Read from this module's source: the greeting and help texts, and every string literal
    in an assignment to a ``reply`` that is a whole sentence or more, split into sentences
    as the TTS service receives them. Computed replies (names, times) are not included.
    """
    here = Path(__file__).resolve().parent
    sources = [here / "brain.py", *sorted(here.glob("dialogue_*.py"))]
    texts = {GREETING, HELP, FILLER, EMERGENCY, CRISIS, DECLINE, UNSURE}
    for node in (n for src in sources for n in ast.walk(ast.parse(src.read_text("utf-8")))):
        if not isinstance(node, ast.Assign):
            continue
        if not any(isinstance(t, ast.Attribute) and t.attr == "reply" for t in node.targets):
            continue
        for sub in ast.walk(node.value):
            if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                text = sub.value.strip()
                if text.endswith((".", "?", "!")) and "{" not in text:
                    texts.add(text)
    found = {part for text in texts for part in sentences(text)}
    return sorted(p for p in found if p[:1].isupper())  # not a literal's tail fragment


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
