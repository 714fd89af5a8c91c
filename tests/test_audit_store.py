"""Audit stores against real SQLite and a real PostgreSQL server: chain, tamper, kill -9."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

try:  # tests/ as a package or as a plain folder on sys.path
    from tests.pg_server import pg_url, postgres_server  # noqa: F401
except ImportError:
    from pg_server import pg_url, postgres_server  # noqa: F401

from audit.chain import GENESIS, verify_chain
from audit.recovery import recover_incomplete_sessions
from audit.store import (
    AuditStoreError,
    PostgresAuditStore,
    SQLiteAuditStore,
    open_store,
    store_for_url,
)

PROJECT = Path(__file__).resolve().parents[1]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request, tmp_path):
    """``(kind, target, open)``: ``open()`` opens a new store on the same database."""
    if request.param == "sqlite":
        path = tmp_path / "audit.db"
        return "sqlite", str(path), lambda **kw: SQLiteAuditStore(path, **kw)
    url = request.getfixturevalue("pg_url")
    return "postgres", url, lambda **kw: PostgresAuditStore(url, **kw)


def raw_exec(kind: str, target: str, sql: str, params=()):
    """Run SQL on the database directly, as someone with access to it would."""
    if kind == "sqlite":
        conn = sqlite3.connect(target, isolation_level=None)
        try:
            return conn.execute(sql, params).fetchall()
        finally:
            conn.close()
    import psycopg

    with psycopg.connect(target, autocommit=True) as conn:
        cur = conn.execute(sql.replace("?", "%s"), params)
        return cur.fetchall() if cur.description else []


def disable_guards(kind: str, target: str) -> None:
    """What an attacker with database access does first: remove the append-only triggers."""
    if kind == "sqlite":
        raw_exec(kind, target, "DROP TRIGGER audit_records_no_update")
        raw_exec(kind, target, "DROP TRIGGER audit_records_no_delete")
    else:
        raw_exec(kind, target, "ALTER TABLE audit_records DISABLE TRIGGER USER")


def fill(store, n: int = 10, session: str = "s-1"):
    recs = [store.append("session_start", session, {"variant": "cascaded"})]
    for i in range(1, n - 1):
        recs.append(store.append("turn", session, {"turn": i, "text": f"patient says {i:04d}"}))
    recs.append(store.append("session_end", session, {"status": "complete"}))
    return recs


# ------------------------------------------------------------------------------ basics


def test_append_links_records_and_verifies(backend):
    _, _, open_ = backend
    with open_() as store:
        assert store.head() == (0, GENESIS)
        recs = fill(store, 10)
        assert [r.seq for r in recs] == list(range(1, 11))
        assert recs[0].prev_hash == GENESIS
        assert all(b.prev_hash == a.hash for a, b in zip(recs, recs[1:], strict=False))
        assert store.head() == (10, recs[-1].hash)
        stored = list(store.iter_records())
        assert stored == recs
        assert verify_chain(stored).ok
    # Reopened: everything is still there and still verifies.
    with open_(create=False) as store:
        result = verify_chain(store.iter_records())
        assert result.ok and result.count == 10 and result.head_hash == recs[-1].hash


def test_filters_by_session_and_kind(backend):
    _, _, open_ = backend
    with open_() as store:
        fill(store, 5, "a")
        fill(store, 4, "b")
        assert [r.body["turn"] for r in store.iter_records("a", kinds=["turn"])] == [1, 2, 3]
        assert {r.session_id for r in store.iter_records("b")} == {"b"}
        assert [r.kind for r in store.iter_records(kinds=["session_end"])] == ["session_end"] * 2
        assert list(store.iter_records(kinds=[])) == []
        assert store.session_ids() == ["a", "b"]


def test_paging_reads_every_record(backend):
    _, _, open_ = backend
    with open_() as store:
        for i in range(1203):
            store.append("turn", "s", {"turn": i})
        seqs = [r.seq for r in store.iter_records()]
        assert seqs == list(range(1, 1204))


@pytest.mark.parametrize(
    "kind, session, body, error",
    [
        ("Turn!", "s", {}, ValueError),
        ("turn", "", {}, ValueError),
        ("turn", "s", {"x": float("nan")}, ValueError),
        ("turn", "s", {"x": b"raw"}, ValueError),
        ("turn", "s", ["not", "a", "dict"], TypeError),
    ],
)
def test_bad_input_is_rejected_and_nothing_is_written(backend, kind, session, body, error):
    _, _, open_ = backend
    with open_() as store:
        store.append("turn", "s", {"ok": True})
        with pytest.raises(error):
            store.append(kind, session, body)
        assert store.head()[0] == 1
        assert verify_chain(store.iter_records()).ok


def test_unicode_and_large_bodies_round_trip(backend):
    _, _, open_ = backend
    body = {"text": "Dr. Ngozi Okonkwo-Adeyemi, café ☕, 日本語", "n": 1.0, "big": "x" * 100_000}
    with open_() as store:
        rec = store.append("turn", "s", body)
        (back,) = store.iter_records()
        assert back.body == body and back.hash == rec.hash
        assert isinstance(back.body["n"], float)
        assert verify_chain([back]).ok


@pytest.mark.postgres
def test_same_records_give_the_same_chain_on_both_databases(tmp_path, pg_url, monkeypatch):  # noqa: F811
    import audit.store

    bodies = [
        ("session_start", {"variant": "cascaded", "providers": {"stt": {"model": "tiny.en"}}}),
        ("turn", {"turn": 1, "text": "café ☕ 日本語", "n": 1.0, "big": 2**53, "none": None}),
        ("tool_call", {"name": "book", "arguments": {"day": "mon"}, "result": [1, "x", True]}),
        ("session_end", {"status": "complete", "last_turn": 1}),
    ]

    def write(store) -> list:
        clock = iter(f"2026-01-02T03:04:{i:02d}.000000Z" for i in range(len(bodies)))
        monkeypatch.setattr(audit.store, "utc_now_iso", lambda: next(clock))
        with store:
            for kind, body in bodies:
                store.append(kind, "s-1", body)
            return [store.head(), list(store.iter_records())]

    sqlite_head, sqlite_records = write(SQLiteAuditStore(tmp_path / "audit.db"))
    pg_head, pg_records = write(PostgresAuditStore(pg_url))
    assert sqlite_head == pg_head and sqlite_head[0] == len(bodies)
    assert sqlite_records == pg_records
    assert verify_chain(sqlite_records).head_hash == verify_chain(pg_records).head_hash


def test_concurrent_threads_keep_one_chain(backend):
    _, _, open_ = backend
    with open_() as store:
        errors = []

        def writer(k):
            try:
                for i in range(25):
                    store.append("turn", f"s{k}", {"turn": i})
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)

        threads = [threading.Thread(target=writer, args=(k,)) for k in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        result = verify_chain(store.iter_records())
        assert result.ok and result.count == 200


WRITER_SCRIPT = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, {project!r})
    from audit.store import SQLiteAuditStore, store_for_url
    target = sys.argv[1]
    store = store_for_url(target) if "://" in target else SQLiteAuditStore(target)
    for i in range(int(sys.argv[3])):
        store.append("turn", sys.argv[2], {{"turn": i}})
    store.close()
    """
)


