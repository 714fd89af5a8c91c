"""The clinic's booking backend: providers, open slots and appointments in SQLite.

Every public call opens its own short-lived connection, so one :class:`ClinicStore` is safe to
share between sessions and to call from ``asyncio.to_thread`` workers. The database runs in WAL
mode (readers never wait for the writer) with a busy timeout for concurrent writers.

Writes are race-free: a booking flips ``slots.booked`` from 0 to 1 with a conditional ``UPDATE``
inside a ``BEGIN IMMEDIATE`` transaction and checks the row count, and a partial unique index
allows at most one *booked* appointment per slot. Two sessions booking the same slot therefore
cannot both succeed.

Bookings and cancellations are also available as two-step :class:`PendingChange` objects
(:meth:`ClinicStore.begin_book`, :meth:`ClinicStore.begin_cancel`): the change is made inside an
open transaction and only becomes visible on :meth:`PendingChange.commit`. The tools layer uses
this to commit a booking only after the audit trail has recorded it.
"""

from __future__ import annotations

import random
import sqlite3
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from clinic.store_records import (
    APPOINTMENT_SELECT,
    SLOT_SELECT,
    Appointment,
    Provider,
    Slot,
    appointment_from_row,
    normalize_appointment_id,
    slot_from_row,
    to_utc_text,
)
from clinic.store_transactions import (
    Connection,
    PendingChange,
    begin_change,
    book_in,
    cancel_in,
    reschedule_in,
)
from clinic.understanding.providers import provider_key

