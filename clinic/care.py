"""Patients and care-team requests, in the clinic's database beside the schedule.

Tables: ``patients`` (the clinic's patient records, matched on full name and date of birth to
identify a caller), ``refill_requests`` (a medication for the care team to renew) and
``callback_requests`` (a hand-off: staff call the caller back in a time window, or a transfer
where the transport can). Every write is one short ``BEGIN IMMEDIATE`` transaction; the tools
layer records each in the audit trail.
"""

from __future__ import annotations

import json
import re
import secrets
import unicodedata
from dataclasses import asdict, dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from clinic.store import ClinicStore
from clinic.store_records import to_utc_text
from clinic.store_transactions import PendingChange, abort

_SCHEMA = """
CREATE TABLE IF NOT EXISTS patients (
    id TEXT PRIMARY KEY,
    full_name TEXT NOT NULL,
    name_key TEXT NOT NULL,
    date_of_birth TEXT NOT NULL,
    phone TEXT
);
CREATE INDEX IF NOT EXISTS patients_lookup ON patients(name_key, date_of_birth);
CREATE TABLE IF NOT EXISTS refill_requests (
    id TEXT PRIMARY KEY,
    patient_id TEXT NOT NULL,
    medication TEXT NOT NULL,
    identified INTEGER NOT NULL CHECK (identified IN (0, 1)),
    created_utc TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS callback_requests (
    id TEXT PRIMARY KEY,
    patient_id TEXT NOT NULL,
    reason TEXT,
    window TEXT NOT NULL,
    mode TEXT NOT NULL CHECK (mode IN ('callback', 'transfer')),
    created_utc TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class Patient:
    """One patient record."""

    id: str
    full_name: str
    date_of_birth: date
    phone: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready fields."""
        d = asdict(self)
        d["date_of_birth"] = self.date_of_birth.isoformat()
        return d


def name_key(name: str) -> str:
    """Comparison key of a person's name: letters only, lowercase, accents folded."""
    folded = unicodedata.normalize("NFKD", str(name)).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z]", "", folded.lower())


class CareStore:
    """Patient records and care-team requests on a :class:`ClinicStore`'s database."""

    def __init__(self, store: ClinicStore):
        self.store = store
        with store.connection() as conn:
            conn.executescript(_SCHEMA)

    def add_patient(
        self, full_name: str, date_of_birth: date, *, phone: str | None = None, pid: str = ""
    ) -> Patient:
        """Create a patient record (or return the existing one with that name and birth date)."""
        if not name_key(full_name):
            raise ValueError("a patient needs a name")
        found = self.find_patient(full_name, date_of_birth)
        if found is not None:
            return found
        patient = Patient(
            pid or f"patient-{secrets.token_hex(6)}", full_name.strip(), date_of_birth, phone
        )
        with self.store.connection() as conn:
            conn.execute(
                "INSERT INTO patients(id, full_name, name_key, date_of_birth, phone)"
                " VALUES (?,?,?,?,?)",
                (
                    patient.id,
                    patient.full_name,
                    name_key(full_name),
                    date_of_birth.isoformat(),
                    phone,
                ),
            )
        return patient

    def load_patients(self, path: str | Path) -> int:
        """Add the records of a JSON list file; returns how many were new.

        Each entry has ``full_name``, ``date_of_birth`` (ISO), optional ``id`` and ``phone``.
        """
        added = 0
        for entry in json.loads(Path(path).read_text(encoding="utf-8")):
            dob = date.fromisoformat(entry["date_of_birth"])
            if self.find_patient(entry["full_name"], dob) is None:
                self.add_patient(
                    entry["full_name"], dob, phone=entry.get("phone"), pid=entry.get("id", "")
                )
                added += 1
        return added

    def find_patient(self, full_name: str, date_of_birth: date) -> Patient | None:
        """The patient with exactly this name (ignoring case, spaces, accents) and birth date."""
        with self.store.connection() as conn:
            row = conn.execute(
                "SELECT id, full_name, date_of_birth, phone FROM patients"
                " WHERE name_key = ? AND date_of_birth = ?",
                (name_key(full_name), date_of_birth.isoformat()),
            ).fetchone()
        return Patient(row[0], row[1], date.fromisoformat(row[2]), row[3]) if row else None

    def begin_refill_request(
        self, patient_id: str, medication: str, *, identified: bool
    ) -> PendingChange:
        """A refill request inside an open transaction (its row is the change's payload)."""
        return self._begin_insert(
            "refill_requests",
            {
                "id": "RX-" + secrets.token_hex(4).upper(),
                "patient_id": patient_id,
                "medication": medication,
                "identified": int(identified),
            },
        )

    def begin_callback_request(
        self, patient_id: str, *, reason: str | None, window: str, mode: str = "callback"
    ) -> PendingChange:
        """A call-back (or transfer) request inside an open transaction."""
        return self._begin_insert(
            "callback_requests",
            {
                "id": "CB-" + secrets.token_hex(4).upper(),
                "patient_id": patient_id,
                "reason": reason,
                "window": window,
                "mode": mode,
            },
        )

    def requests(self, table: str, patient_id: str) -> list[dict]:
        """A patient's rows of ``refill_requests`` or ``callback_requests``, oldest first."""
        if table not in ("refill_requests", "callback_requests"):
            raise ValueError(f"unknown table {table!r}")
        with self.store.connection() as conn:
            cur = conn.execute(
                f"SELECT * FROM {table} WHERE patient_id = ? ORDER BY created_utc, id",
                (patient_id,),
            )
            names = [c[0] for c in cur.description]
            return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]

    def adopt_appointments(self, from_patient: str, to_patient: str) -> int:
        """Move the booked appointments of ``from_patient`` (this call's) to a patient record."""
        with self.store.connection() as conn:
            cur = conn.execute(
                "UPDATE appointments SET patient_id = ? WHERE patient_id = ? AND status = 'booked'",
                (to_patient, from_patient),
            )
            return cur.rowcount

    def _begin_insert(self, table: str, row: dict) -> PendingChange:
        row = {**row, "created_utc": to_utc_text(datetime.now(UTC))}
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        raw = self.store.connection().raw
        try:
            raw.execute("BEGIN IMMEDIATE")
            raw.execute(f"INSERT INTO {table}({columns}) VALUES ({marks})", list(row.values()))
            return PendingChange(raw, row)
        except BaseException:
            abort(raw)
            raise