def test_concurrent_processes_keep_one_chain(backend, tmp_path):
    _, target, open_ = backend
    open_().close()  # schema exists before the writers race
    script = tmp_path / "writer.py"
    script.write_text(WRITER_SCRIPT.format(project=str(PROJECT)))
    procs = [
        subprocess.Popen([sys.executable, str(script), target, f"p{k}", "60"]) for k in range(3)
    ]
    assert [p.wait(timeout=120) for p in procs] == [0, 0, 0]
    with open_(create=False) as store:
        result = verify_chain(store.iter_records())
        assert result.ok and result.count == 180
        for k in range(3):
            assert [r.body["turn"] for r in store.iter_records(f"p{k}")] == list(range(60))


def test_database_refuses_update_and_delete(backend):
    kind, target, open_ = backend
    with open_() as store:
        fill(store, 3)
    with pytest.raises(Exception, match="append-only"):
        raw_exec(kind, target, "UPDATE audit_records SET body = '{}' WHERE seq = 2")
    with pytest.raises(Exception, match="append-only"):
        raw_exec(kind, target, "DELETE FROM audit_records WHERE seq = 2")
    with open_(create=False) as store:
        assert verify_chain(store.iter_records()).ok


def test_no_update_or_delete_statement_in_audit_code():
    statement = re.compile(
        r"^\s*(UPDATE\s+\w+\s+SET|DELETE\s+FROM|TRUNCATE|DROP\s+TABLE)", re.I | re.M
    )
    for path in (PROJECT / "audit").glob("*.py"):
        for literal in re.findall(r'"""(.*?)"""|"([^"\n]*)"', path.read_text(), re.S):
            text = literal[0] or literal[1]
            assert not statement.search(text), f"{path.name} has a mutating statement: {text!r}"


