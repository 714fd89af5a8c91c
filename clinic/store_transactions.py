"""The clinic store's write transactions: two-step changes, and booking or cancelling in one.

A :class:`PendingChange` is a booking or cancellation made inside an open ``BEGIN IMMEDIATE``
transaction; it only becomes visible on :meth:`PendingChange.commit`. :func:`book_in` and
:func:`cancel_in` do the work inside the caller's open transaction.
"""

from __future__ import annotations

import secrets
import sqlite3
import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Literal

from clinic.store_records import (
    APPOINTMENT_SELECT,
    CODE_PREFIX,
    Appointment,
    AppointmentNotFoundError,
    SlotUnavailableError,
    appointment_from_row,
    normalize_appointment_id,
    to_utc_text,
)

# Appointment codes: no 0/O/1/I so they can be read aloud and typed back without confusion.
_CODE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
_CODE_LENGTH = 6


class PendingChange:
    """A booking or cancellation made inside an open transaction, not yet visible to others.

    Call exactly one of :meth:`commit` or :meth:`rollback`. While pending, the transaction holds
    SQLite's write lock, so keep the window short. It may be finished from another thread than
    the one that began it (never concurrently). An unfinished change is rolled back when the
    object is garbage-collected.

    Attributes:
        appointment: The appointment as it will be once committed.
    """

    def __init__(self, conn: sqlite3.Connection, appointment: Appointment):
        self._conn = conn
        self._lock = threading.Lock()
        self._state: Literal["pending", "committed", "rolled_back"] = "pending"
        self.appointment = appointment

    @property
    def state(self) -> Literal["pending", "committed", "rolled_back"]:
        """``"pending"``, ``"committed"`` or ``"rolled_back"``."""
        return self._state

    def commit(self) -> Appointment:
        """Make the change durable and visible; returns the appointment.

        Raises:
            RuntimeError: If the change was already rolled back.
            sqlite3.Error: If the commit itself failed (the change is then rolled back).
        """
        with self._lock:
            if self._state == "committed":
                return self.appointment
            if self._state == "rolled_back":
                raise RuntimeError("change was already rolled back")
            try:
                self._conn.execute("COMMIT")
            except BaseException:
                self._state = "rolled_back"
                abort(self._conn)
                raise
            self._state = "committed"
            self._conn.close()
            return self.appointment

    def rollback(self) -> None:
        """Undo the change (nothing of it was ever visible); a no-op when already rolled back.

        Raises:
            RuntimeError: If the change was already committed.
        """
        with self._lock:
            if self._state == "committed":
                raise RuntimeError("change was already committed")
            if self._state == "pending":
                self._state = "rolled_back"
                abort(self._conn)

    def __del__(self):
        if getattr(self, "_state", None) == "pending":
            try:
                self._conn.close()
            except Exception:
                pass


class Connection:
    """Context manager closing a connection (sqlite3's own only ends transactions)."""

    def __init__(self, raw: sqlite3.Connection):
        self.raw = raw

    def __enter__(self) -> sqlite3.Connection:
        return self.raw

    def __exit__(self, *exc) -> None:
        self.raw.close()


def abort(conn: sqlite3.Connection) -> None:
    """Roll back an open transaction (if any) and close the connection."""
    try:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
    finally:
        conn.close()


def book_in(raw: sqlite3.Connection, patient_id: str, slot_id: int, reason: str | None) -> str:
    """Book ``slot_id`` inside the caller's open transaction; the new appointment's code."""
    if not str(patient_id).strip():
        raise ValueError("patient_id must not be empty")
    reason = (reason.strip() or None) if isinstance(reason, str) else None
    cur = raw.execute("UPDATE slots SET booked = 1 WHERE id = ? AND booked = 0", (int(slot_id),))
    if cur.rowcount != 1:
        raise SlotUnavailableError(f"slot {slot_id} is not open")
    provider_id = raw.execute(
        "SELECT provider_id FROM slots WHERE id = ?", (int(slot_id),)
    ).fetchone()[0]
    now = to_utc_text(datetime.now(UTC))
    for _ in range(20):
        code = CODE_PREFIX + "".join(secrets.choice(_CODE_ALPHABET) for _ in range(_CODE_LENGTH))
        try:
            raw.execute(
                "INSERT INTO appointments(id, patient_id, slot_id, provider_id, reason,"
                " status, created_utc) VALUES (?,?,?,?,?,'booked',?)",
                (code, str(patient_id), int(slot_id), provider_id, reason, now),
            )
            return code
        except sqlite3.IntegrityError as e:
            if "appointments.id" not in str(e):
                raise SlotUnavailableError(f"slot {slot_id} is not open") from e
    raise RuntimeError("could not allocate an appointment code")  # pragma: no cover - 32**6


def cancel_in(raw: sqlite3.Connection, appointment_id: str, patient_id: str) -> str:
    """Cancel inside the caller's open transaction and reopen the slot; the code."""
    code = normalize_appointment_id(appointment_id)
    row = raw.execute(
        "SELECT slot_id FROM appointments WHERE id = ? AND patient_id = ? AND status = 'booked'",
        (code, str(patient_id)),
    ).fetchone()
    if row is None:
        raise AppointmentNotFoundError(f"no booked appointment {code} for this patient")
    now = to_utc_text(datetime.now(UTC))
    raw.execute(
        "UPDATE appointments SET status = 'cancelled', cancelled_utc = ? WHERE id = ?",
        (now, code),
    )
    raw.execute("UPDATE slots SET booked = 0 WHERE id = ?", (row[0],))
    return code


def reschedule_in(
    raw: sqlite3.Connection, appointment_id: str, patient_id: str, slot_id: int
) -> str:
    """Book ``slot_id`` and cancel the old appointment (keeping its reason); the new code."""
    old = raw.execute(
        "SELECT reason FROM appointments WHERE id = ? AND patient_id = ? AND status = 'booked'",
        (normalize_appointment_id(appointment_id), str(patient_id)),
    ).fetchone()
    if old is None:
        raise AppointmentNotFoundError("no such booked appointment for this patient")
    code = book_in(raw, patient_id, slot_id, old[0])
    cancel_in(raw, appointment_id, patient_id)
    return code


def begin_change(
    raw: sqlite3.Connection, work: Callable[[sqlite3.Connection], str]
) -> PendingChange:
    """Run ``work`` inside ``BEGIN IMMEDIATE`` on ``raw``: the appointment it returns, pending.

    On any error the transaction is rolled back and ``raw`` closed.
    """
    try:
        raw.execute("BEGIN IMMEDIATE")
        code = work(raw)
        row = raw.execute(APPOINTMENT_SELECT + " WHERE a.id = ?", (code,)).fetchone()
        return PendingChange(raw, appointment_from_row(row))
    except BaseException:
        abort(raw)
        raise
