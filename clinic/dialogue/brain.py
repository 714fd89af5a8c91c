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
in :mod:`clinic.understanding`, the sentences it says in :mod:`clinic.wording`.
"""

from __future__ import annotations

import json
import re
import threading
from datetime import date
from typing import Any

from clinic.dialogue.actions import CallTool, Say
from clinic.dialogue.appointments import AppointmentsDialogue
from clinic.dialogue.booking import BookingDialogue
from clinic.dialogue.care import NEW_TASK_LABELS, STRONG, CareDialogue
from clinic.dialogue.offers import OffersDialogue
from clinic.dialogue.state import State
from clinic.dialogue.tool_results import ToolResultsDialogue
from clinic.dialogue.transcript import call_arguments, has_image, message_text
from clinic.dialogue.vision import VisionDialogue
from clinic.info import load_info
from clinic.understanding.heard import Heard, understand
from clinic.understanding.intent import Intent
from clinic.wording import phrases, replies

_HEARD_CACHE_SIZE = 256
_DROP_TASK_RE = re.compile(r"\b(?:never ?mind|forget (?:it|about it)|skip it|leave it)\b")
_FILLERS = frozenset("a ah eh er erm hm hmm huh mm mhm oh uh um umm well so like".split())


def _vocabulary_meds() -> list[str]:
    """Medication names of the default clinic vocabulary."""
    from config import DEFAULT_VOCABULARY

    return list(json.loads(DEFAULT_VOCABULARY.read_text()).get("medications") or [])


class ClinicBrain(
    BookingDialogue,
    OffersDialogue,
    AppointmentsDialogue,
    CareDialogue,
    VisionDialogue,
    ToolResultsDialogue,
):
    """Deterministic dialogue policy over a chat transcript with clinic tool calls.

    Args:
        provider_names: Every bookable provider, as the directory spells them ("Dr. Patel").
        specialties: Every specialty offered.
        today: The clinic-local date of the conversation (resolves "tuesday").
        classifier: What a sentence means (an ``IntentClassifier`` of
            :mod:`clinic.understanding.meaning`); default: the shared one on the bundled sentence
            encoder, loaded on first use.
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
        self._heard: dict[str, Heard] = {}
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
            from clinic.understanding.meaning import default_classifier

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
        state = State()
        heard_user = False
        calls: dict[str, tuple[str, dict]] = {}
        for message in messages:
            if not isinstance(message, dict):
                continue
            role = message.get("role")
            if role == "user":
                content = message.get("content")
                text = message_text(content)
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
                if message_text(message.get("content")).strip():
                    state.greeted = True
                    state.reply = None  # delivered
                for call in message.get("tool_calls") or []:
                    function = call.get("function") or {}
                    calls[call.get("id", "")] = (function.get("name", ""), call_arguments(function))
                    if function.get("name") == "read_image":
                        state.image_new = False  # the newest image has been looked at
            elif role == "tool":
                name, arguments = calls.get(message.get("tool_call_id", ""), ("", {}))
                self._on_tool(state, name, arguments, message_text(message.get("content")))
        if state.need is not None:
            return state.need
        if state.reply is not None:
            prefix = state.prefix if not state.reply.startswith(state.prefix) else ""
            return Say(prefix + state.reply)
        if not heard_user:
            return Say(phrases.GREETING)
        # Run again with nothing new from the caller (e.g. an idle nudge): re-ask.
        return Say(self._reprompt(state, idle=True))

    def note_cue(self, text: str, cues: dict) -> None:
        """How the caller said ``text`` (``processors.caller_cues``): frustration cues."""
        with self._heard_lock:
            if len(self._cues) >= _HEARD_CACHE_SIZE:
                self._cues.pop(next(iter(self._cues)))
            self._cues[text.strip()] = dict(cues)

    # --- understanding -----------------------------------------------------------------------

    def _hear(self, text: str) -> Heard:
        with self._heard_lock:
            cached = self._heard.get(text)
        if cached is None:
            cached = self._understand(text)
            with self._heard_lock:
                if len(self._heard) >= _HEARD_CACHE_SIZE:
                    self._heard.pop(next(iter(self._heard)))
                self._heard[text] = cached
        return cached

    def _understand(self, text: str) -> Heard:
        return understand(
            text,
            classify=lambda t: self.classifier.classify(t),
            today=self.today,
            provider_names=self.provider_names,
            specialties=self.specialties,
            medications=self.medications,
            plans=self.plans,
        )

    # --- user turns ----------------------------------------------------------------------------

    def _on_user(self, s: State, text: str) -> None:
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
            s.prefix = phrases.TROUBLE_LEAD
        if (
            s.awaiting not in (None, "anything_else")
            and _DROP_TASK_RE.search(heard.text)
            and not (heard.provider.name or heard.specialty or heard.day or heard.time)
        ):
            s.task, s.awaiting = None, "anything_else"
            s.pending_slot, s.pending_cancel = None, None
            s.reply = phrases.DROPPED_TASK
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

    def _general(self, s: State, h: Heard) -> None:
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
            h.names_whom
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
            s.reply = phrases.SURE_WHICH_DOCTOR
        elif intent in (Intent.GOODBYE, Intent.THANKS):
            self._social(s, intent)
        elif intent == Intent.GREETING:
            s.reply = phrases.GREETING if not s.greeted else phrases.HELLO_AGAIN
            s.greeted = True
        elif intent == Intent.HELP:
            s.reply = phrases.HELP
        elif not set(re.findall(r"[a-z']+", h.text)) - _FILLERS:
            s.reply = self._reprompt(s)  # nothing intelligible was heard
        elif s.awaiting and s.awaiting != "anything_else":
            # A question of the caller's own is not a garbled answer to ours: say it is not
            # one this line can help with, then ask ours again.
            asked = h.raw.rstrip().endswith("?")
            lead = phrases.UNSURE_LEAD if asked else phrases.NOT_UNDERSTOOD_LEAD
            s.reply = self._reprompt(s, lead=lead)
        else:
            self._unknown(s, h)

    def _social(self, s: State, intent: Intent) -> None:
        if intent == Intent.GOODBYE:
            s.task, s.awaiting = None, None
            s.reply = phrases.GOODBYE
        else:
            s.awaiting = "anything_else"
            s.reply = phrases.WELCOME

    def _remember_when(self, s: State, h: Heard) -> None:
        """Take the day, part of day and time the caller gave (a new day resets the part)."""
        if h.day is not None:
            s.day = h.day
            s.part = h.part
        elif h.part is not None:
            s.part = h.part
        s.want_time = h.time

    # --- helpers -------------------------------------------------------------------------------

    def _reprompt(self, s: State, *, idle: bool = False, lead: str = "") -> str:
        """Ask the pending question again (after an unclear answer, or when run without one)."""
        lead = lead or (phrases.STILL_THERE_LEAD if idle else phrases.NOT_CAUGHT_LEAD)
        if s.awaiting == "confirm_book" and s.pending_slot is not None:
            return replies.again_confirm_book(lead, self._confirm_text(s, s.pending_slot))
        if s.awaiting == "slot" and s.slots:
            return replies.again_which_time(lead, self._window_text(s))
        if s.awaiting == "confirm_cancel" and s.pending_cancel is not None:
            return replies.again_confirm_cancel(lead, s.pending_cancel)
        if s.awaiting == "which_cancel" and s.appointments:
            return lead + self._appointments_question(s.appointments)
        if s.awaiting in ("provider", "suggestion"):
            return lead + phrases.WHICH_DOCTOR
        if s.awaiting == "identity":
            return lead + phrases.ASK_IDENTITY
        if idle:
            return lead + phrases.IDLE_SCOPE
        return lead + phrases.HELP