# ------------------------------------------------------------------------------ tampering


def test_edited_record_is_named(backend):
    kind, target, open_ = backend
    with open_() as store:
        fill(store, 10)
    disable_guards(kind, target)
    raw_exec(
        kind,
        target,
        "UPDATE audit_records SET body = ? WHERE seq = 6",
        ('{"text":"patient says 9999","turn":5}',),
    )
    with open_(create=False) as store:
        result = verify_chain(store.iter_records())
    assert not result.ok and result.first_bad_seq == 6 and result.count == 5
    assert "altered" in result.reason


def test_deleted_record_is_named(backend):
    kind, target, open_ = backend
    with open_() as store:
        fill(store, 10)
    disable_guards(kind, target)
    raw_exec(kind, target, "DELETE FROM audit_records WHERE seq = 4")
    with open_(create=False) as store:
        result = verify_chain(store.iter_records())
    assert not result.ok and result.first_bad_seq == 4 and "missing" in result.reason


def test_reordered_records_are_named(backend):
    kind, target, open_ = backend
    with open_() as store:
        fill(store, 10)
    disable_guards(kind, target)
    # Swap records 3 and 7 by renumbering them.
    raw_exec(kind, target, "UPDATE audit_records SET seq = -1 WHERE seq = 3")
    raw_exec(kind, target, "UPDATE audit_records SET seq = 3 WHERE seq = 7")
    raw_exec(kind, target, "UPDATE audit_records SET seq = 7 WHERE seq = -1")
    with open_(create=False) as store:
        result = verify_chain(store.iter_records())
    assert not result.ok and result.first_bad_seq == 3


def test_sqlite_file_bytes_edited_directly(tmp_path):
    """Flip bytes of one transcript inside the database file itself."""
    path = tmp_path / "audit.db"
    with SQLiteAuditStore(path) as store:
        fill(store, 12)
    assert not Path(f"{path}-wal").exists() or Path(f"{path}-wal").stat().st_size == 0
    data = path.read_bytes()
    needle = b"patient says 0007"
    assert data.count(needle) == 1
    path.write_bytes(data.replace(needle, b"patient says 0008"))
    with SQLiteAuditStore(path, create=False) as store:
        result = verify_chain(store.iter_records())
    assert not result.ok
    assert result.first_bad_seq == 8  # turn 7 is seq 8 (seq 1 is session_start)
    assert "seq 8" in result.reason


# ------------------------------------------------------------------------------ kill -9

