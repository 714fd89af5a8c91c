"""Audio under network jitter and loss, per WebRTC jitter-buffer setting (``prefetch``).

Creates a network namespace reached over an emulated path (``benchmarks.netem``: delay,
normal jitter, loss, in both directions), starts one Echo server per prefetch setting bound
to the host end of that path, and for every network condition places one scripted WebRTC
call from *inside* the namespace (``EchoCaller``), playing the bench's tuning prompts
(``benchmarks.voice.prompts.SHORT``, Piper voice). A setting is ``webrtc_audio_prefetch`` and
``webrtc_audio_skip_after`` (``transports.jitter_stats``). Per setting × condition it reports:

* server side, from the counting jitter buffer (``transports.jitter_stats``, logged by the
  server when the call closes): 20 ms frames missing from the audio Echo heard (aiortc has
  no loss concealment: a missing frame is cut out), packets dropped late or on overflow,
  underruns of a real-time reader, the longest stall, the mean buffer depth (ms of delay);
* speech recognition: WER of the server's transcript (``echo-latency`` messages) vs the prompt;
* client side: the same counters on the caller's own buffer, for the bot's audio;
* the voice-to-voice gap per turn (last voiced sample sent → first voiced bot audio).

    .venv/bin/python benchmarks/jitter_bench.py --prefetch 1,2,4 --conditions clean,j30-l2
    .venv/bin/python benchmarks/jitter_bench.py --prefetch 1 --skip-after 0,2,3

Writes ``jitter.csv``, ``jitter.json`` and the server logs into ``--out`` (default
``reports/jitter-<time>``). Needs root (network namespace, TUN devices).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import math
import signal
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.netem import Impairment, NetemLink, netns_permitted  # noqa: E402

LOG_MARK = "audio jitter buffer: "
CONDITIONS: dict[str, Impairment] = {
    "clean": Impairment("clean"),
    # netem delay 40ms 30ms distribution normal loss 2% (reorders, as netem does)
    "j30-l2": Impairment("j30-l2", 40.0, 30.0, 0.02),
    # the same jitter as queueing delay: packets keep their order
    "j30-l2-fifo": Impairment("j30-l2-fifo", 40.0, 30.0, 0.02, reorder=False),
    "j60-l2": Impairment("j60-l2", 80.0, 60.0, 0.02),
}
STALL_SECS = 0.06  # a received-audio arrival gap longer than three 20 ms frames


@dataclass
class Cell:
    """One call: a prefetch setting under one network condition."""

    prefetch: int
    condition: str
    skip_after: int = 0  # webrtc_audio_skip_after (0: aiortc's own wait)
    server: dict = field(default_factory=dict)  # the server's jitter counters
    client: dict = field(default_factory=dict)  # the caller's jitter counters
    client_stalls: int = 0  # received-audio arrival gaps > STALL_SECS
    turns: list[dict] = field(default_factory=list)  # prompt_id, wer, gap_ms, transcript?
    link: dict = field(default_factory=dict)
    error: str = ""


def percentile(values: list[float], q: float) -> float | None:
    """The ``q`` (0–100) percentile by linear interpolation, None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100.0
    lo, hi = math.floor(k), math.ceil(k)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def parse_server_stats(log_text: str) -> list[dict]:
    """The jitter counters a server logged, one dict per closed audio receiver, in order."""
    out = []
    for line in log_text.splitlines():
        i = line.find(LOG_MARK)
        if i < 0:
            continue
        try:
            data = json.loads(line[i + len(LOG_MARK) :])
        except ValueError:
            continue
        if isinstance(data, dict):
            out.append(data)
    return out


def arrival_stalls(times: list[float], gap: float = STALL_SECS) -> int:
    """How many times consecutive received chunks arrived more than ``gap`` seconds apart."""
    return sum(1 for a, b in zip(times, times[1:], strict=False) if b - a > gap)


