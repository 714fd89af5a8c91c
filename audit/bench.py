"""Audit benchmark: what the audit trail costs, printed and written to a report.

Run ``python -m audit.bench [--records N] [--database-url URL] [--out FILE]``.

Figures:

* observer: inline cost per observed frame push (20 ms input audio, played output
  audio, event frames) — the work done on the observer task per frame;
* recorder: ``submit()`` cost (the only call on the session's path) and
  end-to-end commit throughput through the writer;
* store: append latency (p50/p95/p99) and throughput for SQLite (WAL,
  ``synchronous=FULL``) and, when a URL is given, PostgreSQL;
* verify: records per second for ``verify_chain`` over the store.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from audit.chain import verify_chain
from audit.recorder import AuditRecorder
from audit.store import AuditStore, PostgresAuditStore, SQLiteAuditStore, utc_now_iso


def _turn_body(n: int) -> dict[str, Any]:
    return {
        "turn": n,
        "trigger": "user",
        "timestamps": {"user_started": utc_now_iso(), "bot_started": utc_now_iso()},
        "user": {
            "raw_transcript": "I would like to book with doctor o'conco next Tuesday morning",
            "final_transcript": "I would like to book with Dr. Okonkwo next Tuesday morning",
            "corrections": [{"raw": "doctor o'conco", "term": "Dr. Okonkwo", "score": 0.91}],
            "audio": {"sha256": "a" * 64, "bytes": 96000},
        },
        "llm": {"inputs": [{"messages_sha256": "b" * 64, "message_count": 9}], "text": "x" * 120},
        "tool_calls": [
            {"name": "book_appointment", "arguments": {"day": "Tuesday"}, "result": {"id": "B-1"}}
        ],
        "bot": {"status": "complete", "spoken_text": "y" * 120, "audio": {"sha256": "c" * 64}},
        "latency_ms": {"voice_to_voice": 812.4},
        "errors": [],
    }


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def bench_store(store: AuditStore, n: int) -> dict[str, Any]:
    """Append ``n`` turn records one by one, then verify the chain."""
    lat = []
    t0 = time.perf_counter()
    for i in range(n):
        s = time.perf_counter()
        store.append("turn", "bench", _turn_body(i))
        lat.append((time.perf_counter() - s) * 1000)
    total = time.perf_counter() - t0
    t1 = time.perf_counter()
    result = verify_chain(store.iter_records())
    vtime = time.perf_counter() - t1
    assert result.ok, result.reason
    return {
        "appends": n,
        "append_ms_p50": round(statistics.median(lat), 3),
        "append_ms_p95": round(_pct(lat, 0.95), 3),
        "append_ms_p99": round(_pct(lat, 0.99), 3),
        "appends_per_sec": round(n / total, 1),
        "verify_records": result.count,
        "verify_records_per_sec": round(result.count / vtime, 1),
    }


async def bench_recorder(store: AuditStore, n: int) -> dict[str, Any]:
    """``submit()`` cost and throughput through the writer task."""
    rec = AuditRecorder(
        store, session_id="bench-rec", variant="bench", config_hash="0", max_queue=n + 10
    )
    await rec.start()
    bodies = [_turn_body(i) for i in range(n)]
    t0 = time.perf_counter()
    for body in bodies:
        rec.submit("turn", body)
    submit_us = (time.perf_counter() - t0) / n * 1e6
    await rec.close(timeout=600)
    total = time.perf_counter() - t0
    return {
        "submits": n,
        "submit_us_mean": round(submit_us, 2),
        "committed_per_sec": round(n / total, 1),
        "dropped": rec.dropped_total,
    }


async def bench_observer(frames: int) -> dict[str, Any]:
    """Inline cost of AuditObserver.on_push_frame per frame kind."""
    from pipecat.frames.frames import (
        InputAudioRawFrame,
        LLMTextFrame,
        OutputAudioRawFrame,
        UserStartedSpeakingFrame,
        UserStoppedSpeakingFrame,
    )
    from pipecat.observers.base_observer import FramePushed
    from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

    from observers.audit import AuditObserver

    class Sink:
        def __init__(self):
            self.records = 0

        def submit(self, kind, body, *, audio=None):
            self.records += 1
            return True

    sink = Sink()
    src, dst, out = FrameProcessor(), FrameProcessor(), FrameProcessor()
    observer = AuditObserver(recorder=sink, played_by=lambda p: p is out)
    down = FrameDirection.DOWNSTREAM

    async def push(frame, source=src, first=True):
        await observer.on_push_frame(
            FramePushed(
                source=source,
                destination=dst,
                frame=frame,
                direction=down,
                timestamp=time.monotonic_ns(),
                first_push=first,
            )
        )

    await push(UserStartedSpeakingFrame())
    audio_in = [InputAudioRawFrame(b"\x01\x00" * 320, 16000, 1) for _ in range(frames)]
    t0 = time.perf_counter()
    for f in audio_in:
        await push(f)
    in_us = (time.perf_counter() - t0) / frames * 1e6
    t0 = time.perf_counter()
    for f in audio_in:
        await push(f, first=False)  # the same frame passing further processors
    repush_us = (time.perf_counter() - t0) / frames * 1e6
    await push(UserStoppedSpeakingFrame())
    texts = [LLMTextFrame("word ") for _ in range(frames)]
    t0 = time.perf_counter()
    for f in texts:
        await push(f)
    text_us = (time.perf_counter() - t0) / frames * 1e6
    audio_out = [OutputAudioRawFrame(b"\x02\x00" * 960, 24000, 1) for _ in range(frames)]
    t0 = time.perf_counter()
    for f in audio_out:
        await push(f, source=out, first=False)
    out_us = (time.perf_counter() - t0) / frames * 1e6
    observer.flush()
    return {
        "frames_per_kind": frames,
        "input_audio_20ms_us": round(in_us, 2),
        "repeated_push_us": round(repush_us, 2),
        "llm_text_us": round(text_us, 2),
        "played_audio_40ms_us": round(out_us, 2),
        "turn_records": sink.records,
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Run every benchmark and return the figures."""
    report: dict[str, Any] = {
        "when": utc_now_iso(),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "records": args.records,
    }
    report["observer"] = await bench_observer(args.frames)
    with tempfile.TemporaryDirectory() as tmp:
        with SQLiteAuditStore(Path(tmp) / "bench.db") as store:
            report["sqlite"] = bench_store(store, args.records)
            report["sqlite_recorder"] = await bench_recorder(store, args.records)
    if args.database_url:
        with PostgresAuditStore(args.database_url) as store:
            report["postgres"] = bench_store(store, args.records)
            report["postgres_recorder"] = await bench_recorder(store, args.records)
    return report


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(prog="python -m audit.bench", description=__doc__)
    parser.add_argument("--records", type=int, default=1000, help="records per store benchmark")
    parser.add_argument("--frames", type=int, default=5000, help="frames per observer figure")
    parser.add_argument("--database-url", help="also benchmark this PostgreSQL database")
    parser.add_argument("--out", type=Path, default=Path("reports/audit_bench.json"))
    args = parser.parse_args(argv)
    report = asyncio.run(run(args))
    text = json.dumps(report, indent=2)
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text + "\n", encoding="utf-8")
    print(f"report written to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
