"""Tool arguments and results shared by every clinic tool: parsing, errors, failures."""

from __future__ import annotations

import re
from datetime import date, tzinfo
from typing import Any

from clinic.store_records import Appointment, Slot
from clinic.understanding.text import normalize
from clinic.understanding.when import parse_day, parse_part_of_day
from clinic.wording.spoken import format_when


class ToolArgumentError(ValueError):
    """A tool argument is missing or cannot be understood."""


def resolve_day(value: Any, today: date) -> date:
    """A tool's ``day`` argument as a date.

    Accepts ISO dates, weekday names (the next such day on or after ``today``), "today",
    "tomorrow" and spoken dates ("December 2nd").

    Raises:
        ToolArgumentError: If the value names no day.
    """
    if isinstance(value, date):
        return value
    text = str(value).strip()
    if re.fullmatch(r"\d{4}-\d{1,2}-\d{1,2}", text):
        try:
            return date.fromisoformat(
                "-".join(f"{int(p):02d}" if i else p for i, p in enumerate(text.split("-")))
            )
        except ValueError as e:
            raise ToolArgumentError(f"'{text}' is not a valid date.") from e
    day = parse_day(text, today) if text else None
    if day is None:
        raise ToolArgumentError(
            f"Could not understand the day '{text}'. Use an ISO date like "
            f"{today.isoformat()}, a weekday name, 'today' or 'tomorrow'."
        )
    return day


def resolve_part_of_day(value: Any) -> str | None:
    """A tool's ``part_of_day`` argument: "morning", "afternoon" or None.

    Raises:
        ToolArgumentError: If the value is neither.
    """
    if value is None or str(value).strip() == "":
        return None
    text = normalize(str(value))
    if text in ("morning", "am"):
        return "morning"
    if text in ("afternoon", "pm", "evening"):
        return "afternoon"
    part = parse_part_of_day(text)
    if part is None:
        raise ToolArgumentError(f"part_of_day must be 'morning' or 'afternoon', not '{value}'.")
    return part


def failure(error: str, code: str, **extra: Any) -> dict[str, Any]:
    """A tool result that did not succeed: a spoken-style ``error`` and a machine ``code``."""
    return {"ok": False, "error": error, "code": code, **extra}


def optional_text(args: dict[str, Any], key: str) -> str | None:
    """A tool argument as stripped text, or None when absent or blank."""
    value = args.get(key)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def slot_result(slot: Slot, tz: tzinfo) -> dict[str, Any]:
    """A slot as a tool result: ids, clinic-local start (``tz``), and said aloud."""
    local = slot.start_utc.astimezone(tz)
    return {
        "slot_id": slot.id,
        "provider": slot.provider_name,
        "start": local.isoformat(),
        "start_utc": slot.to_dict()["start_utc"],
        "duration_min": slot.duration_min,
        "spoken": format_when(local),
    }


def appointment_result(appointment: Appointment, tz: tzinfo) -> dict[str, Any]:
    """An appointment as a tool result: ids, status, clinic-local start (``tz``), said aloud."""
    local = appointment.start_utc.astimezone(tz)
    return {
        "appointment_id": appointment.id,
        "status": appointment.status,
        "provider": appointment.provider_name,
        "specialty": appointment.specialty,
        "slot_id": appointment.slot_id,
        "start": local.isoformat(),
        "start_utc": appointment.to_dict()["start_utc"],
        "duration_min": appointment.duration_min,
        "spoken": format_when(local),
        "reason": appointment.reason,
    }
