"""Start-up recovery: close the sessions a dead server left open in the audit store."""

from __future__ import annotations

from loguru import logger

from audit.bodies import SESSION_END, SESSION_START, TURN
from audit.store import AuditStore, utc_now_iso


def recover_incomplete_sessions(
    store: AuditStore, *, exclude: set[str] | frozenset[str] = frozenset()
) -> list[str]:
    """Close sessions that started but never ended (the server died mid-session).

    Writes a ``session_end`` record with ``status: "incomplete"`` for each.
    Call it once at server start-up, before new sessions begin.

    Args:
        store: The audit store.
        exclude: Session ids to leave alone (still running in another process).

    Returns:
        The ids of the sessions closed.
    """
    open_sessions: dict[str, int] = {}
    for rec in store.iter_records(kinds=[SESSION_START, SESSION_END]):
        if rec.kind == SESSION_START:
            open_sessions[rec.session_id] = rec.seq
        else:
            open_sessions.pop(rec.session_id, None)
    closed = []
    for session_id in open_sessions:
        if session_id in exclude:
            continue
        last_turn: int | None = None
        last_seq: int | None = None
        for rec in store.iter_records(session_id):
            last_seq = rec.seq
            if rec.kind == TURN and isinstance(rec.body.get("turn"), int):
                last_turn = rec.body["turn"]
        store.append(
            SESSION_END,
            session_id,
            {
                "status": "incomplete",
                "recovered_at": utc_now_iso(),
                "last_turn": last_turn,
                "last_seq": last_seq,
                "reason": "session had no end record at start-up (process killed or crashed)",
            },
        )
        closed.append(session_id)
    if closed:
        logger.warning(f"audit: closed {len(closed)} interrupted session(s) as incomplete")
    return closed
