"""Clinic tools beyond booking: earliest openings, reschedule, refills, hand-off, info, identity.

A mixin of :class:`clinic.tools.ClinicTools` (which owns the store, the patient, the audit sink
and the fail-closed commit): kept apart so each module stays one concern. Writes here are
audited like bookings: ``reschedule_appointment`` commits only after the audit sink recorded
it; refill and call-back requests are recorded in the audit trail as they are stored.

Identity: a session starts with an ephemeral patient id (or one the host application vouched
for). ``verify_identity`` matches a full name and date of birth against the clinic's patient
records, at most :data:`MAX_IDENTITY_ATTEMPTS` times per call; on success the session acts as
that patient from then on, and appointments booked earlier in the same call move to the
record. Until then only what was booked in this call is reachable.
"""

from __future__ import annotations

import asyncio
from datetime import date, datetime, time, timedelta
from typing import Any

from loguru import logger

from clinic import info as clinic_info
from clinic.store_records import SlotUnavailableError, normalize_appointment_id
from clinic.tool_args import (
    ToolArgumentError,
    appointment_result,
    failure,
    optional_text,
    resolve_day,
    resolve_part_of_day,
    slot_result,
)

MAX_IDENTITY_ATTEMPTS = 3


def canonical_medication(text: str, medications: list[str]) -> str:
    """The vocabulary's spelling of a medication name ("Metformn" → "metformin"), else as said."""
    import difflib

    key = text.strip().lower()
    names = {m.lower(): m for m in medications}
    if key in names:
        return names[key]
    close = difflib.get_close_matches(key, list(names), n=1, cutoff=0.8)
    return names[close[0]] if close else text.strip()


