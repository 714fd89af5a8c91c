"""AuditRecorder: off-the-hot-path writing, gaps on overflow and outages, fail-closed writes."""

from __future__ import annotations

import asyncio
import sqlite3
import time

import pytest
from loguru import logger

try:  # tests/ as a package or as a plain folder on sys.path
    from tests.pg_server import pg_url, postgres_server  # noqa: F401
except ImportError:
    from pg_server import pg_url, postgres_server  # noqa: F401

from audit.audio import AudioClip, purge_audio, wav_pcm_sha256
from audit.chain import verify_chain
from audit.recorder import AuditRecorder, AuditWriteError
from audit.recovery import recover_incomplete_sessions
from audit.store import PostgresAuditStore, SQLiteAuditStore

SECRET_TEXT = "my date of birth is March 7th 1985 and my number is 555-123-4567"


@pytest.fixture
def logs():
    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), level="DEBUG")
    yield lines
    logger.remove(sink)


@pytest.fixture
def db(tmp_path):
    return tmp_path / "audit.db"


def turn_body(n: int) -> dict:
    return {"turn": n, "user": {"final_transcript": f"{SECRET_TEXT} #{n}"}}


def recorder_for(store, **kw) -> AuditRecorder:
    return AuditRecorder(store, session_id="sess-1", variant="cascaded", config_hash="c0ffee", **kw)


