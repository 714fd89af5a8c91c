"""The local brain's care tasks, and routing by meaning.

Emergencies, refills, hand-off, clinic information, earliest openings, the start of moving an
appointment, identifying the caller, and honest answers to the rest.

A mixin of :class:`clinic.dialogue.brain.ClinicBrain` (which owns the state replay; booking and
the caller's appointments have mixins of their own). Routing comes first
(:meth:`CareDialogue._route`): what the caller wants is decided by meaning
(:mod:`clinic.understanding.meaning`) and the entities found in the words, so a paraphrase of a
supported request reaches the same task. Every fact or action comes from a tool: the clinic
data file (``clinic_info``), the schedule, the care-team request tables.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from clinic.dialogue.actions import CallTool
from clinic.understanding.cues import self_harm
from clinic.understanding.intent import Intent
from clinic.wording import phrases, replies

if TYPE_CHECKING:  # pragma: no cover
    from clinic.dialogue.state import State
    from clinic.understanding.heard import Heard

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

    def _route(self, s: State, h: Heard) -> bool:
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
            s.reply = phrases.DEVICE if label == "device" else phrases.DECLINE
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

    def _frustrated(self, s: State) -> None:
        """Acknowledge in one sentence, keep it simple, offer a person."""
        s.awaiting, s.task = "handoff_offer", None
        s.reply = phrases.FRUSTRATED

    def _unknown(self, s: State, h: Heard) -> None:
        """Heard, but no task: say so honestly (never "I didn't catch that")."""
        s.task = None
        s.reply = phrases.DECLINE if h.meaning.label == "out_of_scope" else phrases.UNSURE

    def _emergency(self, s: State, h: Heard) -> None:
        s.task, s.awaiting = None, None
        s.pending_slot = s.pending_cancel = None
        s.reply = phrases.CRISIS if self_harm(h.text) else phrases.EMERGENCY

    # --- care tasks ----------------------------------------------------------------------------

    def _start_refill(self, s: State, h: Heard) -> None:
        s.task = "refill"
        if not h.medication:
            s.awaiting = "refill_med"
            s.reply = phrases.WHICH_MEDICATION
            return
        s.refill = h.medication
        if s.identified:
            s.awaiting = "refill_confirm"
            s.reply = replies.refill_okay(h.medication)
        else:
            s.awaiting, s.after_identity = "identity", "refill"
            s.reply = replies.refill_identify(h.medication)

    def _start_handoff(self, s: State, h: Heard, *, asked_callback: bool) -> None:
        if asked_callback or self.can_transfer:
            s.need = self._handoff_call(s, h)
            return
        s.awaiting, s.task = "handoff_offer", None
        s.reply = phrases.NO_TRANSFER

    def _handoff_call(self, s: State, h: Heard):
        from clinic.understanding.care_words import callback_window

        args: dict[str, Any] = {"reason": h.text[:200]}
        if window := callback_window(h.text):
            args["window"] = window
        s.task = "handoff"
        return CallTool("request_handoff", args)

    def _ask_info(self, s: State, h: Heard, topic: str) -> None:
        from clinic.understanding.care_words import insurance_plan
        from clinic.understanding.text import WEEKDAYS

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

    def _start_earliest(self, s: State, h: Heard, specialty: str | None) -> None:
        s.task, s.provider, s.specialty = "book", None, specialty
        s.slots, s.offset, s.pending_slot = [], 0, None
        self._remember_when(s, h)
        self._ask_slots(s)

    def _book_specialty(self, s: State, h: Heard, specialty: str) -> None:

        s.task, s.provider, s.specialty = "book", None, specialty
        s.slots, s.offset, s.pending_slot = [], 0, None
        self._remember_when(s, h)
        s.need = CallTool("find_provider", {"specialty": specialty})

    def _start_appointments(self, s: State, h: Heard, intent: Intent) -> None:

        if intent == Intent.CANCEL:
            s.task, s.awaiting, s.cancel_hint, s.pending_cancel = "cancel", None, h, None
        else:
            s.task, s.awaiting = "list", None
        s.need = CallTool("list_my_appointments", {})

    # --- pending questions ---------------------------------------------------------------------

    def _at_refill_med(self, s: State, h: Heard) -> bool:
        if not h.medication:
            return False
        self._start_refill(s, h)
        return True

    def _at_refill_confirm(self, s: State, h: Heard) -> bool:

        if h.yes_no is True and s.refill:
            s.need = CallTool("request_refill", {"medication": s.refill})
            return True
        if h.yes_no is False:
            s.task, s.awaiting, s.refill = None, "anything_else", None
            s.reply = phrases.REFILL_NOT_SENT
            return True
        return False

    def _at_handoff_offer(self, s: State, h: Heard) -> bool:
        if h.yes_no is True or h.meaning.label in ("callback", "handoff"):
            s.need = self._handoff_call(s, h)
            return True
        if h.yes_no is False:
            s.awaiting = None
            s.reply = phrases.OKAY_HOW_CAN_I_HELP
            return True
        return False

    def _at_identity(self, s: State, h: Heard) -> bool:
        from clinic.understanding.care_words import extract_person_name, parse_birth_date

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
            s.reply = phrases.ASK_BIRTH_DATE if s.id_name else phrases.ASK_FULL_NAME
            return True
        if h.yes_no is False or h.intent == Intent.GOODBYE:
            s.awaiting, s.after_identity = "anything_else", None
            s.reply = phrases.NO_IDENTITY
            return True
        return False

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

    def _on_info(self, s: State, arguments: dict, result: dict) -> None:
        s.task, s.awaiting = None, "anything_else"
        lead = phrases.LATE_LEAD if arguments.get("topic") == "late" else ""
        s.reply = lead + str(result.get("answer") or "")

    def _on_refill(self, s: State, arguments: dict, result: dict) -> None:
        s.task, s.awaiting, s.refill = None, "anything_else", None
        s.reply = replies.refill_sent(result.get("medication"), result.get("followup"))

    def _on_handoff(self, s: State, arguments: dict, result: dict) -> None:
        s.task, s.awaiting = None, "anything_else"
        if result.get("mode") == "transfer":
            s.reply = replies.connecting(result.get("team"))
            return
        s.reply = replies.will_call_back(result.get("team"), result.get("window"))

    def _on_verified(self, s: State, arguments: dict, result: dict) -> None:

        s.identified = True
        s.id_name = s.id_dob = None
        s.prefix = replies.verified_lead(result.get("first_name"))
        task, s.after_identity = s.after_identity, None
        if task == "refill" and s.refill:
            s.need = CallTool("request_refill", {"medication": s.refill})
        elif task in ("list", "cancel", "reschedule"):
            s.task = task
            s.need = CallTool("list_my_appointments", {})
        else:
            s.awaiting = "anything_else"
            s.reply = s.prefix + phrases.HOW_CAN_I_HELP
            s.prefix = ""

    def _on_identity_failed(self, s: State, result: dict) -> None:
        s.id_name = s.id_dob = None
        if int(result.get("attempts_left") or 0) > 0:
            s.awaiting = "identity"
            s.reply = replies.not_matched()
            return
        s.awaiting, s.after_identity = "handoff_offer", None
        s.reply = phrases.NOT_VERIFIED

    def _need_identity(self, s: State) -> None:
        s.after_identity = s.task
        s.awaiting = "identity"
        s.reply = replies.who_are_you()
