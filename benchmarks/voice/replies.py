"""What the bot actually answered, from the audit trail of the server the bench spawned.

The latency records say *when* the bot answered; the audit trail's ``turn`` records say
*what* it said (``bot.spoken_text``: the words played, cut short on a barge-in). A bench row
is matched to the turn record whose ``bot_started`` moment is the row's, and gets the reply
and a :func:`reply_kind`: an answer, a decline (the question is outside what the line does),
a reprompt (the bot did not understand) or nothing.
"""

from __future__ import annotations

import datetime as _dt
from pathlib import Path
from typing import Any

MATCH_SECS = 0.5  # latency record and audit record of one turn: same moment, two clocks

# Openings of the brain's "I did not get that" and "are you there" replies.
REPROMPTS = ("sorry, i didn't catch", "are you still there", "could you say it again")
DECLINES = ("sorry, i can't help with that", "i'm not sure i can help with that")

ANSWER, DECLINED, REPROMPT, NO_REPLY = "answer", "declined", "reprompt", "none"


def reply_kind(reply: str) -> str:
    """``answer``, ``declined``, ``reprompt`` or ``none`` (see module docstring).

    >>> reply_kind("Sorry, I didn't catch that. Could you say it again?")
    'reprompt'
    """
    text = " ".join(reply.lower().split())
    if not text:
        return NO_REPLY
    if text.startswith(REPROMPTS):
        return REPROMPT
    if text.startswith(DECLINES):
        return DECLINED
    return ANSWER


def _epoch(iso: str | None) -> float | None:
    if not iso:
        return None
    try:
        moment = _dt.datetime.strptime(iso, "%Y-%m-%dT%H:%M:%S.%fZ")
        return moment.replace(tzinfo=_dt.UTC).timestamp()
    except ValueError:
        return None


def audit_turns(db_path: Path, session_ids: set[str]) -> list[dict[str, Any]]:
    """The answered turns of these sessions: ``bot_started`` (epoch s), ``reply``, ``heard``.

    An audit trail that is missing or unreadable gives no turns (the rows keep no reply).
    """
    from audit.store import AuditStoreError, SQLiteAuditStore

    if not Path(db_path).exists():
        return []
    out = []
    try:
        store = SQLiteAuditStore(db_path, create=False)
    except (AuditStoreError, OSError):
        return []
    with store:
        for sid in sorted(session_ids):
            for rec in store.iter_records(sid, kinds=["turn"]):
                body = rec.body
                started = _epoch((body.get("timestamps") or {}).get("bot_started"))
                if started is None:
                    continue
                user = body.get("user") or {}
                out.append(
                    {
                        "session_id": sid,
                        "bot_started": started,
                        "reply": (body.get("bot") or {}).get("spoken_text") or "",
                        "heard": user.get("final_transcript") or "",
                    }
                )
    return out


def fill_replies(rows: list, db_path: Path | None) -> int:
    """Give each row with a server turn its reply and reply kind; returns how many matched.

    Rows need ``session_id`` and ``bot_started_at`` (epoch seconds, from the latency record).
    """
    if db_path is None:
        return 0
    turns = audit_turns(db_path, {r.session_id for r in rows if r.session_id})
    matched = 0
    for row in rows:
        if row.bot_started_at is None:
            continue
        mine = [t for t in turns if t["session_id"] == row.session_id]
        best = min(mine, key=lambda t: abs(t["bot_started"] - row.bot_started_at), default=None)
        if best is not None and abs(best["bot_started"] - row.bot_started_at) <= MATCH_SECS:
            row.reply = best["reply"]
            row.reply_kind = reply_kind(best["reply"])
            matched += 1
    return matched
