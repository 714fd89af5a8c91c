"""The local brain's booking dialogue: provider or specialty, openings, choice, confirm, book.

A mixin of :class:`clinic.brain.ClinicBrain` (state replay and routing live there): the
handlers of the booking questions (``_at_*``, True when the answer was handled) and of the
booking tools' results (``_on_*``). At most three openings are offered at a time (two when
each names its doctor); nothing is booked without a yes.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING, Any

from clinic.actions import CallTool
from clinic.nlu import (
    Intent,
    format_day,
    format_time,
    format_when,
    parse_choice,
    parse_ordinal,
    spoken_specialty,
)
from clinic.wording import (
    code_spoken,
    describe_appointment,
    describe_slots,
    describe_with_doctors,
    join_words,
    slot_start,
    spoken_provider,
)

if TYPE_CHECKING:  # pragma: no cover
    from clinic.brain import _Heard, _State

MAX_OFFERED = 3


class BookingDialogue:
    """Booking questions and booking tool results; mixed into ``ClinicBrain``."""

    def _booking(self, s: _State, h: _Heard) -> None:
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
                names = [spoken_provider(n) for n in h.provider.suggestions[:2]]
                s.reply = (
                    f"I couldn't find a Doctor {heard}. Did you mean {join_words(names, 'or')}?"
                )
            elif h.specialty:
                s.provider = None
                s.specialty = h.specialty
                s.prefix = f"I couldn't find a Doctor {heard}. "
                s.need = CallTool("find_provider", {"specialty": h.specialty})
            else:
                s.awaiting = "provider"
                s.candidates = []
                s.reply = (
                    f"Sorry, we don't have a Doctor {heard} at this clinic. What kind of "
                    "specialist are you looking for? I can find one for you."
                )
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
            s.reply = (
                "Sure. Which doctor would you like to see, or what kind of specialist do you need?"
            )

    def _ask_slots(self, s: _State) -> None:
        if s.provider is None:  # anyone (of a specialty): the earliest across providers
            arguments: dict[str, Any] = {"specialty": s.specialty} if s.specialty else {}
            if s.day is not None:
                arguments["day"] = s.day.isoformat()
            if s.part is not None:
                arguments["part_of_day"] = s.part
            s.need = CallTool("find_earliest_slots", arguments)
            return
        arguments = {"provider": s.provider}
        if s.day is not None:
            arguments["day"] = s.day.isoformat()
        if s.part is not None:
            arguments["part_of_day"] = s.part
        s.need = CallTool("list_open_slots", arguments)

    def _at_confirm_book(self, s: _State, h: _Heard) -> bool:
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
            s.reply = (
                "No problem, I won't book that. Would you like a different time or another day?"
            )
            return True
        return False

    def _at_slot(self, s: _State, h: _Heard) -> bool:
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
        if h.day or h.part:
            self._remember_when(s, h)
            self._ask_slots(s)
            return True
        if h.time:
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
            s.reply = f"Great. Which one: {self._window_text(s)}?"
            return True
        if h.yes_no is False:
            s.reply = "Okay. Is there another day or time that would work better?"
            return True
        return False

    def _at_provider(self, s: _State, h: _Heard) -> bool:
        if h.provider.name or h.provider.heard or h.specialty:
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
                s.provider = pick["name"]
                s.slots, s.offset, s.pending_slot = [], 0, None
                self._remember_when(s, h)
                self._ask_slots(s)
                return True
        if h.day or h.part:
            self._remember_when(s, h)
            s.reply = "Got it. And which doctor would you like to see, or what kind of specialist?"
            return True
        return False

    def _at_book_offer(self, s: _State, h: _Heard) -> bool:
        if h.provider.name or h.provider.heard or h.specialty:
            return False
        if h.intent in (Intent.CANCEL, Intent.LIST_APPOINTMENTS):
            return False
        if h.yes_no is False:
            s.awaiting = "anything_else"
            s.task = None
            s.reply = "Okay. Is there anything else I can help with?"
            return True
        if len(s.candidates) == 1 and (
            h.yes_no is True or h.day or h.part or h.intent == Intent.BOOK
        ):
            s.provider = s.candidates[0]["name"]
            s.task = "book"
            s.slots, s.offset, s.pending_slot = [], 0, None
            self._remember_when(s, h)
            self._ask_slots(s)
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
                names = join_words(
                    [spoken_provider(c["name"]) for c in s.candidates[:MAX_OFFERED]], "or"
                )
                s.reply = f"Who would you like to see: {names}?"
            else:
                s.reply = "Sure. Which doctor would you like to see, or what kind of specialist?"
            return True
        return False

    def _at_suggestion(self, s: _State, h: _Heard) -> bool:
        if h.provider.name or h.specialty:
            return False
        choice = parse_ordinal(h.text, len(s.suggestion))
        if s.suggestion and (h.yes_no is True or choice is not None):
            index = 0
            if len(s.suggestion) > 1:
                if choice is None and not h.anyone:
                    s.reply = (
                        "Which one: "
                        + join_words([spoken_provider(n) for n in s.suggestion[:2]], "or")
                        + "?"
                    )
                    return True
                index = choice or 0
            s.provider = s.suggestion[index]
            s.task = "book"
            s.slots, s.offset, s.pending_slot = [], 0, None
            self._remember_when(s, h)
            self._ask_slots(s)
            return True
        if h.yes_no is False:
            s.awaiting = "provider"
            s.candidates = []
            s.reply = (
                "Okay. Which doctor would you like, or what kind of specialist are you looking for?"
            )
            return True
        return False

    def _on_find_provider(self, s: _State, arguments: dict, result: dict) -> None:
        providers = list(result.get("providers") or [])
        specialty = result.get("specialty") or arguments.get("specialty") or s.specialty
        field_name = spoken_specialty(specialty) if specialty else None
        prefix, s.prefix = s.prefix, ""
        if s.task == "providers":
            if not providers:
                s.awaiting = "anything_else"
                s.reply = (
                    f"{prefix}Sorry, we don't have a {field_name or 'matching'} provider "
                    "at the moment."
                )
                return
            s.candidates = providers
            s.awaiting = "book_offer"
            if arguments.get("name") and len(providers) == 1:
                p = providers[0]
                s.reply = (
                    f"{prefix}{spoken_provider(p['name'])} works in "
                    f"{spoken_specialty(p['specialty'])}. "
                    "Would you like to book an appointment?"
                )
                return
            s.reply = (
                f"{prefix}{self._providers_text(providers, field_name)} "
                "Would you like to book with one of them?"
            )
            return
        # booking by specialty
        if not providers:
            s.awaiting = "provider"
            s.candidates = []
            s.reply = (
                f"{prefix}Sorry, we don't have a {field_name} provider right now. "
                "Is there another doctor you'd like?"
            )
            return
        if len(providers) == 1:
            s.provider = providers[0]["name"]
            s.prefix = f"{prefix}{spoken_provider(s.provider)} is our {field_name} provider. "
            self._ask_slots(s)
            return
        s.candidates = providers
        s.awaiting = "provider"
        s.reply = (
            f"{prefix}{self._providers_text(providers, field_name)} "
            "Who would you like to see, or is anyone fine?"
        )

    def _providers_text(self, providers: list[dict], field_name: str | None) -> str:
        names = [spoken_provider(p["name"]) for p in providers[:MAX_OFFERED]]
        more = len(providers) - len(names)
        where = f"For {field_name}, we have" if field_name else "We have"
        if more > 0:
            names.append("one other" if more == 1 else f"{more} others")
        return f"{where} {join_words(names)}."

    def _on_open_slots(self, s: _State, arguments: dict, result: dict) -> None:
        slots = list(result.get("slots") or [])
        if s.provider is None and not result.get("provider"):
            self._on_earliest(s, result, slots)
            return
        provider = (result.get("provider") or {}).get("name") or s.provider or "the doctor"
        s.provider = provider
        who = spoken_provider(provider)
        prefix, s.prefix = s.prefix, ""
        want, s.want_time = s.want_time, None
        when = ""
        if result.get("day"):
            when = f" on {format_day(date.fromisoformat(result['day']))}"
        if result.get("part_of_day") and want is None:
            when += f" in the {result['part_of_day']}"
        s.pending_slot = None
        if not slots:
            later = list(result.get("next_available") or [])
            if later:
                s.slots, s.offset = later, 0
                s.awaiting = "slot"
                s.reply = (
                    f"{prefix}{who} has nothing open{when}. The next openings are "
                    f"{self._window_text(s)}. Would one of those work?"
                )
            else:
                s.slots, s.offset = [], 0
                s.awaiting = "provider"
                s.candidates = []
                s.reply = (
                    f"{prefix}{who} has no openings{when} in the next two weeks. "
                    "Would you like another day or another doctor?"
                )
            return
        s.slots, s.offset = slots, 0
        if want is not None:
            for slot in slots:
                start = slot_start(slot)
                if (start.hour, start.minute) == (want.hour, want.minute):
                    s.prefix = prefix
                    self._confirm(s, slot)
                    return
            # Offer the open times closest to the one asked for.
            wanted_minutes = want.hour * 60 + want.minute
            s.slots = sorted(
                slots,
                key=lambda sl: (
                    abs(slot_start(sl).hour * 60 + slot_start(sl).minute - wanted_minutes),
                    sl["start"],
                ),
            )
            closest = sorted(s.slots[:MAX_OFFERED], key=lambda sl: sl["start"])
            s.slots = closest + s.slots[MAX_OFFERED:]
            s.awaiting = "slot"
            s.reply = (
                f"{prefix}{who} isn't free at {format_time(want)}{when}. The closest times are "
                f"{self._window_text(s)}. Which would you like?"
            )
            return
        s.awaiting = "slot"
        lead = f"{who} has openings on" if result.get("day") else f"{who}'s next openings are"
        s.reply = f"{prefix}{lead} {self._window_text(s)}. Which would you like?"

    def _on_booked(self, s: _State, arguments: dict, result: dict) -> None:
        appt = result.get("appointment") or {}
        s.pending_slot = None
        s.slots, s.offset = [], 0
        s.task, s.awaiting = None, "anything_else"
        s.reason = None
        s.want_time = None
        s.provider, s.day, s.part = None, None, None
        s.reply = (
            f"You're booked {describe_appointment(appt)}. Your confirmation code is "
            f"{code_spoken(appt.get('appointment_id', ''))}. "
            "Is there anything else I can help with?"
        )

    def _on_earliest(self, s: _State, result: dict, slots: list[dict]) -> None:
        """Openings across providers: each said with its doctor."""
        prefix, s.prefix = s.prefix, ""
        lead = self._earliest_lead(s, result)
        if not slots:
            slots = list(result.get("next_available") or [])
            if not slots:
                s.awaiting, s.slots = "provider", []
                s.reply = f"{prefix}Sorry, I see nothing open then. Would another day work?"
                return
            when = (
                f" on {format_day(date.fromisoformat(result['day']))}" if result.get("day") else ""
            )
            lead = f"There's nothing open{when}. The next openings are"
        s.slots, s.offset, s.awaiting = slots, 0, "slot"
        s.reply = f"{prefix}{lead} {self._window_text(s)}. Which would you like?"

    def _window(self, s: _State) -> list[dict]:
        size = MAX_OFFERED if s.provider else 2  # across providers each slot names its doctor
        return s.slots[s.offset : s.offset + size]

    def _window_text(self, s: _State) -> str:
        window = sorted(self._window(s), key=lambda sl: sl["start"])
        if s.provider is None and len({sl.get("provider") for sl in window}) > 1:
            return describe_with_doctors(window)
        return describe_slots(window)

    def _offer_more(self, s: _State) -> None:
        if s.offset + MAX_OFFERED < len(s.slots):
            s.offset += MAX_OFFERED
            s.awaiting = "slot"
            s.reply = f"I also have {self._window_text(s)}. Would one of those work?"
        else:
            s.reply = "That's all I have there. Would you like to try another day?"

    def _choose_slot(self, s: _State, h: _Heard) -> dict | None:
        """The slot the caller picked: by position in the offered window, or by time."""
        window = sorted(self._window(s), key=lambda sl: sl["start"])
        if not window:
            return None
        index = parse_choice(h.text, [slot_start(sl) for sl in window])
        if index is not None:
            return window[index]
        if h.time is not None:
            for slot in s.slots:
                start = slot_start(slot)
                if (start.hour, start.minute) == (h.time.hour, h.time.minute):
                    return slot
        return None

    def _confirm_text(self, s: _State, slot: dict) -> str:
        who = spoken_provider(slot.get("provider") or s.provider or "the doctor")
        if s.moving:
            return f"Move it to {who}, {format_when(slot_start(slot))}?"
        return f"{who}, {format_when(slot_start(slot))}. Shall I book it?"

    def _confirm(self, s: _State, slot: dict) -> None:
        prefix, s.prefix = s.prefix, ""
        s.pending_slot = slot
        s.awaiting = "confirm_book"
        s.reply = prefix + self._confirm_text(s, slot)
