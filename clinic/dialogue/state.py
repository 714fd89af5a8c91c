"""The dialogue state the local brain rebuilds from the conversation on every call."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, time

from clinic.dialogue.actions import CallTool
from clinic.understanding.heard import Heard

MAX_OFFERED = 3  # openings offered at a time (two when each names its doctor)


@dataclass
class State:
    """Dialogue state rebuilt from the conversation on every call."""

    task: str | None = None  # "book" | "cancel" | "list" | "providers"
    awaiting: str | None = None  # what the last question was about
    provider: str | None = None
    specialty: str | None = None
    candidates: list[dict] = field(default_factory=list)
    day: date | None = None
    part: str | None = None
    want_time: time | None = None
    reason: str | None = None
    slots: list[dict] = field(default_factory=list)
    offset: int = 0
    pending_slot: dict | None = None
    suggestion: tuple[str, ...] = ()
    appointments: list[dict] = field(default_factory=list)
    cancel_hint: Heard | None = None
    pending_cancel: dict | None = None
    prefix: str = ""  # said before the next reply (e.g. "Sorry, that time was just taken.")
    need: CallTool | None = None
    reply: str | None = None
    greeted: bool = False
    refill: str | None = None  # medication of a pending refill request
    identified: bool = False
    after_identity: str | None = None  # the task waiting for the caller's identity
    id_name: str | None = None
    id_dob: date | None = None
    image_new: bool = False  # an image arrived that has not been read yet
    moving: dict | None = None  # the appointment being rescheduled
    move_to: tuple | None = None  # (day, part, time) the caller asked to move it to
