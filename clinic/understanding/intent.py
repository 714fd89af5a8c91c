"""The caller's goal in one utterance by rule (book, cancel, list...), and the visit reason."""

from __future__ import annotations

import re
from enum import StrEnum

from clinic.understanding.text import normalize


class Intent(StrEnum):
    """What the caller wants, independent of the dialogue state."""

    BOOK = "book"
    CANCEL = "cancel"
    RESCHEDULE = "reschedule"
    LIST_APPOINTMENTS = "list_appointments"
    FIND_PROVIDERS = "find_providers"
    GREETING = "greeting"
    THANKS = "thanks"
    GOODBYE = "goodbye"
    HELP = "help"
    NONE = "none"


_BOOK_RE = re.compile(
    r"\b(?:book|booking|appointment|schedule|see|visit|make|set up|get in|come in|need|want|"
    r"would like|i'd like|like to|looking for|available|availability|opening|openings|slot|slots)\b"
)


def detect_intent(text: str) -> Intent:
    """The caller's goal in one utterance, ignoring dialogue context."""
    t = normalize(text)
    if not t:
        return Intent.NONE
    if re.search(
        r"\b(?:reschedule|move|change|push|shift|switch|bump|postpone|bring forward)\b"
        r".*\b(?:appointment|booking|visit|checkup)\b",
        t,
    ):
        return Intent.RESCHEDULE
    cancel_words = (
        r"\b(?:cancel|call off|can't make|cannot make|won't make|won't be able to make)\b"
    )
    if re.search(cancel_words, t) and not re.fullmatch(
        r"(?:(?:no|oh|um|uh|wait)\s+)*cancel (?:that|this|it)(?:\s+please)?", t
    ):
        return Intent.CANCEL
    if (
        re.search(r"\bappointments?\b", t)
        and (
            re.search(
                r"\b(?:what|when|which|list|check|show|tell me|do i have|have i got|any|upcoming|"
                r"remind|confirm my)\b",
                t,
            )
            or re.search(r"\bmy appointments\b", t)
        )
        and not re.search(
            r"\b(?:book|make|schedule|new|set up|another|available|availability|open|free)\b", t
        )
    ):
        return Intent.LIST_APPOINTMENTS
    if re.search(
        r"\b(?:who|which|what) (?:doctors?|providers?|specialists?|of your doctors)\b|"
        r"\bwho (?:does|do|is|are|treats?|handles?|can)\b|\bdo you have (?:a|an|any)\b|"
        r"\bare there (?:any )?(?:doctors?|providers?)\b|\bwhat does doctor\b|"
        r"\bwhat kind of doctor\b|\blist (?:the |your |all )?(?:doctors|providers)\b",
        t,
    ) and not re.search(r"\b(?:book|schedule|appointment)\b", t):
        return Intent.FIND_PROVIDERS
    if _BOOK_RE.search(t):
        return Intent.BOOK
    if re.search(r"\b(?:help|what can you do|what do you do|how does this work|options)\b", t):
        return Intent.HELP
    if re.search(
        r"\b(?:bye|goodbye|good bye|that's all|that is all|nothing else|that's it|that will be all|"
        r"have a good|see you)\b",
        t,
    ):
        return Intent.GOODBYE
    if re.search(r"\b(?:thanks|thank you|thx|cheers|appreciate)\b", t):
        return Intent.THANKS
    if re.search(r"^(?:hi|hello|hey|hiya|good (?:morning|afternoon|evening))\b", t):
        return Intent.GREETING
    return Intent.NONE


_REASON_STOP = re.compile(
    r"\s+\b(?:on|at|next|this|tomorrow|today|in the|please|with|around|before|after|"
    r"monday|tuesday|wednesday|thursday|friday|saturday|sunday)\b.*$"
)


def extract_reason(text: str) -> str | None:
    """The visit reason in a booking request ("... for a checkup" → "checkup"), or None."""
    t = normalize(text)
    m = re.search(
        r"\b(?:for|about|regarding|because of)\s+(?:a|an|my|the|some|his|her|our)\s+"
        r"([a-z' -]{3,60})",
        t,
    )
    if not m:
        m = re.search(r"\bbecause (?:i have|i've got|i'm having|of)\s+([a-z' -]{3,60})", t)
    if not m:
        return None
    reason = _REASON_STOP.sub("", m.group(1)).strip()
    if not reason or re.search(
        r"\b(?:one|appointment|slot|time|doctor|first|second|third|last|week|day|morning|afternoon)\b",
        reason,
    ):
        return None
    return reason
