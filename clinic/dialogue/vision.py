"""The local brain's answers about an image the caller showed (vision variant).

With ``vision`` on, a user message carrying an image part (OpenAI format, as Pipecat's
``LLMContext`` stores an uploaded photo or a camera frame) marks a new image. The next thing
the caller says about it (or, with no words, the image itself) is answered through the
``read_image`` tool, whose result carries the local reader's text and a short ``answer`` plus
an optional ``offer`` (a refill of the medication on a label, openings of the specialty a
referral letter names) that the dialogue then follows like any other offer.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from clinic.dialogue.actions import CallTool
from clinic.wording import phrases

if TYPE_CHECKING:  # pragma: no cover
    from clinic.dialogue.state import State
    from clinic.understanding.heard import Heard

_SHOWN = re.compile(
    r"\b(?:screen|screenshot|picture|photo|image|label|letter|bottle|box|card|document|paper|"
    r"form|camera|rash|read|reading|says?|written|writing|print|showing|show you|looking at|"
    r"see this|see that|this one|line|lines|error|message)\b"
)


class VisionDialogue:
    """``read_image`` calls and their results; mixed into ``ClinicBrain``."""

    def _about_image(self, s: State, h: Heard) -> bool:
        """Read the image when one is new or the words are about something shown."""
        if not self.vision or not (s.image_new or _SHOWN.search(h.text)):
            return False
        s.need = CallTool("read_image", {"question": h.raw})
        return True

    def _on_read_image(self, s: State, arguments: dict, result: dict) -> None:
        s.task = None
        s.reply = str(result.get("answer") or phrases.CANT_TELL)
        offer = result.get("offer") or {}
        if offer.get("action") == "refill" and offer.get("medication"):
            s.refill, s.awaiting = offer["medication"], "image_refill"
        elif offer.get("action") == "book" and offer.get("specialty"):
            s.specialty, s.awaiting = offer["specialty"], "image_book"
        else:
            s.awaiting = "anything_else"

    def _at_image_refill(self, s: State, h: Heard) -> bool:

        if h.yes_no is False:
            s.awaiting, s.refill = "anything_else", None
            s.reply = phrases.OKAY_ANYTHING_ELSE
            return True
        if h.yes_no is not True:
            return False
        s.task = "refill"
        if s.identified:
            s.need = CallTool("request_refill", {"medication": s.refill})
        else:
            s.awaiting, s.after_identity = "identity", "refill"
            s.reply = phrases.IDENTIFY_FIRST
        return True

    def _at_image_book(self, s: State, h: Heard) -> bool:
        if h.yes_no is False:
            s.awaiting = "anything_else"
            s.reply = phrases.OKAY_ANYTHING_ELSE
            return True
        if h.yes_no is not True and not (h.day or h.part or h.earliest):
            return False
        self._start_earliest(s, h, s.specialty)
        return True