PartOfDay = Literal["morning", "afternoon"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS providers (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    name_key TEXT NOT NULL,
    specialty TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS providers_name_key ON providers(name_key);
CREATE TABLE IF NOT EXISTS slots (
    id INTEGER PRIMARY KEY,
    provider_id INTEGER NOT NULL REFERENCES providers(id),
    start_utc TEXT NOT NULL,
    duration_min INTEGER NOT NULL CHECK (duration_min > 0),
    booked INTEGER NOT NULL DEFAULT 0 CHECK (booked IN (0, 1)),
    UNIQUE (provider_id, start_utc)
);
CREATE INDEX IF NOT EXISTS slots_open ON slots(provider_id, booked, start_utc);
CREATE TABLE IF NOT EXISTS appointments (
    id TEXT PRIMARY KEY,
    patient_id TEXT NOT NULL,
    slot_id INTEGER NOT NULL REFERENCES slots(id),
    provider_id INTEGER NOT NULL REFERENCES providers(id),
    reason TEXT,
    status TEXT NOT NULL CHECK (status IN ('booked', 'cancelled')),
    created_utc TEXT NOT NULL,
    cancelled_utc TEXT
);
CREATE UNIQUE INDEX IF NOT EXISTS appointments_one_per_slot
    ON appointments(slot_id) WHERE status = 'booked';
CREATE INDEX IF NOT EXISTS appointments_patient ON appointments(patient_id, status);
"""

# Clinic hours for seeded slots (clinic-local time): 9:00 to 16:30 starts, every 30 minutes.
_FIRST_SLOT = time(9, 0)
_LAST_SLOT = time(16, 30)
_SLOT_MINUTES = 30
_OPEN_FRACTION = 0.55


class ClinicStore:
    """SQLite-backed clinic schedule.

    Args:
        path: Database file; its parent directory is created. (Not ``:memory:``: every call
            opens its own connection.)
        timezone: IANA name of the clinic's time zone, used for seeding clinic hours and for the
            ``day`` / ``part_of_day`` filters of :meth:`open_slots`.
        busy_timeout_s: How long a writer waits for another writer's lock.
    """

    def __init__(self, path: str | Path, *, timezone: str = "UTC", busy_timeout_s: float = 10.0):
        if str(path) == ":memory:":
            raise ValueError("ClinicStore needs a database file, not ':memory:'")
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tz = ZoneInfo(timezone)
        self._busy_timeout_s = busy_timeout_s
        with self._connect() as conn:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)

    # --- connections -------------------------------------------------------------------------

    def _connect(self) -> Connection:
        conn = sqlite3.connect(
            self.path,
            timeout=self._busy_timeout_s,
            isolation_level=None,  # we issue BEGIN/COMMIT ourselves
            check_same_thread=False,
        )
        conn.execute("PRAGMA foreign_keys=ON")
        conn.execute("PRAGMA synchronous=NORMAL")
        return Connection(conn)

    # --- seeding -------------------------------------------------------------------------------

    def seed(
        self,
        vocabulary: dict,
        *,
        start: date,
        days: int = 14,
        seed: int = 7,
        duration_min: int = _SLOT_MINUTES,
    ) -> dict[str, int]:
        """Create providers and open slots from the clinic vocabulary; safe to call repeatedly.

        Provider ``i`` (in vocabulary order) gets specialty ``i mod len(specialties)``, so every
        specialty has a provider whenever there are at least as many providers as specialties.
        Slots run Monday to Friday, 9:00 AM to 4:30 PM clinic time, every ``duration_min``
        minutes; a deterministic pseudo-random subset (about 55 %, seeded by ``seed``, provider
        and day) is created as open. Existing rows are never duplicated or changed.

        Args:
            vocabulary: Mapping with ``providers`` and ``specialties`` lists.
            start: First calendar day to create slots for.
            days: Number of calendar days (weekends are skipped).
            seed: Seed of the open-slot pattern.
            duration_min: Slot length and spacing in minutes.

        Returns:
            Counts of rows inserted by this call: ``providers`` and ``slots``.

        Raises:
            ValueError: If the vocabulary has no providers or no specialties.
        """
        names = [str(n).strip() for n in vocabulary.get("providers") or [] if str(n).strip()]
        specialties = [
            str(s).strip() for s in vocabulary.get("specialties") or [] if str(s).strip()
        ]
        if not names or not specialties:
            raise ValueError("vocabulary needs non-empty 'providers' and 'specialties' lists")
        if days < 1:
            raise ValueError("days must be >= 1")

        times: list[time] = []
        minute = _FIRST_SLOT.hour * 60 + _FIRST_SLOT.minute
        last = _LAST_SLOT.hour * 60 + _LAST_SLOT.minute
        while minute <= last:
            times.append(time(minute // 60, minute % 60))
            minute += duration_min

        inserted = {"providers": 0, "slots": 0}
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                for i, name in enumerate(names):
                    cur = conn.execute(
                        "INSERT OR IGNORE INTO providers(name, name_key, specialty) VALUES (?,?,?)",
                        (name, provider_key(name), specialties[i % len(specialties)]),
                    )
                    inserted["providers"] += cur.rowcount
                ids = dict(conn.execute("SELECT name, id FROM providers").fetchall())
                for offset in range(days):
                    day = start + timedelta(days=offset)
                    if day.weekday() >= 5:
                        continue
                    for name in names:
                        rng = random.Random(f"{seed}|{name}|{day.isoformat()}")
                        for t in times:
                            if rng.random() >= _OPEN_FRACTION:
                                continue
                            start_local = datetime.combine(day, t, tzinfo=self.tz)
                            cur = conn.execute(
                                "INSERT OR IGNORE INTO slots(provider_id, start_utc, duration_min)"
                                " VALUES (?,?,?)",
                                (ids[name], to_utc_text(start_local), duration_min),
                            )
                            inserted["slots"] += cur.rowcount
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return inserted

    # --- queries -------------------------------------------------------------------------------

    def find_providers(
        self, name: str | None = None, specialty: str | None = None
    ) -> list[Provider]:
        """Providers matching a name and/or specialty (case-insensitive), sorted by name.

        The name is compared without titles and punctuation, so "patel", "Doctor Patel" and
        "Dr Patel" all find "Dr. Patel". An exact surname match wins; otherwise names that start
        with the given text are returned. With no filters, every provider is returned.
        """
        sql = "SELECT id, name, specialty FROM providers"
        clauses: list[str] = []
        params: list[Any] = []
        if specialty is not None:
            clauses.append("lower(specialty) = lower(?)")
            params.append(specialty.strip())
        key = provider_key(name) if name is not None else None
        with self._connect() as conn:
            if key is not None:
                if not key:
                    return []
                exact = conn.execute(
                    f"{sql} WHERE {' AND '.join([*clauses, 'name_key = ?'])} ORDER BY name",
                    [*params, key],
                ).fetchall()
                if exact:
                    return [Provider(*row) for row in exact]
                clauses.append("name_key LIKE ? ESCAPE '\\'")
                escaped = key.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                params.append(escaped + "%")
            where = f" WHERE {' AND '.join(clauses)}" if clauses else ""
            rows = conn.execute(f"{sql}{where} ORDER BY name", params).fetchall()
        return [Provider(*row) for row in rows]

    def get_provider(self, provider_id: int) -> Provider | None:
        """The provider with this id, or None."""
        with self._connect() as conn:
            row = conn.execute(
                "SELECT id, name, specialty FROM providers WHERE id = ?", (provider_id,)
            ).fetchone()
        return Provider(*row) if row else None

    def specialties(self) -> list[str]:
        """Distinct specialties of the seeded providers, sorted."""
        with self._connect() as conn:
            rows = conn.execute("SELECT DISTINCT specialty FROM providers ORDER BY 1").fetchall()
        return [r[0] for r in rows]

    def open_slots(
        self,
        provider_id: int | None,
        day: date | None = None,
        part_of_day: PartOfDay | None = None,
        limit: int = 5,
        after: datetime | None = None,
        specialty: str | None = None,
    ) -> list[Slot]:
        """Open slots of one provider (or of every provider), earliest first.

        Args:
            provider_id: The provider, or None for every provider ("whoever is free").
            day: Only this clinic-local calendar day.
            part_of_day: "morning" (before noon, clinic time) or "afternoon" (noon and later).
            limit: Maximum number of slots.
            after: Only slots starting at or after this aware datetime.
            specialty: Only providers of this specialty (case-insensitive).

        Raises:
            ValueError: On an unknown ``part_of_day``, a non-positive ``limit`` or a naive
                ``after``.
        """
        if part_of_day not in (None, "morning", "afternoon"):
            raise ValueError(f"part_of_day must be 'morning' or 'afternoon', not {part_of_day!r}")
        if limit < 1:
            raise ValueError("limit must be >= 1")
        clauses = ["s.booked = 0"]
        params: list[Any] = []
        if provider_id is not None:
            clauses.append("s.provider_id = ?")
            params.append(provider_id)
        if specialty is not None:
            clauses.append("lower(p.specialty) = lower(?)")
            params.append(specialty.strip())
        if after is not None:
            clauses.append("s.start_utc >= ?")
            params.append(to_utc_text(after))
        if day is not None:
            lo, hi = self._day_bounds(day, part_of_day)
            clauses += ["s.start_utc >= ?", "s.start_utc < ?"]
            params += [lo, hi]
        sql = f"{SLOT_SELECT} WHERE {' AND '.join(clauses)} ORDER BY s.start_utc, p.name"
        out: list[Slot] = []
        with self._connect() as conn:
            for row in conn.execute(sql, params):
                slot = slot_from_row(row)
                if day is None and part_of_day is not None:
                    is_morning = slot.start_utc.astimezone(self.tz).hour < 12
                    if is_morning != (part_of_day == "morning"):
                        continue
                out.append(slot)
                if len(out) >= limit:
                    break
        return out

    def get_slot(self, slot_id: int) -> Slot | None:
        """The slot with this id (open or not), or None."""
        with self._connect() as conn:
            row = conn.execute(SLOT_SELECT + " WHERE s.id = ?", (slot_id,)).fetchone()
        return slot_from_row(row) if row else None

    def appointments_for(
        self, patient_id: str, include_cancelled: bool = False
    ) -> list[Appointment]:
        """The patient's appointments, earliest slot first."""
        sql = APPOINTMENT_SELECT + " WHERE a.patient_id = ?"
        if not include_cancelled:
            sql += " AND a.status = 'booked'"
        with self._connect() as conn:
            rows = conn.execute(sql + " ORDER BY s.start_utc, a.id", (patient_id,)).fetchall()
        return [appointment_from_row(r) for r in rows]

    def get_appointment(self, appointment_id: str) -> Appointment | None:
        """The appointment with this id (any patient, any status), or None."""
        with self._connect() as conn:
            row = conn.execute(
                APPOINTMENT_SELECT + " WHERE a.id = ?", (normalize_appointment_id(appointment_id),)
            ).fetchone()
        return appointment_from_row(row) if row else None

    # --- writes --------------------------------------------------------------------------------

    def book(self, patient_id: str, slot_id: int, reason: str | None = None) -> Appointment:
        """Book an open slot for a patient.

        Raises:
            SlotUnavailableError: If the slot does not exist or is already booked.
            ValueError: On an empty patient id.
        """
        return self.begin_book(patient_id, slot_id, reason).commit()

    def cancel(self, appointment_id: str, patient_id: str) -> Appointment:
        """Cancel one of the patient's booked appointments and reopen its slot.

        Raises:
            AppointmentNotFoundError: If no *booked* appointment with that id belongs to the
                patient (unknown id, someone else's, or already cancelled).
        """
        return self.begin_cancel(appointment_id, patient_id).commit()

    def begin_book(self, patient_id: str, slot_id: int, reason: str | None = None) -> PendingChange:
        """Book inside an open transaction; the booking is visible only after ``commit()``.

        Raises:
            SlotUnavailableError: If the slot does not exist or is already booked.
            ValueError: On an empty patient id.
        """
        return begin_change(
            self._connect().raw, lambda raw: book_in(raw, patient_id, slot_id, reason)
        )

    def begin_cancel(self, appointment_id: str, patient_id: str) -> PendingChange:
        """Cancel inside an open transaction; visible only after ``commit()``.

        Raises:
            AppointmentNotFoundError: If no booked appointment with that id belongs to the patient.
        """
        return begin_change(
            self._connect().raw, lambda raw: cancel_in(raw, appointment_id, patient_id)
        )

    def begin_reschedule(self, appointment_id: str, patient_id: str, slot_id: int) -> PendingChange:
        """Move an appointment to another slot in one transaction (visible on ``commit()``).

        The new slot is booked and the old appointment cancelled (its slot reopened) inside the
        same ``BEGIN IMMEDIATE`` transaction, so either both happen or neither does: a caller
        never loses the old time without holding the new one. The new appointment keeps the
        old one's reason and gets a new code.

        Raises:
            AppointmentNotFoundError: No booked appointment with that id belongs to the patient.
            SlotUnavailableError: The new slot does not exist or is taken.
        """
        return begin_change(
            self._connect().raw,
            lambda raw: reschedule_in(raw, appointment_id, patient_id, slot_id),
        )

    def connection(self) -> Connection:
        """A new short-lived connection (a context manager) to this database."""
        return self._connect()

    # --- helpers -------------------------------------------------------------------------------

    def _day_bounds(self, day: date, part_of_day: PartOfDay | None) -> tuple[str, str]:
        start = datetime.combine(day, time(0), tzinfo=self.tz)
        noon = datetime.combine(day, time(12), tzinfo=self.tz)
        end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.tz)
        if part_of_day == "morning":
            start, end = start, noon
        elif part_of_day == "afternoon":
            start, end = noon, end
        return to_utc_text(start), to_utc_text(end)
