"""The local brain's care tasks, and routing by meaning.

Emergencies, refills, hand-off, clinic information, earliest openings, moving an appointment,
identifying the caller, and honest answers to the rest.

A mixin of :class:`clinic.brain.ClinicBrain` (which owns the state replay and the booking and
cancelling dialogue). Routing comes first (:meth:`CareDialogue._route`): what the caller wants
is decided by meaning (:mod:`clinic.intents`) and the entities found in the words, so a
paraphrase of a supported request reaches the same task. Every fact or action comes from a
tool: the clinic data file (``clinic_info``), the schedule, the care-team request tables.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from clinic.actions import CallTool
from clinic.intents import self_harm
from clinic.nlu import Intent, spoken_specialty
from clinic.wording import ASK_IDENTITY, CRISIS, DECLINE, EMERGENCY, UNSURE, describe_appointment

if TYPE_CHECKING:  # pragma: no cover
    from clinic.brain import _Heard, _State

INFO_LABELS = {
    "info_hours": "hours",
    "info_address": "address",
    "info_insurance": "insurance",
    "info_cancellation": "cancellation",
    "info_languages": "languages",
    "info_children": "children",
    "info_telehealth": "telehealth",
    "info_other": "other",
    "late": "late",
}
# Labels that start a task of their own even while a question is pending.
NEW_TASK_LABELS = frozenset(
    {"refill", "handoff", "callback", "frustration", "out_of_scope", *INFO_LABELS}
)
STRONG = 0.55  # similarity at which such a label interrupts a pending question


_OPENING = re.compile(r"\b(?:openings?|open slots?|available|free|appointments?|slots?|see me)\b")


def _provider_topic(text: str) -> str:
    """The clinic-info topic of a question about a provider, from its words."""
    if any(w in text for w in ("video", "virtual", "telehealth", "online", "remote")):
        return "telehealth"
    if any(w in text for w in ("speak", "language", "spanish", "interpreter")):
        return "languages"
    if any(w in text for w in ("child", "children", "kids", "kid", "baby", "babies", "teen")):
        return "children"
    return "other"


class CareDialogue:
    """Routing by meaning and the care tasks; mixed into ``ClinicBrain``."""

    # --- routing -------------------------------------------------------------------------------

    def _route(self, s: _State, h: _Heard) -> bool:
        """Handle ``h`` if it is a care task or not a booking at all; False to book/cancel."""
        label = h.meaning.label
        named = h.provider.name or h.specialty
        if h.callback:
            self._start_handoff(s, h, asked_callback=True)
            return True
        if h.intent in (Intent.CANCEL, Intent.LIST_APPOINTMENTS) and label not in INFO_LABELS:
            return False  # the booking dialogue's own cancel / list flow
        if label in ("cancel", "list") and not named:
            intent = Intent.CANCEL if label == "cancel" else Intent.LIST_APPOINTMENTS
            self._start_appointments(s, h, intent)
            return True
        if h.intent == Intent.RESCHEDULE or label == "reschedule":
            return self._start_move(s, h)
        if label == "refill" or (h.medication and label in (None, "book", "symptom")):
            self._start_refill(s, h)
            return True
        if label in ("handoff", "callback"):
            self._start_handoff(s, h, asked_callback=label == "callback")
            return True
        if h.complaint and not named and label in ("info_children", "providers", "symptom"):
            self._book_specialty(s, h, h.complaint)
            return True
        wants_slot = h.earliest and not h.provider.name and (label in ("book", "earliest"))
        if wants_slot or (h.earliest and not h.provider.name and _OPENING.search(h.text)):
            self._start_earliest(s, h, h.specialty or h.complaint)
            return True
        if h.provider.name and h.provider_question:
            topic = INFO_LABELS.get(label or "") or _provider_topic(h.text)
            self._ask_info(s, h, topic)
            return True
        if label in INFO_LABELS:
            self._ask_info(s, h, INFO_LABELS[label])
            return True
        if h.insurance and label in (None, "providers", "book", "out_of_scope", "info_other"):
            self._ask_info(s, h, "insurance")
            return True
        task_words = named or h.complaint or h.medication
        if label == "frustration" or (
            h.frustration >= 0.4 and not task_words and label in (None, "out_of_scope")
        ):
            self._frustrated(s)
            return True
        if label in ("out_of_scope", "device") and not (named or h.complaint):
            s.task = None
            s.reply = (
                "I can't change the sound from here; your device's volume can. "
                "I'll keep my answers short."
                if label == "device"
                else DECLINE
            )
            return True
        if (
            h.earliest
            and not h.provider.name
            and (label in ("book", "earliest", "symptom", None) or h.specialty or h.day or h.part)
        ):
            self._start_earliest(s, h, h.specialty or h.complaint)
            return True
        if (
            not h.provider.name
            and not h.specialty
            and h.complaint
            and (label in ("symptom", "book", "providers", "earliest") or h.intent == Intent.BOOK)
        ):
            self._book_specialty(s, h, h.complaint)
            return True
        if h.specialty and not h.provider.name and (h.day or h.part):
            self._start_earliest(s, h, h.specialty)
            return True
        return False

    def _frustrated(self, s: _State) -> None:
        """Acknowledge in one sentence, keep it simple, offer a person."""
        s.awaiting, s.task = "handoff_offer", None
        s.reply = (
            "I'm sorry, I know this is frustrating. I can have a staff member call you "
            "back, or we can keep going. Would you like a call back?"
        )

    def _unknown(self, s: _State, h: _Heard) -> None:
        """Heard, but no task: say so honestly (never "I didn't catch that")."""
        s.task = None
        s.reply = DECLINE if h.meaning.label == "out_of_scope" else UNSURE

    def _emergency(self, s: _State, h: _Heard) -> None:
        s.task, s.awaiting = None, None
        s.pending_slot = s.pending_cancel = None
        s.reply = CRISIS if self_harm(h.text) else EMERGENCY

    # --- care tasks ----------------------------------------------------------------------------

    def _start_refill(self, s: _State, h: _Heard) -> None:
        s.task = "refill"
        if not h.medication:
            s.awaiting = "refill_med"
            s.reply = "Sure. Which medication do you need refilled?"
            return
        s.refill = h.medication
        if s.identified:
            s.awaiting = "refill_confirm"
            s.reply = f"I'll send a refill request for {h.medication} to the care team. Okay?"
        else:
            s.awaiting, s.after_identity = "identity", "refill"
            s.reply = f"I can request a refill of {h.medication}. First, {ASK_IDENTITY.lower()}"

    def _start_handoff(self, s: _State, h: _Heard, *, asked_callback: bool) -> None:
        if asked_callback or self.can_transfer:
            s.need = self._handoff_call(s, h)
            return
        s.awaiting, s.task = "handoff_offer", None
        s.reply = (
            "I can't transfer calls on this line, but the front desk can call you back. Shall I?"
        )

    def _handoff_call(self, s: _State, h: _Heard):
        from clinic.parse import callback_window

        args: dict[str, Any] = {"reason": h.text[:200]}
        if window := callback_window(h.text):
            args["window"] = window
        s.task = "handoff"
        return CallTool("request_handoff", args)

    def _ask_info(self, s: _State, h: _Heard, topic: str) -> None:
        from clinic.nlu import WEEKDAYS
        from clinic.parse import insurance_plan

        args: dict[str, Any] = {"topic": topic}
        if h.provider.name:
            args["provider"] = h.provider.name
        if topic == "insurance" and (plan := insurance_plan(h.raw)):
            args["plan"] = plan
        if topic == "hours":
            named = [d for d in WEEKDAYS if d in h.text]
            if named:
                args["day"] = named[0]
        s.task = "info"
        s.need = CallTool("clinic_info", args)

    def _start_earliest(self, s: _State, h: _Heard, specialty: str | None) -> None:
        s.task, s.provider, s.specialty = "book", None, specialty
        s.slots, s.offset, s.pending_slot = [], 0, None
        self._remember_when(s, h)
        self._ask_slots(s)

    def _book_specialty(self, s: _State, h: _Heard, specialty: str) -> None:

        s.task, s.provider, s.specialty = "book", None, specialty
        s.slots, s.offset, s.pending_slot = [], 0, None
        self._remember_when(s, h)
        s.need = CallTool("find_provider", {"specialty": specialty})

    def _start_appointments(self, s: _State, h: _Heard, intent: Intent) -> None:

        if intent == Intent.CANCEL:
            s.task, s.awaiting, s.cancel_hint, s.pending_cancel = "cancel", None, h, None
        else:
            s.task, s.awaiting = "list", None
        s.need = CallTool("list_my_appointments", {})

    def _start_move(self, s: _State, h: _Heard) -> bool:
        from clinic.parse import split_move

        old_part, new_part = split_move(h.raw)
        s.task, s.awaiting, s.pending_cancel = "reschedule", None, None
        s.cancel_hint = self._hear(old_part) if old_part != h.text else None
        new = self._hear(new_part) if new_part else None
        s.move_to = (new.day, new.part, new.time) if new else None
        s.need = CallTool("list_my_appointments", {})
        return True

    # --- pending questions ---------------------------------------------------------------------

    def _at_refill_med(self, s: _State, h: _Heard) -> bool:
        if not h.medication:
            return False
        self._start_refill(s, h)
        return True

    def _at_refill_confirm(self, s: _State, h: _Heard) -> bool:

        if h.yes_no is True and s.refill:
            s.need = CallTool("request_refill", {"medication": s.refill})
            return True
        if h.yes_no is False:
            s.task, s.awaiting, s.refill = None, "anything_else", None
            s.reply = "Okay, I won't send it. Anything else?"
            return True
        return False

    def _at_handoff_offer(self, s: _State, h: _Heard) -> bool:
        if h.yes_no is True or h.meaning.label in ("callback", "handoff"):
            s.need = self._handoff_call(s, h)
            return True
        if h.yes_no is False:
            s.awaiting = None
            s.reply = "Okay. How can I help?"
            return True
        return False

    def _at_identity(self, s: _State, h: _Heard) -> bool:
        from clinic.parse import extract_person_name, parse_birth_date

        found = parse_birth_date(h.raw, today=self.today)
        name = extract_person_name(
            h.raw, skip_span=found[1] if found else None, with_date=bool(found)
        )
        if found:
            s.id_dob = found[0]
        if name:
            s.id_name = name
        if s.id_name and s.id_dob:
            s.need = CallTool(
                "verify_identity",
                {"full_name": s.id_name, "date_of_birth": s.id_dob.isoformat()},
            )
            return True
        if s.id_name or s.id_dob:
            s.reply = (
                "Thanks. And your date of birth?" if s.id_name else "Thanks. And your full name?"
            )
            return True
        if h.yes_no is False or h.intent == Intent.GOODBYE:
            s.awaiting, s.after_identity = "anything_else", None
            s.reply = "Okay. Without that I can't look up your appointments. Anything else?"
            return True
        return False

    def _at_move_when(self, s: _State, h: _Heard) -> bool:
        if not (h.day or h.part or h.time or h.more):
            return False
        self._remember_when(s, h)
        self._ask_slots(s)
        return True

    # --- tool results --------------------------------------------------------------------------

    def _care_tool_handlers(self) -> dict[str, Any]:
        return {
            "find_earliest_slots": self._on_open_slots,
            "reschedule_appointment": self._on_moved,
            "request_refill": self._on_refill,
            "request_handoff": self._on_handoff,
            "clinic_info": self._on_info,
            "verify_identity": self._on_verified,
        }

    def _on_info(self, s: _State, arguments: dict, result: dict) -> None:
        s.task, s.awaiting = None, "anything_else"
        lead = "Thanks for letting us know. " if arguments.get("topic") == "late" else ""
        s.reply = lead + str(result.get("answer") or "")

    def _on_refill(self, s: _State, arguments: dict, result: dict) -> None:
        s.task, s.awaiting, s.refill = None, "anything_else", None
        followup = result.get("followup") or "the care team follows up"
        s.reply = f"Done: your {result.get('medication')} refill request is in, and {followup}."

    def _on_handoff(self, s: _State, arguments: dict, result: dict) -> None:
        s.task, s.awaiting = None, "anything_else"
        team = result.get("team") or "the front desk"
        if result.get("mode") == "transfer":
            s.reply = f"Connecting you to {team} now."
            return
        s.reply = f"Okay, I've asked {team} to call you back {result.get('window')}."

    def _on_verified(self, s: _State, arguments: dict, result: dict) -> None:

        s.identified = True
        s.id_name = s.id_dob = None
        s.prefix = f"Thanks, {result.get('first_name') or 'you are verified'}. "
        task, s.after_identity = s.after_identity, None
        if task == "refill" and s.refill:
            s.need = CallTool("request_refill", {"medication": s.refill})
        elif task in ("list", "cancel", "reschedule"):
            s.task = task
            s.need = CallTool("list_my_appointments", {})
        else:
            s.awaiting = "anything_else"
            s.reply = s.prefix + "How can I help?"
            s.prefix = ""

    def _on_identity_failed(self, s: _State, result: dict) -> None:
        s.id_name = s.id_dob = None
        if int(result.get("attempts_left") or 0) > 0:
            s.awaiting = "identity"
            s.reply = f"Sorry, that doesn't match our records. {ASK_IDENTITY}"
            return
        s.awaiting, s.after_identity = "handoff_offer", None
        s.reply = "Sorry, I couldn't verify you. The front desk can call you back. Shall I?"

    def _need_identity(self, s: _State) -> None:
        s.after_identity = s.task
        s.awaiting = "identity"
        s.reply = f"I can look that up once I know who you are. {ASK_IDENTITY}"

    def _on_moved(self, s: _State, arguments: dict, result: dict) -> None:

        appt = result.get("appointment") or {}
        s.task, s.awaiting, s.moving, s.pending_slot = None, "anything_else", None, None
        s.slots, s.offset = [], 0
        s.reply = f"Done. Your appointment is now {describe_appointment(appt)}. Anything else?"

    def _moving_appointment(self, s: _State, appointments: list[dict]) -> None:
        """The caller's appointments are known: pick the one to move, then ask or look up when."""
        hint = s.cancel_hint
        matches = self._filter_appointments(appointments, hint) if hint else None
        matches = appointments if matches is None else matches
        if len(matches) != 1:
            s.appointments = matches or appointments
            s.awaiting = "which_move"
            listed = [describe_appointment(a) for a in s.appointments[:3]]
            s.reply = f"You have appointments {' and '.join(listed)}. Which one should I move?"
            return
        s.moving = matches[0]
        s.provider = s.moving["provider"]
        s.specialty = None
        if s.move_to and any(s.move_to):
            s.day, s.part, s.want_time = s.move_to
            self._ask_slots(s)
            return
        s.awaiting = "move_when"
        s.reply = (
            f"Your appointment is {describe_appointment(s.moving)}. When would you like it instead?"
        )

    def _at_which_move(self, s: _State, h: _Heard) -> bool:
        matches = self._filter_appointments(s.appointments, h)
        if matches and len(matches) == 1:
            s.cancel_hint = None
            self._moving_appointment(s, matches)
            return True
        return False

    def _earliest_lead(self, s: _State, result: dict) -> str:
        field = spoken_specialty(result["specialty"]) if result.get("specialty") else None
        words = ["The earliest", field, result.get("part_of_day"), "openings are"]
        return " ".join(w for w in words if w)
