"""The local brain's dialogue about the caller's own appointments: list, choose, cancel, move.

A mixin of :class:`clinic.dialogue.brain.ClinicBrain`. Cancelling and moving both start from
the caller's list; an unidentified caller is asked who they are first
(:mod:`clinic.dialogue.care`).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from clinic.dialogue.actions import CallTool
from clinic.understanding.choices import parse_choice
from clinic.understanding.intent import Intent
from clinic.wording import phrases, replies
from clinic.wording.spoken import slot_start

if TYPE_CHECKING:  # pragma: no cover
    from clinic.dialogue.state import State
    from clinic.understanding.heard import Heard

MAX_LISTED = 3
_NEW_TASK_INTENTS = frozenset(
    {Intent.BOOK, Intent.LIST_APPOINTMENTS, Intent.FIND_PROVIDERS, Intent.RESCHEDULE, Intent.HELP}
)


class AppointmentsDialogue:
    """Listing and cancelling the caller's appointments; mixed into ``ClinicBrain``."""

    def _at_which_cancel(self, s: State, h: Heard) -> bool:
        if not s.appointments or h.intent in _NEW_TASK_INTENTS:
            return False
        if h.yes_no is False and h.provider.name is None and h.day is None:
            s.task, s.awaiting = None, "anything_else"
            s.reply = phrases.KEEP_APPOINTMENTS
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
            s.reply = replies.several_of_those(len(matches), self._appointments_question(matches))
            return True
        if h.provider.name or h.day or h.time:
            s.reply = phrases.NO_SUCH_APPOINTMENT_LEAD + self._appointments_question(s.appointments)
            return True
        return False

    def _at_confirm_cancel(self, s: State, h: Heard) -> bool:
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
            s.reply = phrases.KEEP_APPOINTMENT
            return True
        return False

    def _at_anything_else(self, s: State, h: Heard) -> bool:
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
            s.reply = phrases.GOODBYE
            return True
        if h.yes_no is True:
            s.awaiting = None
            s.reply = phrases.WHAT_CAN_I_DO
            return True
        return False

    def _on_cancelled(self, s: State, arguments: dict, result: dict) -> None:
        appt = result.get("appointment") or {}
        s.pending_cancel = None
        s.appointments = [
            a for a in s.appointments if a.get("appointment_id") != appt.get("appointment_id")
        ]
        s.task, s.awaiting = None, "anything_else"
        s.reply = replies.cancelled(appt)

    def _on_my_appointments(self, s: State, arguments: dict, result: dict) -> None:
        appointments = list(result.get("appointments") or [])
        s.identified = bool(result.get("identified"))
        if not appointments and not s.identified and s.task in ("list", "cancel", "reschedule"):
            self._need_identity(s)
            return
        s.appointments = appointments
        if s.task == "reschedule":
            if not appointments:
                s.task, s.awaiting = None, "anything_else"
                s.reply = phrases.NONE_TO_MOVE
                return
            self._moving_appointment(s, appointments)
            return
        if s.task == "cancel":
            if not appointments:
                s.task, s.awaiting = None, "anything_else"
                s.reply = phrases.NONE_TO_CANCEL
                return
            hint = s.cancel_hint
            matches = self._filter_appointments(appointments, hint) if hint else None
            if matches is None:
                matches = appointments
            if not matches:
                s.awaiting = "which_cancel"
                s.reply = phrases.NO_SUCH_APPOINTMENT_LEAD + self._appointments_question(
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
            s.reply = phrases.NONE_BOOKED
            return
        s.awaiting = "anything_else"
        if len(appointments) == 1:
            s.reply = replies.one_appointment(appointments[0])
            return
        s.reply = replies.appointments_list(appointments[:MAX_LISTED], len(appointments))

    def _confirm_cancel(self, s: State, appt: dict) -> None:
        s.pending_cancel = appt
        s.awaiting = "confirm_cancel"
        s.reply = replies.confirm_cancel(appt)

    def _appointments_question(self, appointments: list[dict]) -> str:
        return replies.cancel_which(appointments[:MAX_LISTED])

    def _filter_appointments(self, appointments: list[dict], h: Heard) -> list[dict] | None:
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

    # --- moving an appointment ------------------------------------------------------------------

    def _start_move(self, s: State, h: Heard) -> bool:
        from clinic.understanding.care_words import split_move

        old_part, new_part = split_move(h.raw)
        s.task, s.awaiting, s.pending_cancel = "reschedule", None, None
        s.cancel_hint = self._hear(old_part) if old_part != h.text else None
        new = self._hear(new_part) if new_part else None
        s.move_to = (new.day, new.part, new.time) if new else None
        s.need = CallTool("list_my_appointments", {})
        return True

    def _at_move_when(self, s: State, h: Heard) -> bool:
        if not (h.day or h.part or h.time or h.more):
            return False
        self._remember_when(s, h)
        self._ask_slots(s)
        return True

    def _on_moved(self, s: State, arguments: dict, result: dict) -> None:

        appt = result.get("appointment") or {}
        s.task, s.awaiting, s.moving, s.pending_slot = None, "anything_else", None, None
        s.slots, s.offset = [], 0
        s.reply = replies.moved(appt)

    def _moving_appointment(self, s: State, appointments: list[dict]) -> None:
        """The caller's appointments are known: pick the one to move, then ask or look up when."""
        hint = s.cancel_hint
        matches = self._filter_appointments(appointments, hint) if hint else None
        matches = appointments if matches is None else matches
        if len(matches) != 1:
            s.appointments = matches or appointments
            s.awaiting = "which_move"
            s.reply = replies.move_which(s.appointments[:MAX_LISTED])
            return
        s.moving = matches[0]
        s.provider = s.moving["provider"]
        s.specialty = None
        if s.move_to and any(s.move_to):
            s.day, s.part, s.want_time = s.move_to
            self._ask_slots(s)
            return
        s.awaiting = "move_when"
        s.reply = replies.move_when(s.moving)

    def _at_which_move(self, s: State, h: Heard) -> bool:
        matches = self._filter_appointments(s.appointments, h)
        if matches and len(matches) == 1:
            s.cancel_hint = None
            self._moving_appointment(s, matches)
            return True
        return False