def match_turns(played: list, records: list, offset: float) -> list[dict]:
    """Each played prompt's WER and voice-to-voice gap, from the server's turn records.

    Args:
        played: ``benchmarks.voice.rows.Played`` per prompt, in order.
        records: The call's ``TurnLatency`` records.
        offset: ``time.time() - time.monotonic()`` (server wall clock → caller's clock).
    """
    from benchmarks.voice.prompts import word_error_rate

    rows = []
    for k, p in enumerate(played):
        end = played[k + 1].started if k + 1 < len(played) else math.inf
        heard = [
            r
            for r in records
            if r.turn_end_at is not None
            and r.transcript
            and p.started - 0.05 <= r.turn_end_at - offset < end
        ]
        transcript = " ".join(r.transcript for r in heard)
        gap = None if p.answer_voice is None else (p.answer_voice - p.ended) * 1000.0
        rows.append(
            {
                "prompt_id": p.prompt.id,
                "wer": round(word_error_rate(p.prompt.text, transcript), 3),
                "gap_ms": None if gap is None else round(gap, 1),
                "server_turns": len(heard),
            }
        )
    return rows


def summarize(cell: Cell) -> dict:
    """One table row: the counters, WER and the gap percentiles of a call."""
    s, c = cell.server, cell.client
    gaps = [t["gap_ms"] for t in cell.turns if t["gap_ms"] is not None]
    wers = [t["wer"] for t in cell.turns]
    expected = s.get("frames_out", 0) + s.get("missing_frames", 0)
    return {
        "prefetch": cell.prefetch,
        "skip_after": cell.skip_after,
        "condition": cell.condition,
        "netem": CONDITIONS[cell.condition].describe() if cell.condition in CONDITIONS else "",
        "srv_packets": s.get("packets"),
        "srv_missing": s.get("missing_frames"),
        "srv_missing_pct": round(100.0 * s["missing_frames"] / expected, 2) if expected else None,
        "srv_late": s.get("late"),
        "srv_discarded": s.get("discarded"),
        "srv_underruns": s.get("underruns"),
        "srv_max_stall_ms": s.get("max_stall_ms"),
        "srv_depth_ms": None if not s else round(20.0 * s.get("mean_depth", 0.0), 1),
        "wer": round(sum(wers) / len(wers), 3) if wers else None,
        "answered": f"{len(gaps)}/{len(cell.turns)}",
        "gap_p50_ms": _round(percentile(gaps, 50)),
        "gap_p90_ms": _round(percentile(gaps, 90)),
        "cli_missing": c.get("missing_frames"),
        "cli_underruns": c.get("underruns"),
        "cli_stalls": cell.client_stalls,
        "cli_depth_ms": None if not c else round(20.0 * c.get("mean_depth", 0.0), 1),
        "link_dropped": sum(cell.link.get("dropped", {}).values()) if cell.link else None,
        "error": cell.error,
    }


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 1)


TABLE_COLUMNS = [
    ("prefetch", "pf"),
    ("skip_after", "skip"),
    ("condition", "condition"),
    ("srv_missing", "srv miss"),
    ("srv_missing_pct", "miss %"),
    ("srv_late", "late"),
    ("srv_discarded", "disc"),
    ("srv_underruns", "underrun"),
    ("srv_max_stall_ms", "stall ms"),
    ("srv_depth_ms", "depth ms"),
    ("wer", "WER"),
    ("answered", "ans"),
    ("gap_p50_ms", "gap p50"),
    ("gap_p90_ms", "gap p90"),
    ("cli_missing", "cli miss"),
    ("cli_underruns", "cli undr"),
]


