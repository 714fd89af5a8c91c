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

import ast
import json
import re
import threading
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from clinic.dialogue_care import (
    CRISIS,
    DECLINE,
    EMERGENCY,
    NEW_TASK_LABELS,
    STRONG,
    UNSURE,
    CareDialogue,
)
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
    format_day,
    format_time,
    format_when,
    match_provider,
    match_specialty,
    normalize,
    parse_choice,
    parse_day,
    parse_ordinal,
    parse_part_of_day,
    parse_time,
    parse_yes_no,
    says_anyone,
    spoken_specialty,
)
from clinic.parse import find_medication

MAX_OFFERED = 3
_HEARD_CACHE_SIZE = 256
_DROP_TASK_RE = re.compile(r"\b(?:never ?mind|forget (?:it|about it)|skip it|leave it)\b")
_NEW_TASK_INTENTS = frozenset(
    {Intent.BOOK, Intent.LIST_APPOINTMENTS, Intent.FIND_PROVIDERS, Intent.RESCHEDULE, Intent.HELP}
)

GREETING = (
    "Hi, this is Echo, the clinic's appointment line. I can book, move or cancel visits, "
    "or request refills. How can I help?"
)
HELP = (
    "I can book, move or cancel appointments, request refills, or answer clinic questions. "
    "For example, say: book me with Doctor Patel on Tuesday."
)
FILLER = "One moment, let me check."
_FILLERS = frozenset("a ah eh er erm hm hmm huh mm mhm oh uh um umm well so like".split())
_EARLIEST_RE = re.compile(
    r"\b(?:earliest|soonest|first available|next available|as soon as possible|asap|"
    r"whoever|who ?ever|anybody|anyone|any doctor|any provider|any of the doctors|"
    r"first thing|any openings?|anything)\b"
)


_SENTENCE_END = re.compile(r"(?<=[.?!])\s+")


def fixed_phrases() -> list[str]:
    """Sentences the brain speaks verbatim, for pre-synthesis (TTS warm-up).

    Read from this module's source: the greeting and help texts, and every string literal
    in an assignment to a ``reply`` that is a whole sentence or more, split into sentences
    as the TTS service receives them. Computed replies (names, times) are not included.
    """
    tree = ast.parse(Path(__file__).read_text(encoding="utf-8"))
    texts = {GREETING, HELP, FILLER, EMERGENCY, CRISIS, DECLINE, UNSURE}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assign):
            continue
        if not any(isinstance(t, ast.Attribute) and t.attr == "reply" for t in node.targets):
            continue
        for sub in ast.walk(node.value):
            if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
                text = sub.value.strip()
                if text.endswith((".", "?", "!")) and "{" not in text:
                    texts.add(text)
    sentences = {part.strip() for text in texts for part in _SENTENCE_END.split(text)}
    return sorted(p for p in sentences if p[:1].isupper())  # not a literal's tail fragment


@dataclass(frozen=True)
class Say:
    """Speak ``text`` to the caller."""

    text: str