class CareTools:
    """Handlers of :data:`CARE_TOOL_NAMES`; mixed into ``ClinicTools``."""

    def _care_handlers(self) -> dict[str, Any]:
        return {
            "find_earliest_slots": self._find_earliest_slots,
            "reschedule_appointment": self._reschedule_appointment,
            "request_refill": self._request_refill,
            "request_handoff": self._request_handoff,
            "clinic_info": self._clinic_info,
            "verify_identity": self._verify_identity,
        }

    async def _find_earliest_slots(self, args: dict[str, Any]) -> dict[str, Any]:

        specialty = None
        if text := optional_text(args, "specialty"):
            specialty = await self._resolve_specialty(text)
            if isinstance(specialty, dict):
                return specialty
        day = resolve_day(args["day"], self.today) if optional_text(args, "day") else None
        if day is not None and day < self.today:
            raise ToolArgumentError(f"{day.isoformat()} has already passed.")
        part = resolve_part_of_day(args.get("part_of_day"))
        slots = await asyncio.to_thread(
            self.store.open_slots, None, day, part, 3, self._not_before(), specialty
        )
        result = {
            "ok": True,
            "specialty": specialty,
            "day": day.isoformat() if day else None,
            "part_of_day": part,
            "slots": [slot_result(s, self.store.tz) for s in slots],
        }
        if not slots and day is not None:
            after = datetime.combine(day + timedelta(days=1), time(0), tzinfo=self.store.tz)
            later = await asyncio.to_thread(
                self.store.open_slots,
                None,
                None,
                part,
                3,
                max(after, self._not_before()),
                specialty,
            )
            result["next_available"] = [slot_result(s, self.store.tz) for s in later]
        return result

    async def _reschedule_appointment(self, args: dict[str, Any]) -> dict[str, Any]:

        raw_id = optional_text(args, "appointment_id")
        if raw_id is None:
            raise ToolArgumentError("'appointment_id' is required, e.g. APT-7K3F9Q.")
        try:
            slot_id = int(str(args.get("slot_id")).strip())
        except (TypeError, ValueError) as e:
            raise ToolArgumentError("'slot_id' must be the number of an open slot.") from e
        slot = await asyncio.to_thread(self.store.get_slot, slot_id)
        if slot is None or slot.start_utc < self._not_before():
            refused = failure("That new time is not open.", "slot_unavailable")
            return await self._audit_best_effort("reschedule_appointment", args, refused)
        code = normalize_appointment_id(raw_id)
        old = await asyncio.to_thread(self.store.get_appointment, code)
        try:
            pending = await self._begin_own(
                "reschedule_appointment", args, self.store.begin_reschedule, code, slot_id
            )
        except SlotUnavailableError:
            refused = failure("Sorry, that time was just taken.", "slot_unavailable")
            return await self._audit_best_effort("reschedule_appointment", args, refused)
        if isinstance(pending, dict):
            return pending
        self._booked_here.add(pending.appointment.id)
        result = {
            "ok": True,
            "appointment": appointment_result(pending.appointment, self.store.tz),
            "previous": appointment_result(old, self.store.tz) if old else {"appointment_id": code},
        }
        return await self._commit_audited(
            "reschedule_appointment",
            args,
            pending,
            result,
            "The change could not be recorded, so your appointment was not moved.",
        )

    async def _request_refill(self, args: dict[str, Any]) -> dict[str, Any]:

        medication = optional_text(args, "medication")
        if medication is None:
            raise ToolArgumentError("'medication' is required.")
        medication = canonical_medication(medication, self.medications)
        pending = await self._begin(
            lambda: self.care.begin_refill_request(
                self.patient_id, medication, identified=self.identified
            )
        )
        result = {
            "ok": True,
            "request_id": pending.appointment["id"],
            "medication": medication,
            "identified": self.identified,
            "followup": self.info.get("refill_followup", "the care team follows up"),
        }
        return await self._commit_audited(
            "request_refill", args, pending, result, "The request could not be recorded."
        )

    async def _request_handoff(self, args: dict[str, Any]) -> dict[str, Any]:

        reason = optional_text(args, "reason")
        window = optional_text(args, "window") or self.info.get(
            "callback_default_window", "within two business hours"
        )
        mode = "transfer" if self.transfer is not None else "callback"
        pending = await self._begin(
            lambda: self.care.begin_callback_request(
                self.patient_id, reason=reason, window=window, mode=mode
            )
        )
        result = {
            "ok": True,
            "request_id": pending.appointment["id"],
            "mode": mode,
            "window": window,
            "team": self.info.get("handoff_team", "the front desk"),
            "identified": self.identified,
        }
        result = await self._commit_audited(
            "request_handoff", args, pending, result, "The request could not be recorded."
        )
        if result["ok"] and self.transfer is not None:
            try:
                await self.transfer(reason)
            except Exception as e:  # the carrier refused: staff call back instead
                logger.warning(f"transfer failed ({type(e).__name__}): recording a call-back")
                self.transfer = None
                return await self._request_handoff(args)
        return result

    async def _clinic_info(self, args: dict[str, Any]) -> dict[str, Any]:

        topic = (optional_text(args, "topic") or "other").lower()
        if topic not in clinic_info.TOPICS:
            topic = "other"
        provider = specialty = None
        if name := optional_text(args, "provider"):
            found = await asyncio.to_thread(self.store.find_providers, name, None)
            if len(found) == 1:
                provider, specialty = found[0].name, found[0].specialty
        return clinic_info.answer(
            topic,
            info=self.info,
            provider=provider,
            provider_specialty=specialty,
            plan=optional_text(args, "plan"),
            day=(optional_text(args, "day") or "").lower() or None,
        )

    async def _verify_identity(self, args: dict[str, Any]) -> dict[str, Any]:

        if self.identified:
            return {"ok": True, "identified": True, "already": True}
        if self._identity_attempts >= MAX_IDENTITY_ATTEMPTS:
            return failure("Too many attempts.", "too_many_attempts", attempts_left=0)
        name = optional_text(args, "full_name")
        dob_text = optional_text(args, "date_of_birth")
        if name is None or dob_text is None:
            raise ToolArgumentError("'full_name' and 'date_of_birth' are both required.")
        try:
            dob = date.fromisoformat(dob_text)
        except ValueError as e:
            raise ToolArgumentError("'date_of_birth' must be an ISO date like 1980-03-14.") from e
        self._identity_attempts += 1
        patient = await asyncio.to_thread(self.care.find_patient, name, dob)
        left = MAX_IDENTITY_ATTEMPTS - self._identity_attempts
        attempt = {"attempt": self._identity_attempts}  # no name or birth date in the trail
        if patient is None:
            result = failure("No patient matches that name and date of birth.", "no_match")
            result["attempts_left"] = left
            return await self._audit_best_effort("verify_identity", attempt, result)
        moved = await asyncio.to_thread(self.care.adopt_appointments, self.patient_id, patient.id)
        self.patient_id, self.identified = patient.id, True
        result = {"ok": True, "identified": True, "first_name": patient.full_name.split()[0]}
        await self._audit_best_effort("verify_identity", attempt, {**result, "moved": moved})
        return result
