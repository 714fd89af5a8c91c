"""Echo's local clinic assistant: a deterministic, task-oriented dialogue engine.

:class:`ClinicBrain` plays the role of an LLM with tools. Given the OpenAI-format conversation
so far it returns the next action: :class:`Say` some text, or :class:`CallTool` with arguments.
It keeps no state between calls: each call replays the conversation (user turns, tool calls and
tool results) through a small state machine, so it works identically whether it is called after
a user turn or after a tool result, and inside a Pipecat pipeline or a text REPL. Its own past
replies are not needed (they may be cut short by barge-in); what it offered is recovered from
the tool results in the context.

Dialogue: book (provider by name, or by specialty via ``find_provider``), offer at most three
open slots, take a choice, confirm, book only after a yes; cancel (list, choose, confirm,
cancel); list appointments; which providers do X; greetings, thanks, help. Understanding lives
in :mod:`clinic.nlu`.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from datetime import date, time
from typing import Any

from clinic.actions import CallTool, Say
from clinic.dialogue_appointments import AppointmentsDialogue
from clinic.dialogue_booking import BookingDialogue
from clinic.dialogue_care import NEW_TASK_LABELS, STRONG, CareDialogue
from clinic.dialogue_vision import VisionDialogue, has_image
from clinic.info import load_info
from clinic.intents import (
    Meaning,
    asks_callback,
    complaint_specialty,
    frustration_score,
    mentions_insurance,
    provider_question,
    red_flag,
)
from clinic.nlu import (
    Intent,
    ProviderMatch,
    asks_for_more,
    detect_intent,
    extract_reason,
    match_provider,
    match_specialty,
    normalize,
    parse_day,
    parse_part_of_day,
    parse_time,
    parse_yes_no,
    says_anyone,
)
from clinic.parse import find_medication
from clinic.wording import (  # noqa: F401 (FILLER, fixed_phrases: public names)
    FILLER,
    GREETING,
    HELP,
    UNSURE_LEAD,
    describe_appointment,
    fixed_phrases,
)

MAX_OFFERED = 3
_HEARD_CACHE_SIZE = 256
_DROP_TASK_RE = re.compile(r"\b(?:never ?mind|forget (?:it|about it)|skip it|leave it)\b")
_NEW_TASK_INTENTS = frozenset(
    {Intent.BOOK, Intent.LIST_APPOINTMENTS, Intent.FIND_PROVIDERS, Intent.RESCHEDULE, Intent.HELP}
)

_FILLERS = frozenset("a ah eh er erm hm hmm huh mm mhm oh uh um umm well so like".split())
_EARLIEST_RE = re.compile(
    r"\b(?:earliest|soonest|first available|next available|as soon as possible|asap|"
    r"whoever|who ?ever|anybody|anyone|any doctor|any provider|any of the doctors|"
    r"first thing|any openings?|anything)\b"
)


@dataclass(frozen=True)
class _Heard:
    """Everything understood in one user utterance."""

    text: str
    raw: str
    intent: Intent
    meaning: Meaning
    emergency: bool
    medication: str | None
    complaint: str | None
    frustration: float
    earliest: bool
    callback: bool
    insurance: bool
    provider_question: bool
    provider: ProviderMatch
    specialty: str | None
    day: date | None
    part: str | None
    time: time | None
    yes_no: bool | None
    more: bool
    anyone: bool
    reason: str | None


@dataclass
class _State:
    """Dialogue state rebuilt from the conversation on every call."""

    task: str | None = None  # "book" | "cancel" | "list" | "providers"
    awaiting: str | None = None  # what the last question was about
    provider: str | None = None
    specialty: str | None = None
    candidates: list[dict] = field(default_factory=list)
    day: date | None = None
    part: str | None = None
    want_time: time | None = None
    reason: str | None = None
    slots: list[dict] = field(default_factory=list)
    offset: int = 0
    pending_slot: dict | None = None
    suggestion: tuple[str, ...] = ()
    appointments: list[dict] = field(default_factory=list)
    cancel_hint: _Heard | None = None
    pending_cancel: dict | None = None
    prefix: str = ""  # said before the next reply (e.g. "Sorry, that time was just taken.")
    need: CallTool | None = None
    reply: str | None = None
    greeted: bool = False
    refill: str | None = None  # medication of a pending refill request
    identified: bool = False
    after_identity: str | None = None  # the task waiting for the caller's identity
    id_name: str | None = None
    id_dob: date | None = None
    image_new: bool = False  # an image arrived that has not been read yet
    moving: dict | None = None  # the appointment being rescheduled
    move_to: tuple | None = None  # (day, part, time) the caller asked to move it to


def _vocabulary_meds() -> list[str]:
    """Medication names of the default clinic vocabulary."""
    from config import DEFAULT_VOCABULARY

    return list(json.loads(DEFAULT_VOCABULARY.read_text()).get("medications") or [])


def _parse_content(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(
            part.get("text", "")
            for part in content
            if isinstance(part, dict) and part.get("type") == "text"
        )
    return ""


class ClinicBrain(BookingDialogue, AppointmentsDialogue, CareDialogue, VisionDialogue):
    """Deterministic dialogue policy over a chat transcript with clinic tool calls.

    Args:
        provider_names: Every bookable provider, as the directory spells them ("Dr. Patel").
        specialties: Every specialty offered.
        today: The clinic-local date of the conversation (resolves "tuesday").
        classifier: What a sentence means (:class:`clinic.intents.IntentClassifier`); default:
            the shared one on the bundled sentence encoder, loaded on first use.
        medications: The vocabulary's medication names (refill requests).
        can_transfer: The transport can hand the call to a person (telephony).
        vision: The caller can show images (``read_image`` is available).
        info: The clinic information (default: the bundled file); its insurance plans help
            recognise an insurance question.
    """

    def __init__(
        self,
        *,
        provider_names: list[str],
        specialties: list[str],
        today: date,
        classifier: Any = None,
        medications: list[str] | None = None,
        can_transfer: bool = False,
        vision: bool = False,
        info: dict | None = None,
    ):
        self.provider_names = list(provider_names)
        self.specialties = list(specialties)
        self.today = today
        self._classifier = classifier
        self.medications = list(medications if medications is not None else _vocabulary_meds())
        self.can_transfer = can_transfer
        self.vision = vision
        info = info if info is not None else load_info()
        self.plans = list(info.get("insurance_accepted") or [])
        # Understanding one utterance is pure, and every call replays the whole transcript:
        # remember recent utterances so a call costs one new parse, not one per turn.
        self._heard: dict[str, _Heard] = {}
        self._heard_lock = threading.Lock()
        self._cues: dict[str, dict] = {}  # transcript -> how it was said (note_cue)

    # --- public ------------------------------------------------------------------------------

    @classmethod
    def for_store(
        cls, store: Any, *, today: date, vision: bool = False, **kwargs: Any
    ) -> ClinicBrain:
        """A brain that knows every provider and specialty in a ``ClinicStore``."""
        found = store.find_providers()
        return cls(
            provider_names=[p.name for p in found],
            specialties=sorted({p.specialty for p in found}),
            today=today,
            vision=vision,
            **kwargs,
        )

    @property
    def classifier(self) -> Any:
        """The intent classifier (the shared default, loaded on first use)."""
        if self._classifier is None:
            from clinic.intents import default_classifier

            self._classifier = default_classifier()
        return self._classifier

    def next_action(self, messages: list[dict]) -> Say | CallTool:
        """The assistant's next step given the conversation so far.

        Args:
            messages: OpenAI chat-format messages (system/user/assistant/tool). Assistant
                messages may carry ``tool_calls``; tool messages carry JSON results.

        Returns:
            ``CallTool`` when a tool result is needed first, else ``Say``.
        """
        state = _State()
        heard_user = False
        calls: dict[str, tuple[str, dict]] = {}
        for message in messages:
            if not isinstance(message, dict):
                continue
            role = message.get("role")
            if role == "user":
                content = message.get("content")
                text = _parse_content(content)
                if self.vision and has_image(content):
                    state.image_new = True
                if text.strip():
                    heard_user = True
                    self._on_user(state, text)
                elif state.image_new:
                    heard_user = True
                    state.need = CallTool("read_image", {"question": ""})
                    state.reply = None
            elif role == "assistant":
                if _parse_content(message.get("content")).strip():
                    state.greeted = True
                    state.reply = None  # delivered
                for call in message.get("tool_calls") or []:
                    function = call.get("function") or {}
                    try:
                        arguments = json.loads(function.get("arguments") or "{}")
                    except (TypeError, ValueError):
                        arguments = {}
                    calls[call.get("id", "")] = (function.get("name", ""), arguments)
                    if function.get("name") == "read_image":
                        state.image_new = False  # the newest image has been looked at
            elif role == "tool":
                name, arguments = calls.get(message.get("tool_call_id", ""), ("", {}))
                self._on_tool(state, name, arguments, _parse_content(message.get("content")))
        if state.need is not None:
            return state.need
        if state.reply is not None:
            prefix = state.prefix if not state.reply.startswith(state.prefix) else ""
            return Say(prefix + state.reply)
        if not heard_user:
            return Say(GREETING)
        # Run again with nothing new from the caller (e.g. an idle nudge): re-ask.
        return Say(self._reprompt(state, idle=True))

    def note_cue(self, text: str, cues: dict) -> None:
        """How the caller said ``text`` (``processors.caller_cues``): frustration cues."""
        with self._heard_lock:
            if len(self._cues) >= _HEARD_CACHE_SIZE:
                self._cues.pop(next(iter(self._cues)))
            self._cues[text.strip()] = dict(cues)

    # --- understanding -----------------------------------------------------------------------

    def _hear(self, text: str) -> _Heard:
        with self._heard_lock:
            cached = self._heard.get(text)
        if cached is None:
            cached = self._understand(text)
            with self._heard_lock:
                if len(self._heard) >= _HEARD_CACHE_SIZE:
                    self._heard.pop(next(iter(self._heard)))
                self._heard[text] = cached
        return cached

    def _understand(self, text: str) -> _Heard:
        norm = normalize(text)
        return _Heard(
            text=norm,
            raw=str(text),
            intent=detect_intent(text),
            meaning=self.classifier.classify(text) if norm else Meaning(None, 0.0),
            emergency=red_flag(norm),
            medication=find_medication(text, self.medications),
            complaint=complaint_specialty(norm, self.specialties),
            frustration=frustration_score(text) if norm else 0.0,
            earliest=bool(_EARLIEST_RE.search(norm)) or says_anyone(text),
            callback=asks_callback(norm),
            insurance=mentions_insurance(norm, self.plans),
            provider_question=provider_question(norm),
            provider=match_provider(text, self.provider_names),
            specialty=match_specialty(text, self.specialties),
            day=parse_day(text, self.today),
            part=parse_part_of_day(text),
            time=parse_time(text),
            yes_no=parse_yes_no(text),
            more=asks_for_more(text),
            anyone=says_anyone(text),
            reason=extract_reason(text),
        )

    # --- user turns ----------------------------------------------------------------------------

    def _on_user(self, s: _State, text: str) -> None:
        s.need = None
        s.reply = None
        s.prefix = ""
        heard = self._hear(text)
        if heard.emergency or heard.meaning.label == "emergency":
            self._emergency(s, heard)
            return
        if self._about_image(s, heard):
            return
        if self._cues.get(text.strip(), {}).get("frustrated"):
            if heard.meaning.label is None and not heard.yes_no:
                self._frustrated(s)
                return
            s.prefix = "Sorry about the trouble. "
        if (
            s.awaiting not in (None, "anything_else")
            and _DROP_TASK_RE.search(heard.text)
            and not (heard.provider.name or heard.specialty or heard.day or heard.time)
        ):
            s.task, s.awaiting = None, "anything_else"
            s.pending_slot, s.pending_cancel = None, None
            s.reply = "Okay, no problem. Is there anything else I can help with?"
            return
        handler = {
            "confirm_book": self._at_confirm_book,
            "slot": self._at_slot,
            "provider": self._at_provider,
            "book_offer": self._at_book_offer,
            "suggestion": self._at_suggestion,
            "which_cancel": self._at_which_cancel,
            "confirm_cancel": self._at_confirm_cancel,
            "anything_else": self._at_anything_else,
            "refill_med": self._at_refill_med,
            "refill_confirm": self._at_refill_confirm,
            "handoff_offer": self._at_handoff_offer,
            "identity": self._at_identity,
            "move_when": self._at_move_when,
            "which_move": self._at_which_move,
            "image_refill": self._at_image_refill,
            "image_book": self._at_image_book,
        }.get(s.awaiting or "")
        interrupts = (
            heard.meaning.label in NEW_TASK_LABELS
            and heard.meaning.score >= STRONG
            and heard.yes_no is None
            and s.awaiting not in ("identity", "refill_med")
        )
        if interrupts:
            handler = None
        if handler is not None and handler(s, heard):
            return
        self._general(s, heard)

    def _general(self, s: _State, h: _Heard) -> None:
        intent = h.intent
        social = ("greeting", "thanks", "goodbye", "help")
        if intent in (Intent.NONE, Intent.THANKS, Intent.GREETING) and h.meaning.label in social:
            intent = Intent(h.meaning.label)
        if self._route(s, h):
            return
        if intent == Intent.CANCEL:
            s.task, s.awaiting, s.cancel_hint = "cancel", None, h
            s.pending_cancel = None
            s.need = CallTool("list_my_appointments", {})
        elif intent == Intent.LIST_APPOINTMENTS:
            s.task, s.awaiting = "list", None
            s.need = CallTool("list_my_appointments", {})
        elif intent == Intent.FIND_PROVIDERS and h.specialty:
            s.task, s.awaiting, s.specialty = "providers", None, h.specialty
            s.need = CallTool("find_provider", {"specialty": h.specialty})
        elif intent == Intent.FIND_PROVIDERS and h.provider.name:
            s.task, s.awaiting = "providers", None
            s.need = CallTool("find_provider", {"name": h.provider.name})
        elif (
            h.provider.name
            or h.provider.heard
            or h.specialty
            or intent == Intent.BOOK
            or (s.provider and (h.day or h.part or h.time or h.more))
        ):
            self._booking(s, h)
        elif intent in (Intent.GOODBYE, Intent.THANKS) and not s.provider:
            self._social(s, intent)
        elif h.day or h.part or h.time:
            # A day or time, but no provider yet: remember it and ask who.
            self._remember_when(s, h)
            s.task, s.awaiting = "book", "provider"
            s.reply = "Sure. Which doctor would you like to see, or what kind of specialist?"
        elif intent in (Intent.GOODBYE, Intent.THANKS):
            self._social(s, intent)
        elif intent == Intent.GREETING:
            s.reply = GREETING if not s.greeted else "Hi! How can I help you today?"
            s.greeted = True
        elif intent == Intent.HELP:
            s.reply = HELP
        elif not set(re.findall(r"[a-z']+", h.text)) - _FILLERS:
            s.reply = self._reprompt(s)  # nothing intelligible was heard
        elif s.awaiting and s.awaiting != "anything_else":
            # A question of the caller's own is not a garbled answer to ours: say it is not
            # one this line can help with, then ask ours again.
            asked = h.raw.rstrip().endswith("?")
            lead = UNSURE_LEAD if asked else "Sorry, I'm not sure what you mean. "
            s.reply = self._reprompt(s, lead=lead)
        else:
            self._unknown(s, h)

    def _social(self, s: _State, intent: Intent) -> None:
        if intent == Intent.GOODBYE:
            s.task, s.awaiting = None, None
            s.reply = "Thank you for calling. Take care, goodbye!"
        else:
            s.awaiting = "anything_else"
            s.reply = "You're welcome. Is there anything else I can help with?"

    def _remember_when(self, s: _State, h: _Heard) -> None:
        """Take the day, part of day and time the caller gave (a new day resets the part)."""
        if h.day is not None:
            s.day = h.day
            s.part = h.part
        elif h.part is not None:
            s.part = h.part
        s.want_time = h.time

    # --- context handlers (return True when the utterance was handled) -------------------------

    # --- tool results --------------------------------------------------------------------------

    def _on_tool(self, s: _State, name: str, arguments: dict, content: str) -> None:
        s.need = None
        s.reply = None
        try:
            result = json.loads(content)
        except (TypeError, ValueError):
            result = None
        if not isinstance(result, dict):
            self._on_unfinished_tool(s, name, content)
            return
        if name == "read_image":  # its answer says what went wrong, if anything
            self._on_read_image(s, arguments, result)
            return
        if not result.get("ok", False):
            self._on_tool_error(s, name, result)
            return
        handler = {
            "find_provider": self._on_find_provider,
            "list_open_slots": self._on_open_slots,
            "book_appointment": self._on_booked,
            "cancel_appointment": self._on_cancelled,
            "list_my_appointments": self._on_my_appointments,
            **self._care_tool_handlers(),
            "read_image": self._on_read_image,
        }.get(name)
        if handler is None:
            s.reply = "Sorry, something went wrong on my side. Could you say that again?"
            return
        handler(s, arguments, result)

    def _on_unfinished_tool(self, s: _State, name: str, content: str) -> None:
        """A tool message that is not a JSON result: still running, or cancelled."""
        if content.strip().upper() == "IN_PROGRESS":
            s.reply = "One moment, please."
            return
        if name == "book_appointment" and s.pending_slot is not None:
            s.awaiting = "confirm_book"
            s.reply = "Sorry, I didn't get to finish booking. " + self._confirm_text(
                s, s.pending_slot
            )
        elif name == "cancel_appointment" and s.pending_cancel is not None:
            s.awaiting = "confirm_cancel"
            s.reply = (
                "Sorry, I didn't get to finish cancelling. Shall I cancel your appointment "
                f"{describe_appointment(s.pending_cancel)}?"
            )
        else:
            s.reply = "Sorry, I didn't catch that. Could you say it again?"

    def _on_tool_error(self, s: _State, name: str, result: dict) -> None:
        code = result.get("code")
        error = str(result.get("error") or "something went wrong")
        if name == "verify_identity":
            self._on_identity_failed(s, result)
        elif name in ("book_appointment", "reschedule_appointment") and code == "slot_unavailable":
            s.pending_slot = None
            s.prefix = "Sorry, that time was just taken. "
            self._ask_slots(s)
        elif name == "book_appointment" and code == "audit_failed":
            s.awaiting = "confirm_book"
            s.reply = (
                "Sorry, I couldn't record that booking, so it was not made. Shall I try again?"
            )
        elif name == "cancel_appointment" and code == "audit_failed":
            s.awaiting = "confirm_cancel"
            s.reply = (
                "Sorry, I couldn't record the cancellation, so your appointment is still booked. "
                "Shall I try again?"
            )
        elif name == "list_open_slots" and code in ("unknown_provider", "ambiguous_provider"):
            s.provider = None
            s.awaiting = "provider"
            s.candidates = []
            s.reply = (
                "Sorry, I couldn't find that doctor. Which doctor would you like, "
                "or what kind of specialist?"
            )
        elif name == "find_provider" and code == "unknown_specialty":
            s.awaiting = "provider"
            s.candidates = []
            s.reply = (
                "Sorry, we don't have that kind of specialist. Is there a doctor you'd like to see?"
            )
        else:
            s.awaiting = None
            s.reply = f"Sorry, I couldn't do that. {error}"

    # --- helpers -------------------------------------------------------------------------------

    def _reprompt(self, s: _State, *, idle: bool = False, lead: str = "") -> str:
        """Ask the pending question again (after an unclear answer, or when run without one)."""
        lead = lead or ("Are you still there? " if idle else "Sorry, I didn't catch that. ")
        if s.awaiting == "confirm_book" and s.pending_slot is not None:
            return f"{lead}{self._confirm_text(s, s.pending_slot)} Please say yes or no."
        if s.awaiting == "slot" and s.slots:
            return f"{lead}Which time would you like? I have {self._window_text(s)}."
        if s.awaiting == "confirm_cancel" and s.pending_cancel is not None:
            return (
                f"{lead}Shall I cancel your appointment "
                f"{describe_appointment(s.pending_cancel)}? Please say yes or no."
            )
        if s.awaiting == "which_cancel" and s.appointments:
            return lead + self._appointments_question(s.appointments)
        if s.awaiting in ("provider", "suggestion"):
            return f"{lead}Which doctor would you like to see, or what kind of specialist?"
        if s.awaiting == "identity":
            return f"{lead}What's your full name and date of birth?"
        if idle:
            return f"{lead}I can book, move or cancel visits, or request refills."
        return lead + HELP
