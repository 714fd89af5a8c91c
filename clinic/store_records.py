"""The clinic store's records and errors: providers, slots, appointments, and their codes."""

from __future__ import annotations

import sqlite3
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any, Literal

CODE_PREFIX = "APT-"

APPOINTMENT_SELECT = """
SELECT a.id, a.patient_id, a.slot_id, a.provider_id, p.name, p.specialty, s.start_utc,
       s.duration_min, a.reason, a.status, a.created_utc, a.cancelled_utc
FROM appointments a JOIN slots s ON s.id = a.slot_id JOIN providers p ON p.id = a.provider_id
"""


class ClinicError(Exception):
    """Base class of the clinic store's errors."""


class SlotUnavailableError(ClinicError):
    """The slot does not exist or is already booked."""


class AppointmentNotFoundError(ClinicError, LookupError):
    """No booked appointment with that id belongs to the patient."""


def to_utc_text(moment: datetime) -> str:
    """Format an aware datetime the way the database stores it (UTC, ``Z`` suffix).

    Raises:
        ValueError: If ``moment`` is naive.
    """
    if moment.tzinfo is None:
        raise ValueError("datetime must be timezone-aware")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_utc_text(text: str) -> datetime:
    """Parse a stored UTC timestamp."""
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def normalize_appointment_id(value: str) -> str:
    """Canonical form of an appointment code as heard or typed ("apt 7k3f9q" → "APT-7K3F9Q")."""
    compact = "".join(ch for ch in str(value).upper() if ch.isalnum())
    if compact.startswith("APT"):
        compact = compact[3:]
    return CODE_PREFIX + compact


@dataclass(frozen=True)
class Provider:
    """A clinician who can be booked."""

    id: int
    name: str
    specialty: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable form."""
        return asdict(self)


@dataclass(frozen=True)
class Slot:
    """A bookable time with one provider."""

    id: int
    provider_id: int
    provider_name: str
    start_utc: datetime
    duration_min: int
    booked: bool

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable form (times as ISO 8601 UTC)."""
        data = asdict(self)
        data["start_utc"] = to_utc_text(self.start_utc)
        return data


@dataclass(frozen=True)
class Appointment:
    """A patient's appointment (joined with its provider and slot time)."""

    id: str
    patient_id: str
    slot_id: int
    provider_id: int
    provider_name: str
    specialty: str
    start_utc: datetime
    duration_min: int
    reason: str | None
    status: Literal["booked", "cancelled"]
    created_utc: datetime
    cancelled_utc: datetime | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-serializable form (times as ISO 8601 UTC)."""
        data = asdict(self)
        data["start_utc"] = to_utc_text(self.start_utc)
        data["created_utc"] = to_utc_text(self.created_utc)
        data["cancelled_utc"] = to_utc_text(self.cancelled_utc) if self.cancelled_utc else None
        return data


def appointment_from_row(row: sqlite3.Row | tuple) -> Appointment:
    """An :class:`Appointment` from a row of :data:`APPOINTMENT_SELECT`."""
    return Appointment(
        id=row[0],
        patient_id=row[1],
        slot_id=row[2],
        provider_id=row[3],
        provider_name=row[4],
        specialty=row[5],
        start_utc=from_utc_text(row[6]),
        duration_min=row[7],
        reason=row[8],
        status=row[9],
        created_utc=from_utc_text(row[10]),
        cancelled_utc=from_utc_text(row[11]) if row[11] else None,
    )


SLOT_SELECT = """
SELECT s.id, s.provider_id, p.name, s.start_utc, s.duration_min, s.booked
FROM slots s JOIN providers p ON p.id = s.provider_id
"""


def slot_from_row(row: sqlite3.Row | tuple) -> Slot:
    """A :class:`Slot` from a row of :data:`SLOT_SELECT`."""
    return Slot(row[0], row[1], row[2], from_utc_text(row[3]), row[4], bool(row[5]))
