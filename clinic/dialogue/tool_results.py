"""The local brain's handling of a tool result: route it, or say what went wrong.

A mixin of :class:`clinic.dialogue.brain.ClinicBrain`. A JSON result that succeeded goes to its
dialogue's ``_on_*`` handler; a failure, a result still running (``IN_PROGRESS``) or one cut
off by a barge-in is answered here.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from clinic.wording import phrases, replies

if TYPE_CHECKING:  # pragma: no cover
    from clinic.dialogue.state import State


class ToolResultsDialogue:
    """Tool results: dispatch, errors and unfinished calls; mixed into ``ClinicBrain``."""

    def _on_tool(self, s: State, name: str, arguments: dict, content: str) -> None:
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
            s.reply = phrases.TOOL_FAILED
            return
        handler(s, arguments, result)

    def _on_unfinished_tool(self, s: State, name: str, content: str) -> None:
        """A tool message that is not a JSON result: still running, or cancelled."""
        if content.strip().upper() == "IN_PROGRESS":
            s.reply = phrases.ONE_MOMENT
            return
        if name == "book_appointment" and s.pending_slot is not None:
            s.awaiting = "confirm_book"
            s.reply = phrases.UNFINISHED_BOOKING_LEAD + self._confirm_text(s, s.pending_slot)
        elif name == "cancel_appointment" and s.pending_cancel is not None:
            s.awaiting = "confirm_cancel"
            s.reply = replies.unfinished_cancel(s.pending_cancel)
        else:
            s.reply = phrases.SAY_AGAIN

    def _on_tool_error(self, s: State, name: str, result: dict) -> None:
        code = result.get("code")
        error = str(result.get("error") or phrases.TOOL_ERROR)
        if name == "verify_identity":
            self._on_identity_failed(s, result)
        elif name in ("book_appointment", "reschedule_appointment") and code == "slot_unavailable":
            s.pending_slot = None
            s.prefix = phrases.TIME_TAKEN_LEAD
            self._ask_slots(s)
        elif name == "book_appointment" and code == "audit_failed":
            s.awaiting = "confirm_book"
            s.reply = phrases.BOOKING_NOT_RECORDED
        elif name == "cancel_appointment" and code == "audit_failed":
            s.awaiting = "confirm_cancel"
            s.reply = phrases.CANCEL_NOT_RECORDED
        elif name == "list_open_slots" and code in ("unknown_provider", "ambiguous_provider"):
            s.provider = None
            s.awaiting = "provider"
            s.candidates = []
            s.reply = phrases.UNKNOWN_DOCTOR
        elif name == "find_provider" and code == "unknown_specialty":
            s.awaiting = "provider"
            s.candidates = []
            s.reply = phrases.UNKNOWN_SPECIALTY
        else:
            s.awaiting = None
            s.reply = replies.could_not(error)
