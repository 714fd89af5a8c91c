"""The local brain's offers: the booking tools' results said as openings, and the choice.

A mixin of :class:`clinic.dialogue.brain.ClinicBrain`: providers found, openings listed (at
most three at a time, two when each names its doctor), the caller's pick among them, the
confirmation question and the booking made.
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from clinic.dialogue.state import MAX_OFFERED
from clinic.understanding.choices import parse_choice
from clinic.wording import phrases, replies
from clinic.wording.spoken import (
    describe_slots,
    describe_with_doctors,
    slot_start,
    spoken_provider,
    spoken_specialty,
)

if TYPE_CHECKING:  # pragma: no cover
    from clinic.dialogue.state import State
    from clinic.understanding.heard import Heard


class OffersDialogue:
    """Booking tool results and the offered window of openings; mixed into ``ClinicBrain``."""

    def _on_find_provider(self, s: State, arguments: dict, result: dict) -> None:
        providers = list(result.get("providers") or [])
        specialty = result.get("specialty") or arguments.get("specialty") or s.specialty
        field_name = spoken_specialty(specialty) if specialty else None
        prefix, s.prefix = s.prefix, ""
        if s.task == "providers":
            if not providers:
                s.awaiting = "anything_else"
                s.reply = replies.no_provider(prefix, field_name)
                return
            s.candidates = providers
            s.awaiting = "book_offer"
            if arguments.get("name") and len(providers) == 1:
                s.reply = replies.works_in(prefix, providers[0])
                return
            s.reply = replies.offer_to_book(prefix, self._providers_text(providers, field_name))
            return
        # booking by specialty
        if not providers:
            s.awaiting = "provider"
            s.candidates = []
            s.reply = replies.no_provider_now(prefix, field_name)
            return
        if len(providers) == 1:
            s.provider = providers[0]["name"]
            s.prefix = replies.only_provider_lead(prefix, s.provider, field_name)
            self._ask_slots(s)
            return
        s.candidates = providers
        s.awaiting = "provider"
        s.reply = replies.who_of_them(prefix, self._providers_text(providers, field_name))

    def _providers_text(self, providers: list[dict], field_name: str | None) -> str:
        names = [p["name"] for p in providers[:MAX_OFFERED]]
        return replies.providers_list(names, len(providers) - len(names), field_name)

    def _on_open_slots(self, s: State, arguments: dict, result: dict) -> None:
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
            when = replies.on_day(date.fromisoformat(result["day"]))
        if result.get("part_of_day") and want is None:
            when += replies.in_part(result["part_of_day"])
        s.pending_slot = None
        if not slots:
            later = list(result.get("next_available") or [])
            if later:
                s.slots, s.offset = later, 0
                s.awaiting = "slot"
                s.reply = replies.nothing_open_next(prefix, who, when, self._window_text(s))
            else:
                s.slots, s.offset = [], 0
                s.awaiting = "provider"
                s.candidates = []
                s.reply = replies.no_openings(prefix, who, when)
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
            s.reply = replies.not_free_at(prefix, who, want, when, self._window_text(s))
            return
        s.awaiting = "slot"
        lead = replies.openings_lead(who, on_a_day=bool(result.get("day")))
        s.reply = replies.which_would_you_like(prefix, lead, self._window_text(s))

    def _on_booked(self, s: State, arguments: dict, result: dict) -> None:
        appt = result.get("appointment") or {}
        s.pending_slot = None
        s.slots, s.offset = [], 0
        s.task, s.awaiting = None, "anything_else"
        s.reason = None
        s.want_time = None
        s.provider, s.day, s.part = None, None, None
        s.reply = replies.booked(appt)

    def _on_earliest(self, s: State, result: dict, slots: list[dict]) -> None:
        """Openings across providers: each said with its doctor."""
        prefix, s.prefix = s.prefix, ""
        field_name = spoken_specialty(result["specialty"]) if result.get("specialty") else None
        lead = replies.earliest_lead(field_name, result.get("part_of_day"))
        if not slots:
            slots = list(result.get("next_available") or [])
            if not slots:
                s.awaiting, s.slots = "provider", []
                s.reply = prefix + phrases.NOTHING_OPEN_THEN
                return
            when = replies.on_day(date.fromisoformat(result["day"])) if result.get("day") else ""
            lead = replies.nothing_open_lead(when)
        s.slots, s.offset, s.awaiting = slots, 0, "slot"
        s.reply = replies.which_would_you_like(prefix, lead, self._window_text(s))

    def _window(self, s: State) -> list[dict]:
        size = MAX_OFFERED if s.provider else 2  # across providers each slot names its doctor
        return s.slots[s.offset : s.offset + size]

    def _window_text(self, s: State) -> str:
        window = sorted(self._window(s), key=lambda sl: sl["start"])
        if s.provider is None and len({sl.get("provider") for sl in window}) > 1:
            return describe_with_doctors(window)
        return describe_slots(window)

    def _offer_more(self, s: State) -> None:
        if s.offset + MAX_OFFERED < len(s.slots):
            s.offset += MAX_OFFERED
            s.awaiting = "slot"
            s.reply = replies.also_have(self._window_text(s))
        else:
            s.reply = phrases.NOTHING_MORE

    def _choose_slot(self, s: State, h: Heard) -> dict | None:
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

    def _confirm_text(self, s: State, slot: dict) -> str:
        who = spoken_provider(slot.get("provider") or s.provider or "the doctor")
        if s.moving:
            return replies.confirm_move(who, slot_start(slot))
        return replies.confirm_book(who, slot_start(slot))

    def _confirm(self, s: State, slot: dict) -> None:
        prefix, s.prefix = s.prefix, ""
        s.pending_slot = slot
        s.awaiting = "confirm_book"
        s.reply = prefix + self._confirm_text(s, slot)