def format_table(rows: list[dict]) -> str:
    """A fixed-width text table of summary rows."""
    cells = [[h for _, h in TABLE_COLUMNS]]
    for row in rows:
        cells.append(["-" if row.get(k) is None else str(row.get(k)) for k, _ in TABLE_COLUMNS])
    widths = [max(len(r[i]) for r in cells) for i in range(len(TABLE_COLUMNS))]
    lines = ["  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)) for r in cells]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def write_reports(out_dir: Path, cells: list[Cell], meta: dict) -> list[dict]:
    """``jitter.csv`` (one summary row per call) and ``jitter.json`` (everything)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = [summarize(c) for c in cells]
    if rows:
        with open(out_dir / "jitter.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    body = {"meta": meta, "summary": rows, "calls": [asdict(c) for c in cells]}
    (out_dir / "jitter.json").write_text(json.dumps(body, indent=2))
    return rows


# --- the caller, run inside the namespace ---------------------------------------------------


async def place_call(spec: dict) -> dict:
    """One call: greeting, the prompts, then the counters and per-turn figures (JSON-able)."""
    from benchmarks.voice.prompts import PromptSynthesizer, select
    from benchmarks.voice.rows import records_of
    from benchmarks.voice.run import VoiceTracker, play_prompt, wait_quiet
    from transports import audio_jitter_stats
    from transports.webrtc_client import EchoCaller

    synth = PromptSynthesizer(spec["voice"], Path(spec["cache_dir"]))
    audio = [synth.audio(p) for p in select("short", only=spec["prompt_ids"])]
    caller = EchoCaller(spec["url"], audio_prefetch=spec["client_prefetch"])
    await caller.connect()
    try:
        tracker = VoiceTracker(caller.received)
        if await caller.wait_for_voice(since=0.0, timeout=30.0):
            await wait_quiet(tracker, 1.0, timeout=60.0)
        played = []
        for a in audio:
            played.append(await play_prompt(caller, tracker, a, answer_timeout=15.0, quiet=1.0))
        await asyncio.sleep(1.0)  # the last data-channel messages
        offset = time.time() - time.monotonic()
        turns = match_turns(played, records_of(caller), offset)
        stats = audio_jitter_stats(caller)
        times = [t for t, _ in caller.received.chunks]
        return {
            "turns": turns,
            "client": stats[0].as_dict() if stats else {},
            "client_stalls": arrival_stalls(times),
        }
    finally:
        await caller.close()


def caller_main(spec_json: str) -> int:
    """Run :func:`place_call` and print its result as one JSON line."""
    result = asyncio.run(place_call(json.loads(spec_json)))
    print(json.dumps(result))
    return 0


# --- the orchestration (root) ----------------------------------------------------------------


def run_cell(link: NetemLink, url: str, setting: tuple[int, int], name: str, spec: dict) -> Cell:
    """Place one call from the namespace under condition ``name``; ``setting``: (prefetch, skip)."""
    link.set_condition(CONDITIONS[name])
    cell = Cell(setting[0], name, skip_after=setting[1])
    cmd = ["ip", "netns", "exec", link.netns, sys.executable, "-m", "benchmarks.jitter_bench"]
    cmd += ["--caller-json", json.dumps({**spec, "url": url})]
    project = Path(__file__).resolve().parents[1]
    done = subprocess.run(cmd, cwd=project, capture_output=True, text=True, timeout=900)
    cell.link = {"forwarded": dict(link.forwarded), "dropped": dict(link.dropped)}
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        cell.error = f"caller exited {done.returncode}: {done.stderr.strip()[-300:]}"
        return cell
    result = json.loads(lines[-1])
    cell.turns, cell.client = result["turns"], result["client"]
    cell.client_stalls = result["client_stalls"]
    return cell


def wait_server_stats(log_path: Path, count: int, timeout: float = 45.0) -> dict:
    """The ``count``-th jitter log line of a server (it logs when the call closes)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        stats = parse_server_stats(log_path.read_text(errors="replace"))
        if len(stats) >= count:
            return stats[count - 1]
        time.sleep(0.5)
    return {}


def run(args) -> int:
    """Every prefetch setting under every condition; print the table, write the reports."""
    from benchmarks.voice.prompts import PromptSynthesizer, select
    from benchmarks.voice.servers import ECHO, ServerProcess, System
    from config import EchoSettings

    class NamespaceServer(ServerProcess):
        """An Echo server bound to the host end of the emulated path."""

        def command(self) -> list[str]:
            return super().command() + ["--host", args.host_addr]

        @property
        def url(self) -> str:
            return f"http://{args.host_addr}:{self.port}"

    settings = EchoSettings()
    prompts = select("short", limit=args.prompts)
    cache_dir = settings.data_dir / "bench" / "prompts"
    synth = PromptSynthesizer(settings.piper_voice, cache_dir)
    for p in prompts:
        synth.audio(p)  # cached now, so the caller in the namespace only reads WAVs
    spec = {
        "voice": settings.piper_voice,
        "cache_dir": str(cache_dir),
        "prompt_ids": [p.id for p in prompts],
        "client_prefetch": args.client_prefetch,
    }
    out_dir = Path(args.out or f"reports/jitter-{time.strftime('%Y%m%d-%H%M%S')}")
    meta = {"started": time.strftime("%Y-%m-%d %H:%M:%S"), "argv": sys.argv[1:], **spec}
    meta["conditions"] = {n: CONDITIONS[n].describe() for n in args.conditions}
    cells: list[Cell] = []
    with NetemLink(args.netns, host_addr=args.host_addr, peer_addr=args.peer_addr) as link:
        for prefetch, skip in [(p, k) for p in args.prefetch for k in args.skip_after]:
            overrides = {"webrtc_audio_prefetch": prefetch, "webrtc_audio_skip_after": skip}
            system = System(f"echo-pf{prefetch}-skip{skip}", ECHO, overrides)
            server = NamespaceServer(system, out_dir)
            link.set_condition(CONDITIONS["clean"])
            server.start()
            try:
                server.wait_ready()
                for k, name in enumerate(args.conditions, start=1):
                    print(f"prefetch {prefetch} skip {skip}, {name} …", file=sys.stderr, flush=True)
                    cell = run_cell(link, server.url, (prefetch, skip), name, spec)
                    cell.server = wait_server_stats(server.log_path, k)
                    cells.append(cell)
                    write_reports(out_dir, cells, meta)
            finally:
                server.stop()
    rows = write_reports(out_dir, cells, meta)
    print(format_table(rows))
    print(f"\nwritten: {out_dir}/jitter.csv, {out_dir}/jitter.json")
    return 0


def _int_list(text: str, low: int = 1, high: int = 15) -> list[int]:
    try:
        values = [int(x) for x in text.split(",") if x.strip()]
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"not a list of integers: {text}") from e
    if not values or any(v < low or v > high for v in values):
        raise argparse.ArgumentTypeError(f"values must be {low}..{high}")
    return values