async def wait_for(predicate, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def test_records_session_in_order_with_variant_and_config(db):
    store = SQLiteAuditStore(db)
    rec = recorder_for(store, providers={"stt": {"provider": "whisper", "model": "tiny.en"}})
    await rec.start(transport="webrtc")
    for n in range(1, 4):
        assert rec.submit("turn", turn_body(n))
    await rec.close("complete")
    records = list(store.iter_records())
    assert [r.kind for r in records] == ["session_start", "turn", "turn", "turn", "session_end"]
    start, *turns, end = records
    assert start.body["variant"] == "cascaded" and start.body["transport"] == "webrtc"
    assert start.body["providers"]["stt"]["model"] == "tiny.en"
    assert [t.body["turn"] for t in turns] == [1, 2, 3]
    assert all(t.body["config_hash"] == "c0ffee" and t.body["variant"] == "cascaded" for t in turns)
    assert end.body["status"] == "complete" and end.body["last_turn"] == 3
    assert verify_chain(records).ok
    store.close()


async def test_queue_full_drops_are_counted_logged_and_recorded_as_gap(db, logs):
    store = SQLiteAuditStore(db)
    rec = recorder_for(store, max_queue=3)
    await rec.start()
    # No await between submits: the writer cannot drain, so the queue fills.
    accepted = [rec.submit("turn", turn_body(n)) for n in range(1, 11)]
    assert accepted == [True, True] + [False] * 8
    assert rec.dropped_total == 8
    await wait_for(lambda: rec.pending() == 0)
    await wait_for(lambda: rec.written >= 4)  # start, 2 turns, gap
    assert rec.submit("turn", turn_body(11))
    await rec.close()
    records = list(store.iter_records())
    kinds = [r.kind for r in records]
    assert kinds == ["session_start", "turn", "turn", "gap", "turn", "session_end"]
    gap = records[3].body
    assert gap["reason"] == "queue_full" and gap["lost"] == 8
    assert gap["lost_kinds"] == {"turn": 8}
    assert (gap["after_turn"], gap["first_lost_turn"], gap["last_lost_turn"]) == (2, 3, 10)
    assert records[-1].body["records_dropped"] == 8
    assert verify_chain(records).ok
    warnings = [line for line in logs if "dropped turn record" in line]
    assert warnings, logs
    assert not any("555-123-4567" in line or "March" in line for line in logs)
    store.close()


async def test_gap_is_written_at_close_when_nothing_else_follows(db):
    store = SQLiteAuditStore(db)
    rec = recorder_for(store, max_queue=2)
    await rec.start()
    assert rec.submit("turn", turn_body(1))  # session_start + turn 1 fill the queue
    assert not rec.submit("turn", turn_body(2))
    await rec.close()
    records = list(store.iter_records())
    assert [r.kind for r in records] == ["session_start", "turn", "gap", "session_end"]
    assert records[2].body["lost"] == 1 and records[2].body["first_lost_turn"] == 2
    assert verify_chain(records).ok
    store.close()


def lock_database(path):
    """Another writer holding the SQLite write lock: appends fail with 'database is locked'."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("BEGIN EXCLUSIVE")
    return conn


async def test_database_failure_is_retried_logged_and_recorded_as_gap(db, logs):
    store = SQLiteAuditStore(db, busy_timeout_ms=20)
    rec = recorder_for(store, max_queue=50, retry_initial_secs=0.01, retry_max_secs=0.05)
    await rec.start()
    await wait_for(lambda: rec.written == 1)
    blocker = lock_database(db)
    for n in range(1, 6):
        assert rec.submit("turn", turn_body(n))
    await wait_for(lambda: rec.failures >= 3)
    assert rec.written == 1  # nothing got through while locked, nothing was dropped
    assert any("store write failed" in line for line in logs)
    blocker.execute("ROLLBACK")
    blocker.close()
    await rec.close()
    records = list(store.iter_records())
    assert [r.kind for r in records] == ["session_start", "gap"] + ["turn"] * 5 + ["session_end"]
    gap = records[1].body
    assert gap["reason"] == "store_unavailable" and gap["failed_attempts"] >= 3
    assert gap["lost"] == 0 and gap["after_turn"] is None
    assert "locked" in gap["error"]
    assert [r.body["turn"] for r in records[2:7]] == [1, 2, 3, 4, 5]
    assert verify_chain(records).ok
    assert any("store is back" in line for line in logs)
    assert not any("555-123-4567" in line for line in logs)
    store.close()


async def test_outage_with_overflow_records_both_gaps(db):
    store = SQLiteAuditStore(db, busy_timeout_ms=20)
    rec = recorder_for(store, max_queue=4, retry_initial_secs=0.01, retry_max_secs=0.02)
    await rec.start()
    await wait_for(lambda: rec.written == 1)
    blocker = lock_database(db)
    for n in range(1, 11):
        rec.submit("turn", turn_body(n))
        await asyncio.sleep(0.005)
    assert rec.dropped_total > 0
    blocker.execute("ROLLBACK")
    blocker.close()
    await rec.close()
    records = list(store.iter_records())
    gaps = [r.body for r in records if r.kind == "gap"]
    assert {g["reason"] for g in gaps} == {"store_unavailable", "queue_full"}
    lost = sum(g["lost"] for g in gaps if g["reason"] == "queue_full")
    turns = [r.body["turn"] for r in records if r.kind == "turn"]
    assert lost == rec.dropped_total and len(turns) + lost == 10
    assert turns == sorted(turns)
    assert verify_chain(records).ok
    store.close()


async def test_record_now_fails_closed_and_the_failure_is_recorded(db, logs):
    store = SQLiteAuditStore(db, busy_timeout_ms=20)
    rec = recorder_for(store)
    await rec.start()
    await wait_for(lambda: rec.written == 1)
    # Committed before returning: visible to another connection at once.
    stored = await rec.record_tool_call(
        name="book_appointment", arguments={"doctor": "Okonkwo"}, result={"booking_id": "B-17"}
    )
    other = sqlite3.connect(db)
    row = other.execute("SELECT kind, body FROM audit_records WHERE seq = ?", (stored.seq,))
    kind, body = row.fetchone()
    other.close()
    assert kind == "tool_call" and '"booking_id":"B-17"' in body
    assert stored.body["variant"] == "cascaded"

    blocker = lock_database(db)
    with pytest.raises(AuditWriteError, match="not committed"):
        await rec.record_tool_call(
            name="book_appointment", arguments={"doctor": "Okonkwo"}, result={"booking_id": "B-18"}
        )
    blocker.execute("ROLLBACK")
    blocker.close()
    await rec.close()
    records = list(store.iter_records())
    assert "B-18" not in str([r.body for r in records])
    gap = next(r.body for r in records if r.kind == "gap")
    assert gap["reason"] == "store_unavailable" and gap["lost"] == 1
    assert any("could not commit tool_call" in line for line in logs)
    assert verify_chain(records).ok
    store.close()


async def test_unserializable_content_is_kept_not_lost(db):
    class Opaque:
        def __repr__(self):
            return "<Opaque booking>"

    store = SQLiteAuditStore(db)
    rec = recorder_for(store)
    await rec.start()
    rec.submit("turn", {"turn": 1, "result": Opaque(), "score": float("nan"), "raw": b"\x01"})
    await rec.close()
    turn = next(store.iter_records(kinds=["turn"]))
    assert turn.body["result"] == "<Opaque booking>" and turn.body["score"] == "NaN"
    assert turn.body["raw"]["bytes"] == 1
    store.close()


async def test_audio_files_are_optional_and_match_the_hash(db, tmp_path):
    store = SQLiteAuditStore(db)
    pcm = bytes(range(256)) * 40
    clip = AudioClip(pcm, 16000, 1)
    rec_no_audio = recorder_for(store)
    await rec_no_audio.start()
    rec_no_audio.submit("turn", {"turn": 1}, audio={"user": clip})
    await rec_no_audio.close()
    assert "audio_files" not in next(store.iter_records(kinds=["turn"])).body

    audio_dir = tmp_path / "audio"
    rec = AuditRecorder(
        store, session_id="sess-2", variant="v", config_hash="h", audio_dir=audio_dir
    )
    await rec.start()
    rec.submit(
        "turn", {"turn": 1, "user": {"audio": {"sha256": clip.sha256}}}, audio={"user": clip}
    )
    await rec.close()
    body = next(store.iter_records("sess-2", kinds=["turn"])).body
    path = audio_dir / body["audio_files"]["user"].split(str(audio_dir) + "/")[1]
    assert wav_pcm_sha256(path) == clip.sha256 == body["user"]["audio"]["sha256"]
    assert purge_audio(audio_dir, retention_days=30) == 0
    assert purge_audio(audio_dir, retention_days=1, now=time.time() + 2 * 86400) == 1
    assert not path.exists()
    store.close()


async def test_recover_incomplete_sessions_after_recorder_never_closed(db):
    store = SQLiteAuditStore(db)
    done = recorder_for(store)
    await done.start()
    await done.close()
    crashed = AuditRecorder(store, session_id="sess-crash", variant="v", config_hash="h")
    await crashed.start()
    crashed.submit("turn", {"turn": 1})
    crashed.submit("turn", {"turn": 2})
    await wait_for(lambda: crashed.written == 3)
    crashed._writer.cancel()  # the process dies here: no session_end
    store.close()

    reopened = SQLiteAuditStore(db)
    assert recover_incomplete_sessions(reopened, exclude={"other"}) == ["sess-crash"]
    end = list(reopened.iter_records("sess-crash"))[-1]
    assert end.kind == "session_end" and end.body["status"] == "incomplete"
    assert end.body["last_turn"] == 2
    assert verify_chain(reopened.iter_records()).ok
    reopened.close()


@pytest.mark.postgres
async def test_postgres_outage_recovers_with_gap(postgres_server, pg_url, logs):  # noqa: F811
    if postgres_server.bin_dir is None:
        pytest.skip("external PostgreSQL (ECHO_TEST_DATABASE_URL): cannot stop it")
    store = PostgresAuditStore(pg_url, connect_timeout=2)
    rec = recorder_for(store, retry_initial_secs=0.05, retry_max_secs=0.2)
    await rec.start()
    rec.submit("turn", turn_body(1))
    await wait_for(lambda: rec.written == 2)
    await asyncio.to_thread(postgres_server.stop, "fast")
    try:
        rec.submit("turn", turn_body(2))
        await wait_for(lambda: rec.failures >= 2, timeout=30)
        with pytest.raises(AuditWriteError):
            await rec.record_now("tool_call", {"name": "book"})
    finally:
        await asyncio.to_thread(postgres_server.start)
    rec.submit("turn", turn_body(3))
    await rec.close(timeout=60)
    records = list(store.iter_records())
    assert [r.kind for r in records] == [
        "session_start",
        "turn",
        "gap",
        "turn",
        "turn",
        "session_end",
    ]
    assert records[2].body["reason"] == "store_unavailable" and records[2].body["lost"] == 1
    assert records[2].body["after_turn"] == 1
    assert verify_chain(records).ok
    store.close()


async def test_close_while_store_is_down_times_out_loudly_then_recovery_closes(db, logs):
    store = SQLiteAuditStore(db, busy_timeout_ms=20)
    rec = recorder_for(store, max_queue=3, retry_initial_secs=0.01, retry_max_secs=0.05)
    await rec.start()
    await wait_for(lambda: rec.written == 1)
    blocker = lock_database(db)
    rec.submit("turn", turn_body(1))
    rec.submit("turn", turn_body(2))
    rec.submit("turn", turn_body(3))  # queue full while the writer retries
    started = time.monotonic()
    await rec.close(timeout=0.5)
    assert time.monotonic() - started < 5
    assert any("did not finish within 0.5s" in line for line in logs)
    blocker.execute("ROLLBACK")
    blocker.close()
    assert recover_incomplete_sessions(store) == ["sess-1"]
    records = list(store.iter_records())
    assert records[-1].kind == "session_end" and records[-1].body["status"] == "incomplete"
    assert verify_chain(records).ok
    store.close()
