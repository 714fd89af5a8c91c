"""Record kinds and the bodies the recorder writes on its own (pure, no I/O).

The recorder's own records say what happened to the others: a ``gap`` when
records were dropped (queue full) or could not be written (store down), a
``session_start`` / ``session_end`` around a session. Their bodies are part of
the documented record format (docs/audit.md), built here from plain counts.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from typing import Any

from audit.chain import to_jsonable
from audit.store import utc_now_iso

SESSION_START = "session_start"
SESSION_END = "session_end"
TURN = "turn"
TOOL_CALL = "tool_call"
GAP = "gap"
ERROR = "error"


@dataclasses.dataclass
class Loss:
    """Records dropped since the last gap record."""

    count: int = 0
    kinds: Counter = dataclasses.field(default_factory=Counter)
    first_turn: int | None = None
    last_turn: int | None = None
    after_turn: int | None = None
    since: str | None = None

    def add(self, kind: str, turn: int | None, after_turn: int | None) -> None:
        """Count one dropped record of ``kind`` (for ``turn``, after ``after_turn``)."""
        if self.count == 0:
            self.since = utc_now_iso()
            self.after_turn = after_turn
        self.count += 1
        self.kinds[kind] += 1
        if turn is not None:
            self.first_turn = turn if self.first_turn is None else min(self.first_turn, turn)
            self.last_turn = turn if self.last_turn is None else max(self.last_turn, turn)

    def gap_body(self, reason: str) -> dict[str, Any]:
        """The ``gap`` record body describing these losses."""
        return {
            "reason": reason,
            "lost": self.count,
            "lost_kinds": dict(self.kinds),
            "first_lost_turn": self.first_turn,
            "last_lost_turn": self.last_turn,
            "after_turn": self.after_turn,
            "since": self.since,
            "until": utc_now_iso(),
        }


def outage_gap_body(outage: dict[str, Any]) -> dict[str, Any]:
    """The ``gap`` record body for a store outage that has just ended.

    Args:
        outage: ``since``, ``error``, ``attempts`` and optionally ``failed_now``
            (fail-closed records refused meanwhile) and ``after_turn``.
    """
    return {
        "reason": "store_unavailable",
        "lost": outage.get("failed_now", 0),
        "failed_attempts": outage["attempts"],
        "error": outage["error"],
        "after_turn": outage.get("after_turn"),
        "since": outage["since"],
        "until": utc_now_iso(),
    }


def stamp(
    kind: str, body: dict[str, Any], *, variant: str, config_hash: str, providers: Any
) -> dict[str, Any]:
    """``body`` as plain JSON with the session's variant, config hash and providers added.

    ``turn`` and ``tool_call`` records carry ``variant`` and ``config_hash``; ``turn``
    records also ``providers``. Values already in the body win.
    """
    full = to_jsonable(body)
    if kind in (TURN, TOOL_CALL):
        full.setdefault("variant", variant)
        full.setdefault("config_hash", config_hash)
    if kind == TURN:
        full.setdefault("providers", providers)
    return full


def short_error(e: BaseException) -> str:
    """``Type: message`` of an exception, at most 300 characters."""
    text = f"{type(e).__name__}: {e}"
    return text if len(text) <= 300 else text[:297] + "..."
