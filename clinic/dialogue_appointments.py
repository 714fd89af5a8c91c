"""The local brain's dialogue about the caller's own appointments: list, choose, cancel.

A mixin of :class:`clinic.brain.ClinicBrain`. Moving an appointment starts from the same list
(:mod:`clinic.dialogue_care`); an unidentified caller is asked who they are first.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from clinic.actions import CallTool
from clinic.nlu import Intent, parse_choice
from clinic.wording import describe_appointment, join_words, slot_start

if TYPE_CHECKING:  # pragma: no cover
    from clinic.brain import _Heard, _State

MAX_LISTED = 3
_NEW_TASK_INTENTS = frozenset(
    {Intent.BOOK, Intent.LIST_APPOINTMENTS, Intent.FIND_PROVIDERS, Intent.RESCHEDULE, Intent.HELP}
)


class AppointmentsDialogue:
    """Listing and cancelling the caller's appointments; mixed into ``ClinicBrain``."""

    def _at_which_cancel(self, s: _State, h: _Heard) -> bool:
        if not s.appointments or h.intent in _NEW_TASK_INTENTS:
            return False
        if h.yes_no is False and h.provider.name is None and h.day is None:
            s.task, s.awaiting = None, "anything_else"
            s.reply = "Okay, I'll leave your appointments as they are. Anything else?"
            return True
        matches = self._filter_appointments(s.appointments, h)
        if matches is None:
            index = parse_choice(h.text, [slot_start(a) for a in s.appointments])
            matches = [s.appointments[index]] if index is not None else []
        if len(matches) == 1:
            self._confirm_cancel(s, matches[0])
            return True
        if len(matches) > 1:
            s.appointments = matches
            s.reply = f"You have {len(matches)} of those. {self._appointments_question(matches)}"
            return True
        if h.provider.name or h.day or h.time:
            s.reply = "I don't see an appointment like that. " + self._appointments_question(
                s.appointments
            )
            return True
        return False

    def _at_confirm_cancel(self, s: _State, h: _Heard) -> bool:
        if s.pending_cancel is None:
            return False
        other = self._filter_appointments([s.pending_cancel], h)
        if other == [] and h.intent == Intent.CANCEL:
            return False  # they named a different appointment: start over
        if h.yes_no is True or (
            h.yes_no is None and (h.intent == Intent.CANCEL or h.text in ("cancel", "cancel it"))
        ):
            s.need = CallTool(
                "cancel_appointment", {"appointment_id": s.pending_cancel["appointment_id"]}
            )
            return True
        if h.yes_no is False:
            s.pending_cancel = None
            s.task, s.awaiting = None, "anything_else"
            s.reply = "Okay, I'll keep that appointment. Anything else?"
            return True
        return False

    def _at_anything_else(self, s: _State, h: _Heard) -> bool:
        if re.search(r"\bcancel\b", h.text) and h.yes_no is not False:
            # "cancel it" right after hearing their appointments
            s.task, s.awaiting, s.cancel_hint = "cancel", None, h
            s.pending_cancel = None
            s.need = CallTool("list_my_appointments", {})
            return True
        if h.intent not in (Intent.NONE, Intent.THANKS, Intent.GOODBYE):
            return False
        if h.provider.name or h.specialty or h.day:
            return False
        if h.yes_no is False or h.intent == Intent.GOODBYE:
            s.awaiting = None
            s.reply = "Thank you for calling. Take care, goodbye!"
            return True
        if h.yes_no is True:
            s.awaiting = None
            s.reply = "Sure, what can I do for you?"
            return True
        return False

    def _on_cancelled(self, s: _State, arguments: dict, result: dict) -> None:
        appt = result.get("appointment") or {}
        s.pending_cancel = None
        s.appointments = [
            a for a in s.appointments if a.get("appointment_id") != appt.get("appointment_id")
        ]
        s.task, s.awaiting = None, "anything_else"
        s.reply = (
            f"Done. Your appointment {describe_appointment(appt)} is cancelled. Anything else?"
        )

    def _on_my_appointments(self, s: _State, arguments: dict, result: dict) -> None:
        appointments = list(result.get("appointments") or [])
        s.identified = bool(result.get("identified"))
        if not appointments and not s.identified and s.task in ("list", "cancel", "reschedule"):
            self._need_identity(s)
            return
        s.appointments = appointments
        if s.task == "reschedule":
            if not appointments:
                s.task, s.awaiting = None, "anything_else"
                s.reply = "You don't have any upcoming appointments to move. Anything else?"
                return
            self._moving_appointment(s, appointments)
            return
        if s.task == "cancel":
            if not appointments:
                s.task, s.awaiting = None, "anything_else"
                s.reply = "You don't have any upcoming appointments to cancel. Anything else?"
                return
            hint = s.cancel_hint
            matches = self._filter_appointments(appointments, hint) if hint else None
            if matches is None:
                matches = appointments
            if not matches:
                s.awaiting = "which_cancel"
                s.reply = "I don't see an appointment like that. " + self._appointments_question(
                    appointments
                )
                return
            if len(matches) == 1:
                self._confirm_cancel(s, matches[0])
                return
            s.appointments = matches
            s.awaiting = "which_cancel"
            s.reply = self._appointments_question(matches)
            return
        # listing
        s.task = None
        if not appointments:
            s.awaiting = "book_offer"
            s.candidates = []
            s.reply = "You don't have any upcoming appointments. Would you like to book one?"
            return
        s.awaiting = "anything_else"
        if len(appointments) == 1:
            s.reply = (
                f"You have one appointment, {describe_appointment(appointments[0])}. Anything else?"
            )
            return
        listed = [describe_appointment(a) for a in appointments[:MAX_LISTED]]
        more = len(appointments) - len(listed)
        tail = f", and {more} more" if more > 0 else ""
        s.reply = (
            f"You have {len(appointments)} appointments: {join_words(listed)}{tail}. Anything else?"
        )

    def _confirm_cancel(self, s: _State, appt: dict) -> None:
        s.pending_cancel = appt
        s.awaiting = "confirm_cancel"
        s.reply = f"You have an appointment {describe_appointment(appt)}. Shall I cancel it?"

    def _appointments_question(self, appointments: list[dict]) -> str:
        listed = [describe_appointment(a) for a in appointments[:MAX_LISTED]]
        return f"You have appointments {join_words(listed, 'and')}. Which one should I cancel?"

    def _filter_appointments(self, appointments: list[dict], h: _Heard) -> list[dict] | None:
        """Appointments matching the provider/day/time the caller mentioned; None if none given."""
        if not (h.provider.name or h.day or h.time):
            return None
        out = []
        for appt in appointments:
            start = slot_start(appt)
            if h.provider.name and appt.get("provider") != h.provider.name:
                continue
            if h.day and start.date() != h.day:
                continue
            if h.time and (start.hour, start.minute) != (h.time.hour, h.time.minute):
                continue
            out.append(appt)
        return out