KILL_SCRIPT = textwrap.dedent(
    """
    import sys, threading
    sys.path.insert(0, {project!r})
    from audit.store import SQLiteAuditStore, store_for_url
    target, session = sys.argv[1], sys.argv[2]
    store = store_for_url(target) if "://" in target else SQLiteAuditStore(target)
    store.append("session_start", session, {{"variant": "cascaded"}})

    def background():
        n = 0
        while True:
            n += 1
            store.append("tool_call", session, {{"name": "noise", "n": n, "pad": "y" * 5000}})

    threading.Thread(target=background, daemon=True).start()
    turn = 0
    while True:
        turn += 1
        rec = store.append("turn", session, {{"turn": turn, "text": "x" * 3000}})
        print(rec.seq, rec.hash, flush=True)
    """
)


def test_kill_9_loses_no_committed_record_and_recovery_closes_session(backend, tmp_path):
    _, target, open_ = backend
    open_().close()
    script = tmp_path / "killme.py"
    script.write_text(KILL_SCRIPT.format(project=str(PROJECT)))
    proc = subprocess.Popen(
        [sys.executable, str(script), target, "victim"], stdout=subprocess.PIPE, text=True
    )
    committed: dict[int, str] = {}
    deadline = time.monotonic() + 120
    try:
        while len(committed) < 40 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            seq, digest = line.split()
            committed[int(seq)] = digest
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        rest = proc.stdout.read()
        proc.wait(timeout=30)
    for line in rest.splitlines():
        seq, digest = line.split()
        committed[int(seq)] = digest
    assert proc.returncode == -signal.SIGKILL
    assert len(committed) >= 40

    with open_() as store:
        records = {r.seq: r for r in store.iter_records()}
        result = verify_chain(store.iter_records())
        assert result.ok, result.reason
        for seq, digest in committed.items():  # every acknowledged commit survived
            assert records[seq].hash == digest
        assert recover_incomplete_sessions(store) == ["victim"]
        last = list(store.iter_records("victim"))[-1]
        assert last.kind == "session_end" and last.body["status"] == "incomplete"
        assert last.body["last_turn"] >= max(
            r.body["turn"] for r in records.values() if r.kind == "turn"
        )
        assert verify_chain(store.iter_records()).ok
        assert recover_incomplete_sessions(store) == []  # idempotent


# ------------------------------------------------------------------------------ choosing a store


def test_open_store_defaults_to_sqlite_in_data_dir(settings):
    with open_store(settings) as store:
        assert isinstance(store, SQLiteAuditStore)
        assert store.path == settings.resolved_audit_db()
        store.append("turn", "s", {})
    mode = sqlite3.connect(settings.resolved_audit_db()).execute("PRAGMA journal_mode").fetchone()
    assert mode[0] == "wal"


@pytest.mark.postgres
def test_open_store_uses_database_url(settings, pg_url):  # noqa: F811
    from pydantic import SecretStr

    s = settings.model_copy(update={"database_url": SecretStr(pg_url)})
    with open_store(s) as store:
        assert isinstance(store, PostgresAuditStore)
        store.append("turn", "s", {"x": 1})
        assert store.head()[0] == 1
    assert not settings.resolved_audit_db().exists()


def test_open_store_errors_are_clear(tmp_path, settings):
    with pytest.raises(AuditStoreError, match="no audit database"):
        SQLiteAuditStore(tmp_path / "missing.db", create=False)
    assert not (tmp_path / "missing.db").exists()
    other = tmp_path / "other.db"
    sqlite3.connect(other).execute("CREATE TABLE t (x)").connection.close()
    with pytest.raises(AuditStoreError, match="not an Echo audit database"):
        SQLiteAuditStore(other, create=False)
    with pytest.raises(AuditStoreError, match="not supported"):
        store_for_url("mysql://u:secret@h/db")
    with pytest.raises(AuditStoreError) as info:
        PostgresAuditStore("postgresql://u:hunter2@127.0.0.1:1/db", connect_timeout=1)
    assert "hunter2" not in str(info.value) and "***" in str(info.value)
