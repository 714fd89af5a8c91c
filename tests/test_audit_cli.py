"""``echo-agent audit ...`` sub-commands, run through argparse as the CLI does."""

from __future__ import annotations

import argparse
import csv
import io
import json
import sqlite3

import pytest

try:  # tests/ as a package or as a plain folder on sys.path
    from tests.pg_server import pg_url, postgres_server  # noqa: F401
except ImportError:
    from pg_server import pg_url, postgres_server  # noqa: F401

from audit.cli import add_commands
from audit.recorder import AuditRecorder
from audit.redact import redact_text
from audit.store import PostgresAuditStore, SQLiteAuditStore

PHONE = "555-123-4567"
EMAIL = "jane.doe@example.com"
DOB = "March 7th, 1985"
SAID = f"this is jane doe born {DOB}, call {PHONE} or {EMAIL}"


def run_cli(settings, *argv: str) -> int:
    parser = argparse.ArgumentParser(prog="echo-agent")
    add_commands(parser.add_subparsers(dest="command"))
    args = parser.parse_args(list(argv))
    return args.func(args, settings)


def turn(n: int, *, interrupted: bool = False) -> dict:
    return {
        "turn": n,
        "trigger": "user",
        "timestamps": {
            "user_started": "2026-01-05T10:00:00.000000Z",
            "user_stopped": "2026-01-05T10:00:02.000000Z",
            "bot_started": "2026-01-05T10:00:02.700000Z",
        },
        "user": {
            "raw_transcript": f"{SAID}, doctor o'conco",
            "final_transcript": f"{SAID}, Dr. Okonkwo",
            "corrections": [{"raw": "doctor o'conco", "term": "Dr. Okonkwo", "score": 0.9}],
            "audio": {"sha256": "1234567890" * 6 + "abcd", "bytes": 64000},
        },
        "llm": {"inputs": [{"messages_sha256": "f" * 64, "message_count": 3}], "text": "Booked."},
        "tool_calls": [
            {
                "name": "book_appointment",
                "tool_call_id": "call-1",
                "arguments": {"patient_phone": PHONE, "date_of_birth": "1985-03-07"},
                "result": {"booking_id": "B-42"},
                "error": None,
            }
        ],
        "bot": {
            "status": "interrupted" if interrupted else "complete",
            "spoken_text": "You're booked" if interrupted else "You're booked for Tuesday.",
            "generated_text": "You're booked for Tuesday.",
            "audio": {"sha256": "e" * 64, "bytes": 32000},
        },
        "latency_ms": {"voice_to_voice": 700.0},
        "errors": [],
    }


@pytest.fixture
async def db(settings):
    path = settings.resolved_audit_db()
    store = SQLiteAuditStore(path)
    rec = AuditRecorder(store, session_id="call-1", variant="cascaded", config_hash="abc")
    await rec.start()
    rec.submit("turn", turn(1))
    rec.submit("turn", turn(2, interrupted=True))
    await rec.close()
    other = AuditRecorder(store, session_id="call-2", variant="cascaded", config_hash="abc")
    await other.start()
    await other.close()
    store.close()
    return path


def tamper(path, sql: str) -> None:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("DROP TRIGGER audit_records_no_update")
    conn.execute("DROP TRIGGER audit_records_no_delete")
    conn.execute(sql)
    conn.close()


async def test_verify_ok_then_broken_naming_the_record(settings, db, capsys):
    assert run_cli(settings, "audit", "verify") == 0
    out = capsys.readouterr().out
    assert out.startswith("OK: 6 records, head ") and str(db) in out
    tamper(db, "UPDATE audit_records SET body = replace(body, 'Okonkwo', 'Smith') WHERE seq = 3")
    assert run_cli(settings, "audit", "verify", "--db", str(db)) == 1
    out = capsys.readouterr().out
    assert out.startswith("BROKEN at seq 3:") and "altered" in out