@dataclass(frozen=True)
class CallTool:
    """Call the tool ``name`` with ``arguments``."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)


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


def _spoken_provider(name: str) -> str:
    """Say a directory name aloud: "Dr. Patel" → "Doctor Patel"."""
    stripped = name.strip()
    for title in ("Dr. ", "Dr ", "Doctor "):
        if stripped.startswith(title):
            return "Doctor " + stripped[len(title) :].strip()
    return stripped


def _join(items: list[str], conjunction: str = "and") -> str:
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    return f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


def _slot_start(slot: dict) -> datetime:
    return datetime.fromisoformat(slot["start"])


def _describe_slots(slots: list[dict], conjunction: str = "or") -> str:
    """Slots said aloud, grouped by day: "Tuesday, December 2nd at 9 AM, 10:30 AM or 2 PM"."""
    groups: list[tuple[date, list[str]]] = []
    for slot in slots:
        start = _slot_start(slot)
        if groups and groups[-1][0] == start.date():
            groups[-1][1].append(format_time(start))
        else:
            groups.append((start.date(), [format_time(start)]))
    if len(groups) == 1:
        day, times = groups[0]
        return f"{format_day(day)} at {_join(times, conjunction)}"
    parts = [f"{format_day(day)} at {_join(times, 'and')}" for day, times in groups]
    return _join(parts, conjunction)


def _describe_with_doctors(slots: list[dict]) -> str:
    """Slots of several doctors: "on Monday, December 1st at 9 AM with Doctor A or Doctor B"."""
    by_time: list[tuple[datetime, list[str]]] = []
    for slot in slots:
        start, who = _slot_start(slot), _spoken_provider(slot["provider"])
        if by_time and by_time[-1][0] == start:
            by_time[-1][1].append(who)
        else:
            by_time.append((start, [who]))
    if len({start.date() for start, _ in by_time}) == 1:
        parts = [f"at {format_time(start)} with {_join(who, 'or')}" for start, who in by_time]
        return f"on {format_day(by_time[0][0].date())} {_join(parts, 'or')}"
    return _join([f"{format_when(start)} with {_join(who, 'or')}" for start, who in by_time], "or")


def _describe_appointment(appt: dict) -> str:
    return f"with {_spoken_provider(appt['provider'])} on {format_when(_slot_start(appt))}"


def _code_spoken(appointment_id: str) -> str:
    """A code said aloud: "APT-7K3F9Q" → "7 K 3 F 9 Q" (easy to write down)."""
    code = appointment_id.split("-", 1)[-1]
    return " ".join(code)


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


class ClinicBrain(CareDialogue, VisionDialogue):
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
                    state.image_new, state.reply = False, None
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
            s.reply = self._reprompt(s, lead="Sorry, I'm not sure what you mean. ")
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
                names = [_spoken_provider(n) for n in h.provider.suggestions[:2]]
                s.reply = f"I couldn't find a Doctor {heard}. Did you mean {_join(names, 'or')}?"
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

    # --- context handlers (return True when the utterance was handled) -------------------------

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
        pending_start = _slot_start(pending)
        pending_part = "morning" if pending_start.hour < 12 else "afternoon"
        chosen = self._choose_slot(s, h)
        if chosen is not None and h.day and h.day != _slot_start(chosen).date():
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
        if chosen is not None and h.day and h.day != _slot_start(chosen).date():
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
                names = _join(
                    [_spoken_provider(c["name"]) for c in s.candidates[:MAX_OFFERED]], "or"
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
                        + _join([_spoken_provider(n) for n in s.suggestion[:2]], "or")
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

    def _at_which_cancel(self, s: _State, h: _Heard) -> bool:
        if not s.appointments or h.intent in _NEW_TASK_INTENTS:
            return False
        if h.yes_no is False and h.provider.name is None and h.day is None:
            s.task, s.awaiting = None, "anything_else"
            s.reply = "Okay, I'll leave your appointments as they are. Anything else?"
            return True
        matches = self._filter_appointments(s.appointments, h)
        if matches is None:
            index = parse_choice(h.text, [_slot_start(a) for a in s.appointments])
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
                f"{_describe_appointment(s.pending_cancel)}?"
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
                    f"{prefix}{_spoken_provider(p['name'])} works in "
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
            s.prefix = f"{prefix}{_spoken_provider(s.provider)} is our {field_name} provider. "
            self._ask_slots(s)
            return
        s.candidates = providers
        s.awaiting = "provider"
        s.reply = (
            f"{prefix}{self._providers_text(providers, field_name)} "
            "Who would you like to see, or is anyone fine?"
        )

    def _providers_text(self, providers: list[dict], field_name: str | None) -> str:
        names = [_spoken_provider(p["name"]) for p in providers[:MAX_OFFERED]]
        more = len(providers) - len(names)
        where = f"For {field_name}, we have" if field_name else "We have"
        if more > 0:
            names.append("one other" if more == 1 else f"{more} others")
        return f"{where} {_join(names)}."

    def _on_open_slots(self, s: _State, arguments: dict, result: dict) -> None:
        slots = list(result.get("slots") or [])
        if s.provider is None and not result.get("provider"):
            self._on_earliest(s, result, slots)
            return
        provider = (result.get("provider") or {}).get("name") or s.provider or "the doctor"
        s.provider = provider
        who = _spoken_provider(provider)
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
                start = _slot_start(slot)
                if (start.hour, start.minute) == (want.hour, want.minute):
                    s.prefix = prefix
                    self._confirm(s, slot)
                    return
            # Offer the open times closest to the one asked for.
            wanted_minutes = want.hour * 60 + want.minute
            s.slots = sorted(
                slots,
                key=lambda sl: (
                    abs(_slot_start(sl).hour * 60 + _slot_start(sl).minute - wanted_minutes),
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
            f"You're booked {_describe_appointment(appt)}. Your confirmation code is "
            f"{_code_spoken(appt.get('appointment_id', ''))}. "
            "Is there anything else I can help with?"
        )

    def _on_cancelled(self, s: _State, arguments: dict, result: dict) -> None:
        appt = result.get("appointment") or {}
        s.pending_cancel = None
        s.appointments = [
            a for a in s.appointments if a.get("appointment_id") != appt.get("appointment_id")
        ]
        s.task, s.awaiting = None, "anything_else"
        s.reply = (
            f"Done. Your appointment {_describe_appointment(appt)} is cancelled. Anything else?"
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
                f"You have one appointment, {_describe_appointment(appointments[0])}. "
                "Anything else?"
            )
            return
        listed = [_describe_appointment(a) for a in appointments[:MAX_OFFERED]]
        more = len(appointments) - len(listed)
        tail = f", and {more} more" if more > 0 else ""
        s.reply = (
            f"You have {len(appointments)} appointments: {_join(listed)}{tail}. Anything else?"
        )

    # --- helpers -------------------------------------------------------------------------------

    def _window(self, s: _State) -> list[dict]:
        size = MAX_OFFERED if s.provider else 2  # across providers each slot names its doctor
        return s.slots[s.offset : s.offset + size]

    def _window_text(self, s: _State) -> str:
        window = sorted(self._window(s), key=lambda sl: sl["start"])
        if s.provider is None and len({sl.get("provider") for sl in window}) > 1:
            return _describe_with_doctors(window)
        return _describe_slots(window)

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
        index = parse_choice(h.text, [_slot_start(sl) for sl in window])
        if index is not None:
            return window[index]
        if h.time is not None:
            for slot in s.slots:
                start = _slot_start(slot)
                if (start.hour, start.minute) == (h.time.hour, h.time.minute):
                    return slot
        return None

    def _confirm_text(self, s: _State, slot: dict) -> str:
        who = _spoken_provider(slot.get("provider") or s.provider or "the doctor")
        if s.moving:
            return f"Move it to {who}, {format_when(_slot_start(slot))}?"
        return f"{who}, {format_when(_slot_start(slot))}. Shall I book it?"

    def _confirm(self, s: _State, slot: dict) -> None:
        prefix, s.prefix = s.prefix, ""
        s.pending_slot = slot
        s.awaiting = "confirm_book"
        s.reply = prefix + self._confirm_text(s, slot)

    def _confirm_cancel(self, s: _State, appt: dict) -> None:
        s.pending_cancel = appt
        s.awaiting = "confirm_cancel"
        s.reply = f"You have an appointment {_describe_appointment(appt)}. Shall I cancel it?"

    def _appointments_question(self, appointments: list[dict]) -> str:
        listed = [_describe_appointment(a) for a in appointments[:MAX_OFFERED]]
        return f"You have appointments {_join(listed, 'and')}. Which one should I cancel?"

    def _filter_appointments(self, appointments: list[dict], h: _Heard) -> list[dict] | None:
        """Appointments matching the provider/day/time the caller mentioned; None if none given."""
        if not (h.provider.name or h.day or h.time):
            return None
        out = []
        for appt in appointments:
            start = _slot_start(appt)
            if h.provider.name and appt.get("provider") != h.provider.name:
                continue
            if h.day and start.date() != h.day:
                continue
            if h.time and (start.hour, start.minute) != (h.time.hour, h.time.minute):
                continue
            out.append(appt)
        return out

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
                f"{_describe_appointment(s.pending_cancel)}? Please say yes or no."
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