def _conditions(text: str) -> list[str]:
    names = [x.strip() for x in text.split(",") if x.strip()]
    unknown = [n for n in names if n not in CONDITIONS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown condition(s) {unknown}: use {list(CONDITIONS)}")
    return names


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(prog="jitter_bench.py", description=__doc__.split("\n")[0])
    parser.add_argument("--prefetch", type=_int_list, default=[1, 2, 4])
    parser.add_argument(
        "--skip-after",
        type=lambda t: _int_list(t, 0),
        default=[0],
        help="webrtc_audio_skip_after values (0: aiortc's wait), crossed with --prefetch",
    )
    parser.add_argument("--conditions", type=_conditions, default=["clean", "j30-l2", "j60-l2"])
    parser.add_argument("--prompts", type=int, default=5, help="first N of the short prompts")
    parser.add_argument("--client-prefetch", type=int, default=1, help="the caller's buffer")
    parser.add_argument("--out", default=None)
    parser.add_argument("--netns", default="echo-jitter")
    parser.add_argument("--host-addr", default="10.77.0.1")
    parser.add_argument("--peer-addr", default="10.77.0.2")
    parser.add_argument("--caller-json", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.caller_json is not None:
        return caller_main(args.caller_json)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up the namespace too
    if not netns_permitted():
        print("jitter_bench: needs root and `ip netns` (network namespace + TUN)", file=sys.stderr)
        return 2
    return run(args)


if __name__ == "__main__":
    sys.exit(main())