async def test_verify_missing_database_is_an_error_and_creates_nothing(settings, tmp_path, capsys):
    missing = tmp_path / "nope.db"
    assert run_cli(settings, "audit", "verify", "--db", str(missing)) == 2
    assert "no audit database" in capsys.readouterr().err
    assert not missing.exists()


async def test_checkpoint_catches_truncation(settings, db, tmp_path, capsys):
    cp = tmp_path / "offsite" / "checkpoint.json"
    assert run_cli(settings, "audit", "checkpoint", "--out", str(cp)) == 0
    data = json.loads(cp.read_text())
    assert data["count"] == 6 and len(data["head_hash"]) == 64 and data["digest"]
    assert run_cli(settings, "audit", "verify", "--checkpoint", str(cp)) == 0
    # Later records are fine...
    with SQLiteAuditStore(db) as store:
        store.append("session_start", "call-3", {})
    assert run_cli(settings, "audit", "verify", "--checkpoint", str(cp)) == 0
    # ...but removing the tail is caught only with the checkpoint.
    tamper(db, "DELETE FROM audit_records WHERE seq >= 6")
    capsys.readouterr()
    assert run_cli(settings, "audit", "verify") == 0
    assert run_cli(settings, "audit", "verify", "--checkpoint", str(cp)) == 1
    assert "BROKEN at seq 6" in capsys.readouterr().out
    cp.write_text('{"count": 1}')
    assert run_cli(settings, "audit", "verify", "--checkpoint", str(cp)) == 2


async def test_show_session(settings, db, capsys):
    assert run_cli(settings, "audit", "show", "--session", "call-1") == 0
    out = capsys.readouterr().out
    assert "session_start" in out and "session_end" in out
    assert 'heard (raw): "this is jane doe' in out and "doctor o'conco" in out
    assert "Dr. Okonkwo" in out and "book_appointment" in out and "B-42" in out
    assert "interrupted" in out and "You're booked for Tuesday." in out
    assert run_cli(settings, "audit", "show", "--session", "call-1", "--redact") == 0
    assert PHONE not in capsys.readouterr().out
    assert run_cli(settings, "audit", "show", "--session", "nobody") == 1


async def test_export_json(settings, db, tmp_path, capsys):
    out = tmp_path / "call-1.json"
    assert run_cli(settings, "audit", "export", "--session", "call-1", "--out", str(out)) == 0
    records = json.loads(out.read_text())
    assert [r["kind"] for r in records] == ["session_start", "turn", "turn", "session_end"]
    assert records[1]["body"]["user"]["final_transcript"].endswith("Dr. Okonkwo")
    assert PHONE in out.read_text()
    assert all(len(r["hash"]) == 64 for r in records)


async def test_export_json_redacted(settings, db, capsys):
    assert run_cli(settings, "audit", "export", "--session", "call-1", "--redact") == 0
    text = capsys.readouterr().out
    records = json.loads(text)
    body = records[1]["body"]
    assert PHONE not in text and EMAIL not in text and "1985" not in text
    assert body["user"]["final_transcript"] == (
        "this is jane doe born [DOB], call [PHONE] or [EMAIL], Dr. Okonkwo"
    )
    assert body["tool_calls"][0]["arguments"] == {
        "patient_phone": "[PHONE]",
        "date_of_birth": "[DOB]",
    }
    # Hashes, ids and timestamps are untouched.
    assert body["user"]["audio"]["sha256"] == "1234567890" * 6 + "abcd"
    assert body["timestamps"]["user_started"] == "2026-01-05T10:00:00.000000Z"
    assert body["tool_calls"][0]["result"] == {"booking_id": "B-42"}


