"""The local brain's booking questions: provider or specialty, openings, choice, confirm.

A mixin of :class:`clinic.dialogue.brain.ClinicBrain` (state replay and routing live there): the
handlers of the booking questions (``_at_*``, True when the answer was handled) and the lookup
of openings. The tools' results are offered by :mod:`clinic.dialogue.offers`; nothing is booked
without a yes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from clinic.dialogue.actions import CallTool
from clinic.dialogue.state import MAX_OFFERED
from clinic.understanding.choices import parse_ordinal
from clinic.understanding.intent import Intent
from clinic.wording import phrases, replies
from clinic.wording.spoken import (
    slot_start,
)

if TYPE_CHECKING:  # pragma: no cover
    from clinic.dialogue.state import State
    from clinic.understanding.heard import Heard


class BookingDialogue:
    """Booking questions and booking tool results; mixed into ``ClinicBrain``."""

    def _booking(self, s: State, h: Heard) -> None:
        s.task = "book"
        if h.reason:
            s.reason = h.reason
        if h.provider.name:
            if h.provider.name != s.provider:
                s.slots, s.offset, s.pending_slot = [], 0, None
            s.provider = h.provider.name
            self._remember_when(s, h)
            self._ask_slots(s)
        elif h.provider.heard:
            self._remember_when(s, h)
            heard = h.provider.heard.capitalize()
            if h.provider.suggestions:
                s.suggestion = h.provider.suggestions[:2]
                s.awaiting = "suggestion"
                s.reply = replies.did_you_mean(heard, list(h.provider.suggestions[:2]))
            elif h.specialty:
                s.provider = None
                s.specialty = h.specialty
                s.prefix = replies.no_doctor_lead(heard)
                s.need = CallTool("find_provider", {"specialty": h.specialty})
            else:
                s.awaiting = "provider"
                s.candidates = []
                s.reply = replies.no_doctor(heard)
        elif h.specialty:
            s.provider = None
            s.specialty = h.specialty
            s.slots, s.offset, s.pending_slot = [], 0, None
            self._remember_when(s, h)
            s.need = CallTool("find_provider", {"specialty": h.specialty})
        elif s.provider and (h.day or h.part or h.time or h.more):
            if h.more and not (h.day or h.part or h.time) and s.slots:
                self._offer_more(s)
                return
            self._remember_when(s, h)
            self._ask_slots(s)
        else:
            self._remember_when(s, h)
            s.awaiting = "provider"
            s.candidates = []
            s.reply = phrases.SURE_WHICH_DOCTOR_NEED

    def _ask_slots(self, s: State) -> None:
        when: dict[str, Any] = {}
        if s.day is not None:
            when["day"] = s.day.isoformat()
        if s.part is not None:
            when["part_of_day"] = s.part
        if s.provider is None:  # anyone (of a specialty): the earliest across providers
            of = {"specialty": s.specialty} if s.specialty else {}
            s.need = CallTool("find_earliest_slots", {**of, **when})
        else:
            s.need = CallTool("list_open_slots", {"provider": s.provider, **when})

    def _book_with(self, s: State, h: Heard, provider: str) -> None:
        """Book with ``provider``: look up their openings at the day and time the caller gave."""
        s.provider = provider
        s.slots, s.offset, s.pending_slot = [], 0, None
        self._remember_when(s, h)
        self._ask_slots(s)

    def _at_confirm_book(self, s: State, h: Heard) -> bool:
        pending = s.pending_slot
        if pending is None:
            return False
        if (
            h.intent == Intent.LIST_APPOINTMENTS
            or (h.intent == Intent.CANCEL and "appointment" in h.text)
            or (h.provider.name and h.provider.name != s.provider)
        ):
            return False
        if h.specialty and not h.provider.name:
            return False
        pending_start = slot_start(pending)
        pending_part = "morning" if pending_start.hour < 12 else "afternoon"
        chosen = self._choose_slot(s, h)
        if chosen is not None and h.day and h.day != slot_start(chosen).date():
            chosen = None
        if chosen is None and (
            (h.day and h.day != pending_start.date()) or (h.part and h.part != pending_part)
        ):
            self._remember_when(s, h)
            s.pending_slot = None
            self._ask_slots(s)
            return True
        if chosen is not None and chosen["slot_id"] != pending["slot_id"]:
            self._confirm(s, chosen)
            return True
        if h.time and chosen is None:
            # Not among the listed slots: look that time up (it confirms it if it is open).
            s.pending_slot = None
            self._remember_when(s, h)
            self._ask_slots(s)
            return True
        if (h.yes_no is True or (chosen is not None and h.yes_no is not False)) and s.moving:
            s.need = CallTool(
                "reschedule_appointment",
                {"appointment_id": s.moving["appointment_id"], "slot_id": pending["slot_id"]},
            )
            return True
        if h.yes_no is True or (chosen is not None and h.yes_no is not False):
            s.need = CallTool(
                "book_appointment",
                {"slot_id": pending["slot_id"], **({"reason": s.reason} if s.reason else {})},
            )
            return True
        if h.yes_no is False or h.intent == Intent.CANCEL:
            s.pending_slot = None
            s.awaiting = "slot"
            s.reply = phrases.WONT_BOOK
            return True
        return False

    def _at_slot(self, s: State, h: Heard) -> bool:
        if not s.slots:
            return False
        if h.intent in (Intent.CANCEL, Intent.LIST_APPOINTMENTS) or h.provider.name or h.specialty:
            return False
        chosen = self._choose_slot(s, h)
        if chosen is not None and h.day and h.day != slot_start(chosen).date():
            chosen = None
        if chosen is not None:
            self._confirm(s, chosen)
            return True
        if h.day or h.part or h.time:
            self._remember_when(s, h)
            self._ask_slots(s)
            return True
        if h.more:
            self._offer_more(s)
            return True
        window = self._window(s)
        if h.yes_no is True and len(window) == 1:
            self._confirm(s, window[0])
            return True
        if h.yes_no is True:
            s.reply = replies.which_of_these(self._window_text(s))
            return True
        if h.yes_no is False:
            s.reply = phrases.OTHER_DAY_OR_TIME
            return True
        return False

    def _at_provider(self, s: State, h: Heard) -> bool:
        if h.names_whom:
            return False
        if s.candidates:
            pick = None
            if h.anyone:
                pick = s.candidates[0]
            else:
                index = parse_ordinal(h.text, len(s.candidates))
                if index is not None:
                    pick = s.candidates[index]
            if pick is not None:
                self._book_with(s, h, pick["name"])
                return True
        if h.day or h.part:
            self._remember_when(s, h)
            s.reply = phrases.GOT_IT_WHICH_DOCTOR
            return True
        return False

    def _at_book_offer(self, s: State, h: Heard) -> bool:
        if h.names_whom:
            return False
        if h.intent in (Intent.CANCEL, Intent.LIST_APPOINTMENTS):
            return False
        if h.yes_no is False:
            s.awaiting = "anything_else"
            s.task = None
            s.reply = phrases.OKAY_ANYTHING_ELSE_HELP
            return True
        if len(s.candidates) == 1 and (
            h.yes_no is True or h.day or h.part or h.intent == Intent.BOOK
        ):
            s.task = "book"
            self._book_with(s, h, s.candidates[0]["name"])
            return True
        if s.candidates and (h.anyone or parse_ordinal(h.text, len(s.candidates)) is not None):
            s.awaiting = "provider"
            s.task = "book"
            return self._at_provider(s, h)
        if h.yes_no is True or h.intent == Intent.BOOK:
            s.task = "book"
            s.awaiting = "provider"
            self._remember_when(s, h)
            if s.candidates:
                s.reply = replies.who_to_see([c["name"] for c in s.candidates[:MAX_OFFERED]])
            else:
                s.reply = phrases.SURE_WHICH_DOCTOR
            return True
        return False

    def _at_suggestion(self, s: State, h: Heard) -> bool:
        if h.provider.name or h.specialty:
            return False
        choice = parse_ordinal(h.text, len(s.suggestion))
        if s.suggestion and (h.yes_no is True or choice is not None):
            index = 0
            if len(s.suggestion) > 1:
                if choice is None and not h.anyone:
                    s.reply = replies.which_one(list(s.suggestion[:2]))
                    return True
                index = choice or 0
            s.task = "book"
            self._book_with(s, h, s.suggestion[index])
            return True
        if h.yes_no is False:
            s.awaiting = "provider"
            s.candidates = []
            s.reply = phrases.OKAY_WHICH_DOCTOR
            return True
        return False
