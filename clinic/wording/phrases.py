"""The local brain's fixed sentences: everything it says word for word.

With :mod:`clinic.wording.replies` (sentences filled with names, times and appointments) the
one home of the spoken wording, so the dialogue modules decide and these modules speak. Leads
(``*_LEAD``) are said before another sentence and end with a space.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

GREETING = (
    "Hi, this is Echo, the clinic's appointment line. I can book, move or cancel visits, "
    "or request refills. How can I help?"
)


HELP = (
    "I can book, move or cancel appointments, request refills, or answer clinic questions. "
    "For example, say: book me with Doctor Patel on Tuesday."
)


FILLER = "One moment, let me check."


_SENTENCE_END = re.compile(r"(?<=[.?!])\s+")


def sentences(text: str) -> list[str]:
    """``text`` split into sentences as the TTS service receives them."""
    return [part.strip() for part in _SENTENCE_END.split(text.strip()) if part.strip()]


EMERGENCY = (
    "If this is an emergency, hang up and call 911 now. "
    "If you're safe, I can help with appointments."
)
CRISIS = (
    "Please call 911 now, or call or text 988 to reach the Suicide and Crisis Lifeline. "
    "You are not alone."
)
SCOPE = "I can book, move or cancel visits, request refills, or answer questions about the clinic."
DECLINE = "Sorry, I can't help with that on this line. " + SCOPE
UNSURE_LEAD = "I'm not sure I can help with that. "
UNSURE = UNSURE_LEAD + SCOPE
ASK_IDENTITY = "What's your full name and date of birth?"


# --- social, help and the unclear ----------------------------------------------------------------
HELLO_AGAIN = "Hi! How can I help you today?"
WELCOME = "You're welcome. Is there anything else I can help with?"
GOODBYE = "Thank you for calling. Take care, goodbye!"
WHAT_CAN_I_DO = "Sure, what can I do for you?"
HOW_CAN_I_HELP = "How can I help?"
OKAY_HOW_CAN_I_HELP = "Okay. How can I help?"
OKAY_ANYTHING_ELSE = "Okay. Anything else?"
OKAY_ANYTHING_ELSE_HELP = "Okay. Is there anything else I can help with?"
DROPPED_TASK = "Okay, no problem. Is there anything else I can help with?"
IDLE_SCOPE = "I can book, move or cancel visits, or request refills."
DEVICE = "I can't change the sound from here; your device's volume can. I'll keep my answers short."
FRUSTRATED = (
    "I'm sorry, I know this is frustrating. I can have a staff member call you "
    "back, or we can keep going. Would you like a call back?"
)
SAY_AGAIN = "Sorry, I didn't catch that. Could you say it again?"
STILL_THERE_LEAD = "Are you still there? "
NOT_CAUGHT_LEAD = "Sorry, I didn't catch that. "
NOT_UNDERSTOOD_LEAD = "Sorry, I'm not sure what you mean. "
TROUBLE_LEAD = "Sorry about the trouble. "

# --- tools: waiting and errors ------------------------------------------------------------------
ONE_MOMENT = "One moment, please."
TOOL_FAILED = "Sorry, something went wrong on my side. Could you say that again?"
TOOL_ERROR = "something went wrong"
UNFINISHED_BOOKING_LEAD = "Sorry, I didn't get to finish booking. "
TIME_TAKEN_LEAD = "Sorry, that time was just taken. "
BOOKING_NOT_RECORDED = (
    "Sorry, I couldn't record that booking, so it was not made. Shall I try again?"
)
CANCEL_NOT_RECORDED = (
    "Sorry, I couldn't record the cancellation, so your appointment is still booked. "
    "Shall I try again?"
)
UNKNOWN_DOCTOR = (
    "Sorry, I couldn't find that doctor. Which doctor would you like, or what kind of specialist?"
)
UNKNOWN_SPECIALTY = (
    "Sorry, we don't have that kind of specialist. Is there a doctor you'd like to see?"
)

# --- booking -------------------------------------------------------------------------------------
WHICH_DOCTOR = "Which doctor would you like to see, or what kind of specialist?"
SURE_WHICH_DOCTOR = "Sure. Which doctor would you like to see, or what kind of specialist?"
SURE_WHICH_DOCTOR_NEED = (
    "Sure. Which doctor would you like to see, or what kind of specialist do you need?"
)
GOT_IT_WHICH_DOCTOR = "Got it. And which doctor would you like to see, or what kind of specialist?"
OKAY_WHICH_DOCTOR = (
    "Okay. Which doctor would you like, or what kind of specialist are you looking for?"
)
WONT_BOOK = "No problem, I won't book that. Would you like a different time or another day?"
OTHER_DAY_OR_TIME = "Okay. Is there another day or time that would work better?"
NOTHING_OPEN_THEN = "Sorry, I see nothing open then. Would another day work?"
NOTHING_MORE = "That's all I have there. Would you like to try another day?"

# --- the caller's appointments -------------------------------------------------------------------
KEEP_APPOINTMENTS = "Okay, I'll leave your appointments as they are. Anything else?"
KEEP_APPOINTMENT = "Okay, I'll keep that appointment. Anything else?"
NO_SUCH_APPOINTMENT_LEAD = "I don't see an appointment like that. "
NONE_TO_MOVE = "You don't have any upcoming appointments to move. Anything else?"
NONE_TO_CANCEL = "You don't have any upcoming appointments to cancel. Anything else?"
NONE_BOOKED = "You don't have any upcoming appointments. Would you like to book one?"

# --- care: refills, hand-off, identity, information, images ------------------------------------
WHICH_MEDICATION = "Sure. Which medication do you need refilled?"
REFILL_NOT_SENT = "Okay, I won't send it. Anything else?"
NO_TRANSFER = "I can't transfer calls on this line, but the front desk can call you back. Shall I?"
ASK_BIRTH_DATE = "Thanks. And your date of birth?"
ASK_FULL_NAME = "Thanks. And your full name?"
NO_IDENTITY = "Okay. Without that I can't look up your appointments. Anything else?"
NOT_VERIFIED = "Sorry, I couldn't verify you. The front desk can call you back. Shall I?"
IDENTIFY_FIRST = "Sure. First, what's your full name and date of birth?"
LATE_LEAD = "Thanks for letting us know. "
CANT_TELL = "I can't tell from here."


def fixed_phrases() -> list[str]:
    """Sentences the brain speaks verbatim, for pre-synthesis (TTS warm-up).

    Read from the wording modules' source (this one and :mod:`clinic.wording.replies`): every
    string literal that is a whole sentence or more (not docstrings; in a template, the literal
    parts between the values), split into sentences as the TTS service receives them. Computed
    parts (names, times) are not included.
    """
    here = Path(__file__).resolve().parent
    texts: set[str] = set()
    for src in (here / "phrases.py", here / "replies.py"):
        tree = ast.parse(src.read_text("utf-8"))
        docstrings = {
            id(node.body[0].value)
            for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef))
            and node.body
            and isinstance(node.body[0], ast.Expr)
        }
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str):
                text = node.value.strip()
                if id(node) not in docstrings and text.endswith((".", "?", "!")):
                    texts.add(text)
    found = {part for text in texts for part in sentences(text)}
    return sorted(p for p in found if p[:1].isupper() and "{" not in p)
