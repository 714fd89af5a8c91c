"""``echo-agent audit ...``: verify the chain, review and export sessions, write checkpoints.

Wire-up (in the top-level CLI)::

    from audit.cli import add_commands
    add_commands(subparsers)        # adds "audit" with its sub-commands
    ...
    return args.func(args, settings)

Exit codes: 0 OK, 1 the chain is broken (verify) or nothing matched, 2 the store
or an input could not be read.
"""

from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from audit.chain import Checkpoint, canonical_text, verify_chain
from audit.redact import redact_record
from audit.store import AuditStore, AuditStoreError, open_store, utc_now_iso

if TYPE_CHECKING:
    from config import EchoSettings

EXIT_OK = 0
EXIT_BROKEN = 1
EXIT_ERROR = 2


def add_commands(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add the ``audit`` command and its sub-commands to an argparse sub-parser set.

    Args:
        subparsers: The object returned by ``parser.add_subparsers()``.

    Returns:
        The ``audit`` parser.
    """
    audit = subparsers.add_parser("audit", help="verify, review and export the audit trail")
    audit.set_defaults(func=_help(audit))
    sub = audit.add_subparsers(
        dest="audit_command", metavar="{verify,show,export,checkpoint,sessions}"
    )

    def store_args(p: argparse.ArgumentParser) -> None:
        p.add_argument("--db", type=Path, help="SQLite audit database (default: from settings)")
        p.add_argument(
            "--database-url", help="PostgreSQL URL (default: DATABASE_URL from settings)"
        )

    verify = sub.add_parser("verify", help="recompute the hash chain; report the first bad record")
    store_args(verify)
    verify.add_argument(
        "--checkpoint",
        type=Path,
        help="checkpoint file written earlier by 'audit checkpoint' that the chain must extend",
    )
    verify.set_defaults(func=cmd_verify)

    show = sub.add_parser("show", help="print one session's records for review")
    store_args(show)
    show.add_argument("--session", required=True, help="session id")
    show.add_argument("--redact", action="store_true", help="mask phones, dates of birth, e-mails")
    show.set_defaults(func=cmd_show)

    export = sub.add_parser("export", help="export one session's records as JSON or CSV")
    store_args(export)
    export.add_argument("--session", required=True, help="session id")
    export.add_argument("--format", choices=["json", "csv"], default="json")
    redact = export.add_mutually_exclusive_group()
    redact.add_argument(
        "--redact",
        dest="redact",
        action="store_true",
        default=None,
        help="mask phone numbers, dates of birth and e-mails",
    )
    redact.add_argument("--no-redact", dest="redact", action="store_false")
    export.add_argument("--out", type=Path, help="write to this file instead of stdout")
    export.set_defaults(func=cmd_export)

    checkpoint = sub.add_parser(
        "checkpoint", help="write the chain's count and head hash, to keep somewhere else"
    )
    store_args(checkpoint)
    checkpoint.add_argument("--out", type=Path, help="write to this file instead of stdout")
    checkpoint.set_defaults(func=cmd_checkpoint)

    sessions = sub.add_parser("sessions", help="list sessions with their start, end and turns")
    store_args(sessions)
    sessions.set_defaults(func=cmd_sessions)
    return audit


def _help(parser: argparse.ArgumentParser):
    def run(args: argparse.Namespace, settings: EchoSettings) -> int:
        parser.print_help()
        return EXIT_ERROR

    return run


def _open(args: argparse.Namespace, settings: EchoSettings) -> AuditStore:
    return open_store(
        settings,
        create=False,
        db_path=getattr(args, "db", None),
        database_url=getattr(args, "database_url", None),
    )


def _err(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return EXIT_ERROR


# ------------------------------------------------------------------------------------ verify


def cmd_verify(args: argparse.Namespace, settings: EchoSettings) -> int:
    """``audit verify``: print ``OK: N records`` or the first broken record."""
    checkpoint = None
    if args.checkpoint is not None:
        try:
            checkpoint = Checkpoint.from_dict(json.loads(args.checkpoint.read_text("utf-8")))
        except (OSError, ValueError) as e:
            return _err(f"cannot read checkpoint {args.checkpoint}: {e}")
    try:
        with _open(args, settings) as store:
            result = verify_chain(store.iter_records(), checkpoint=checkpoint)
            where = store.description
    except AuditStoreError as e:
        return _err(str(e))
    if result.ok:
        extra = f", includes checkpoint at {checkpoint.count}" if checkpoint else ""
        print(f"OK: {result.count} records, head {result.head_hash}{extra} ({where})")
        return EXIT_OK
    print(
        f"BROKEN at seq {result.first_bad_seq}: {result.reason} "
        f"({result.count} records verified before it; {where})"
    )
    return EXIT_BROKEN


# ------------------------------------------------------------------------------------ show


def _fmt_turn(body: dict[str, Any]) -> list[str]:
    lines = []
    ts = body.get("timestamps") or {}
    user = body.get("user")
    if user:
        lines.append(f"    user   [{ts.get('user_started', ts.get('transcript', '?'))}]")
        lines.append(f"      heard (raw): {user.get('raw_transcript', '')!r}")
        if user.get("corrections"):
            for c in user["corrections"]:
                lines.append(f"      corrected:   {json.dumps(c, ensure_ascii=False)}")
        lines.append(f"      final:       {user.get('final_transcript', '')!r}")
        if user.get("audio"):
            lines.append(f"      audio:       sha256 {user['audio'].get('sha256')}")
    for call in body.get("tool_calls") or []:
        arguments = json.dumps(call.get("arguments"), ensure_ascii=False)
        lines.append(
            f"    tool   {call.get('name')}({arguments})"
            f" -> {json.dumps(call.get('result'), ensure_ascii=False)}"
            + (f"  ERROR {call['error']}" if call.get("error") else "")
        )
    bot = body.get("bot") or {}
    if bot:
        lines.append(f"    bot    [{ts.get('bot_started', '-')}] {bot.get('status')}")
        lines.append(f"      spoken:      {bot.get('spoken_text', '')!r}")
        if bot.get("status") == "interrupted" and bot.get("generated_text"):
            lines.append(f"      generated:   {bot.get('generated_text')!r}")
        if bot.get("audio"):
            lines.append(f"      audio:       sha256 {bot['audio'].get('sha256')}")
    if body.get("latency_ms"):
        parts = ", ".join(f"{k}={v}" for k, v in body["latency_ms"].items())
        lines.append(f"    latency_ms {parts}")
    for err in body.get("errors") or []:
        lines.append(f"    error  {err.get('error')}")
    return lines


def _session_records(args: argparse.Namespace, settings: EchoSettings) -> list[dict] | int:
    """One session's records as dicts, or the exit code to return (unreadable / unknown)."""
    try:
        with _open(args, settings) as store:
            records = [r.to_dict() for r in store.iter_records(args.session)]
    except AuditStoreError as e:
        return _err(str(e))
    if not records:
        print(f"no records for session {args.session!r}", file=sys.stderr)
        return EXIT_BROKEN
    return records


def cmd_show(args: argparse.Namespace, settings: EchoSettings) -> int:
    """``audit show --session ID``: human-readable review of one session."""
    records = _session_records(args, settings)
    if isinstance(records, int):
        return records
    if args.redact:
        records = [redact_record(r) for r in records]
    out = sys.stdout
    for r in records:
        body = r["body"]
        head = f"#{r['seq']} {r['ts']} {r['kind']}"
        if r["kind"] == "turn":
            head += f" {body.get('turn')} ({body.get('trigger')})"
        print(head, file=out)
        if r["kind"] == "turn":
            for line in _fmt_turn(body):
                print(line, file=out)
        else:
            print(f"    {canonical_text(body)}", file=out)
    return EXIT_OK


# ------------------------------------------------------------------------------------ export

CSV_COLUMNS = [
    "seq",
    "ts",
    "kind",
    "session_id",
    "turn",
    "trigger",
    "variant",
    "config_hash",
    "user_started",
    "user_stopped",
    "raw_transcript",
    "corrections",
    "final_transcript",
    "user_audio_sha256",
    "llm_input_sha256",
    "tool_calls",
    "bot_status",
    "bot_spoken_text",
    "bot_generated_text",
    "bot_started",
    "bot_stopped",
    "bot_audio_sha256",
    "latency_ms",
    "errors",
    "body",
    "prev_hash",
    "hash",
]


def _json(value: Any) -> str:
    return "" if value in (None, [], {}) else json.dumps(value, ensure_ascii=False, sort_keys=True)


def csv_row(record: dict[str, Any]) -> dict[str, Any]:
    """Flatten one exported record into the CSV columns (``body`` keeps everything)."""
    body = record.get("body") or {}
    ts = body.get("timestamps") or {}
    user = body.get("user") or {}
    bot = body.get("bot") or {}
    llm = body.get("llm") or {}
    is_turn = record.get("kind") == "turn"
    return {
        "seq": record["seq"],
        "ts": record["ts"],
        "kind": record["kind"],
        "session_id": record["session_id"],
        "turn": body.get("turn", ""),
        "trigger": body.get("trigger", ""),
        "variant": body.get("variant", ""),
        "config_hash": body.get("config_hash", ""),
        "user_started": ts.get("user_started", ""),
        "user_stopped": ts.get("user_stopped", ""),
        "raw_transcript": user.get("raw_transcript", ""),
        "corrections": _json(user.get("corrections")),
        "final_transcript": user.get("final_transcript", ""),
        "user_audio_sha256": (user.get("audio") or {}).get("sha256", ""),
        "llm_input_sha256": " ".join(i.get("messages_sha256", "") for i in llm.get("inputs", [])),
        "tool_calls": _json(body.get("tool_calls")) if is_turn else "",
        "bot_status": bot.get("status", ""),
        "bot_spoken_text": bot.get("spoken_text", ""),
        "bot_generated_text": bot.get("generated_text", ""),
        "bot_started": ts.get("bot_started", ""),
        "bot_stopped": ts.get("bot_stopped", ""),
        "bot_audio_sha256": (bot.get("audio") or {}).get("sha256", ""),
        "latency_ms": _json(body.get("latency_ms")),
        "errors": _json(body.get("errors")),
        "body": json.dumps(body, ensure_ascii=False, sort_keys=True),
        "prev_hash": record["prev_hash"],
        "hash": record["hash"],
    }


def export_records(records: list[dict[str, Any]], fmt: str, out: TextIO) -> None:
    """Write exported records as JSON (an array) or CSV (one row per record)."""
    if fmt == "json":
        json.dump(records, out, ensure_ascii=False, indent=2, sort_keys=True)
        out.write("\n")
        return
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for r in records:
        writer.writerow(csv_row(r))


def cmd_export(args: argparse.Namespace, settings: EchoSettings) -> int:
    """``audit export --session ID --format json|csv [--redact]``."""
    redact = args.redact
    if redact is None:
        redact = settings.audit_redact_exports
    records = _session_records(args, settings)
    if isinstance(records, int):
        return records
    if redact:
        records = [redact_record(r) for r in records]
    if args.out is None:
        export_records(records, args.format, sys.stdout)
    else:
        buf = io.StringIO()
        export_records(records, args.format, buf)
        try:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(buf.getvalue(), encoding="utf-8", newline="")
        except OSError as e:
            return _err(f"cannot write {args.out}: {e}")
        print(f"exported {len(records)} records to {args.out}", file=sys.stderr)
    return EXIT_OK


# ------------------------------------------------------------------------------------ checkpoint


def cmd_checkpoint(args: argparse.Namespace, settings: EchoSettings) -> int:
    """``audit checkpoint [--out FILE]``: count and head hash as JSON, for off-site keeping."""
    try:
        with _open(args, settings) as store:
            count, head = store.head()
            where = store.description
    except AuditStoreError as e:
        return _err(str(e))
    data = Checkpoint(count=count, head_hash=head, created_at=utc_now_iso(), store=where).to_dict()
    text = json.dumps(data, indent=2, sort_keys=True) + "\n"
    if args.out is None:
        sys.stdout.write(text)
    else:
        try:
            args.out.parent.mkdir(parents=True, exist_ok=True)
            args.out.write_text(text, encoding="utf-8")
        except OSError as e:
            return _err(f"cannot write {args.out}: {e}")
        print(f"checkpoint: {count} records, head {head} -> {args.out}", file=sys.stderr)
    return EXIT_OK


# ------------------------------------------------------------------------------------ sessions


def cmd_sessions(args: argparse.Namespace, settings: EchoSettings) -> int:
    """``audit sessions``: one line per session (id, start, end status, turns)."""
    info: dict[str, dict[str, Any]] = {}
    try:
        with _open(args, settings) as store:
            for r in store.iter_records(kinds=["session_start", "session_end", "turn", "gap"]):
                s = info.setdefault(
                    r.session_id, {"start": "-", "end": "open", "turns": 0, "gaps": 0}
                )
                if r.kind == "session_start":
                    s["start"] = r.ts
                    s["variant"] = r.body.get("variant", "")
                elif r.kind == "session_end":
                    s["end"] = r.body.get("status", "?")
                elif r.kind == "turn":
                    s["turns"] += 1
                else:
                    s["gaps"] += 1
    except AuditStoreError as e:
        return _err(str(e))
    for sid, s in info.items():
        print(
            f"{sid}\t{s['start']}\t{s.get('variant', '')}\t{s['end']}\t"
            f"turns={s['turns']}\tgaps={s['gaps']}"
        )
    return EXIT_OK