async def test_export_redaction_default_comes_from_settings(settings, db, capsys):
    # ``audit_redact_exports`` (a settings field the lead adds to config.py) sets the default.
    settings = settings.model_copy(update={"audit_redact_exports": True})
    assert run_cli(settings, "audit", "export", "--session", "call-1") == 0
    assert PHONE not in capsys.readouterr().out
    assert run_cli(settings, "audit", "export", "--session", "call-1", "--no-redact") == 0
    assert PHONE in capsys.readouterr().out


async def test_export_csv(settings, db, capsys):
    assert run_cli(settings, "audit", "export", "--session", "call-1", "--format", "csv") == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert [r["kind"] for r in rows] == ["session_start", "turn", "turn", "session_end"]
    t1, t2 = rows[1], rows[2]
    assert t1["turn"] == "1" and t1["bot_status"] == "complete"
    assert t1["raw_transcript"].endswith("doctor o'conco")
    assert t1["final_transcript"].endswith("Dr. Okonkwo")
    assert json.loads(t1["corrections"])[0]["term"] == "Dr. Okonkwo"
    assert json.loads(t1["tool_calls"])[0]["result"] == {"booking_id": "B-42"}
    assert t2["bot_status"] == "interrupted" and t2["bot_spoken_text"] == "You're booked"
    assert t1["user_started"] == "2026-01-05T10:00:00.000000Z"
    assert len(t1["hash"]) == 64 and t2["prev_hash"] == t1["hash"]

    assert (
        run_cli(settings, "audit", "export", "--session", "call-1", "--format", "csv", "--redact")
        == 0
    )
    text = capsys.readouterr().out
    assert PHONE not in text and EMAIL not in text and "[PHONE]" in text


async def test_sessions_listing(settings, db, capsys):
    assert run_cli(settings, "audit", "sessions") == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert lines[0].startswith("call-1\t") and "complete" in lines[0] and "turns=2" in lines[0]
    assert lines[1].startswith("call-2\t") and "turns=0" in lines[1]


@pytest.mark.postgres
async def test_verify_and_export_on_postgres(settings, pg_url, capsys):  # noqa: F811
    store = PostgresAuditStore(pg_url)
    rec = AuditRecorder(store, session_id="pg-call", variant="cascaded", config_hash="abc")
    await rec.start()
    rec.submit("turn", turn(1))
    await rec.close()
    store.close()
    assert run_cli(settings, "audit", "verify", "--database-url", pg_url) == 0
    assert capsys.readouterr().out.startswith("OK: 3 records")
    args = ("audit", "export", "--database-url", pg_url, "--session", "pg-call", "--format", "json")
    assert run_cli(settings, *args) == 0
    assert json.loads(capsys.readouterr().out)[1]["body"]["turn"] == 1
    import psycopg

    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("ALTER TABLE audit_records DISABLE TRIGGER USER")
        conn.execute("DELETE FROM audit_records WHERE seq = 2")
    assert run_cli(settings, "audit", "verify", "--database-url", pg_url) == 1
    assert capsys.readouterr().out.startswith("BROKEN at seq 2")


@pytest.mark.parametrize(
    "text, expected",
    [
        ("call me at (555) 123-4567 tomorrow", "call me at [PHONE] tomorrow"),
        ("my number is +44 20 7946 0958.", "my number is [PHONE]."),
        ("5551234567", "[PHONE]"),
        ("born on 03/07/1985", "born on [DOB]"),
        ("DOB 1985-03-07", "DOB [DOB]"),
        ("date of birth is 7 March 1985", "date of birth is [DOB]"),
        ("I was born on March 7th", "I was born on [DOB]"),
        ("mail jane.doe+clinic@example.co.uk please", "mail [EMAIL] please"),
        ("it's jane dot doe at gmail dot com", "it's [EMAIL]"),
        ("see Dr. Okonkwo on Tuesday at 3 pm", "see Dr. Okonkwo on Tuesday at 3 pm"),
        ("booking B-42, room 12", "booking B-42, room 12"),
    ],
)
def test_redact_text(text, expected):
    assert redact_text(text) == expected
