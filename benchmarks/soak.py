"""Soak: back-to-back real calls for an hour; whether the server's footprint stays flat.

Starts Echo's server as a subprocess (local models, ``benchmarks.server_usage``), then
places one real WebRTC call after another (aiortc on loopback, no ICE servers) to the
cascaded variant until ``--minutes`` are up. Each call waits out the greeting, speaks
``--turns`` prompts (the bench's ``short`` set, synthesized once with the bundled Piper
voice and cached, rotating from call to call) and counts a turn answered when voiced bot
audio came back after the prompt's last sample (``benchmarks.voice.run.play_prompt``); a
call is completed when every turn was answered, then it hangs up.

Every ``--sample-secs`` the server process is sampled: RSS, open file descriptors, UDP
sockets and threads from ``/proc/<pid>``, live sessions and asyncio tasks from
``/healthz``. Each sample is printed as a table row and appended to a CSV as it is taken;
the server is sampled again at the last hang-up and after ``--settle`` seconds idle.
The summary compares the medians of the first and last ``--window-minutes`` (at most a
third of the run each, so a short run's windows do not overlap), fits a slope per hour and
counts the calls completed and failed::

    .venv/bin/python benchmarks/soak.py --minutes 60

Linux only (``/proc``). Not a test: an hour of calls is a benchmark run by hand.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import statistics
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.server_usage import (  # noqa: E402
    echo_server,
    process_usage,
    require_proc,
    server_health,
)

METRICS = ("rss_mb", "fds", "udp_sockets", "threads", "tasks")
PIPELINE = "cascaded"
# The embedded local models whatever keys the environment holds.
LOCAL = {"stt_provider": "whisper", "llm_provider": "local", "tts_provider": "piper"}


@dataclass
class SoakSample:
    """One look at the server during the soak (a CSV row)."""

    secs: float  # since the first call started
    phase: str  # start (before the first call), calls, ended (last hang-up), idle (settled)
    calls_completed: int
    calls_failed: int
    sessions: int
    rss_mb: float
    fds: int
    udp_sockets: int
    threads: int
    tasks: int | None  # asyncio tasks (None: the server does not count them)


@dataclass
class CallResult:
    """How one call went."""

    turns: int
    answered: int = 0
    secs: float = 0.0
    error: str = ""

    @property
    def completed(self) -> bool:
        """Connected and every turn answered with voiced audio."""
        return not self.error and self.answered == self.turns


@dataclass
class Trend:
    """One metric over the soak."""

    first: float  # median of the first window
    last: float  # median of the last window
    per_hour: float  # least-squares slope over every sample taken during calls

    @property
    def change(self) -> float:
        """Last window's median minus the first's."""
        return self.last - self.first


@dataclass
class Summary:
    """The soak's verdict on each metric."""

    window_secs: float
    span_secs: float
    trends: dict[str, Trend] = field(default_factory=dict)


def slope_per_hour(points: list[tuple[float, float]]) -> float:
    """Least-squares slope of ``(seconds, value)`` points, in value per hour (0: < 2 points)."""
    if len(points) < 2:
        return 0.0
    mean_t = statistics.fmean(t for t, _ in points)
    mean_v = statistics.fmean(v for _, v in points)
    var = sum((t - mean_t) ** 2 for t, _ in points)
    if var == 0:
        return 0.0
    cov = sum((t - mean_t) * (v - mean_v) for t, v in points)
    return cov / var * 3600.0


def summarize(samples: list[SoakSample], *, window_secs: float = 600.0) -> Summary:
    """First-window vs last-window medians and the slope of each metric.

    Only samples taken while calls ran count. Each window is ``window_secs`` long, at most
    a third of the span, so the two never overlap.

    Raises:
        ValueError: No sample was taken during calls.
    """
    during = [s for s in samples if s.phase == "calls"]
    if not during:
        raise ValueError("no sample was taken while calls ran")
    t0, t1 = during[0].secs, during[-1].secs
    span = t1 - t0
    window = min(window_secs, span / 3) if span > 0 else 0.0
    first = [s for s in during if s.secs <= t0 + window]
    last = [s for s in during if s.secs >= t1 - window]
    summary = Summary(window_secs=window, span_secs=span)
    for metric in METRICS:
        values = [(s.secs, getattr(s, metric)) for s in during if getattr(s, metric) is not None]
        if not values:
            continue
        head = [getattr(s, metric) for s in first if getattr(s, metric) is not None]
        tail = [getattr(s, metric) for s in last if getattr(s, metric) is not None]
        summary.trends[metric] = Trend(
            first=statistics.median(head or [values[0][1]]),
            last=statistics.median(tail or [values[-1][1]]),
            per_hour=slope_per_hour(values),
        )
    return summary


def summary_table(summary: Summary) -> str:
    """The summary as a Markdown table."""
    minutes = summary.window_secs / 60
    rows = [
        f"| metric | first {minutes:.1f} min (median) | last {minutes:.1f} min (median) "
        "| change | slope per hour |",
        "|---|---:|---:|---:|---:|",
    ]
    for metric, t in summary.trends.items():
        rows.append(
            f"| {metric} | {t.first:.1f} | {t.last:.1f} | {t.change:+.1f} | {t.per_hour:+.1f} |"
        )
    return "\n".join(rows)


SAMPLE_HEADER = (
    "| t (min) | phase | calls ok | failed | sessions | RSS (MB) | FDs | UDP | threads | tasks |\n"
    "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"
)


def sample_row(s: SoakSample) -> str:
    """One sample as a Markdown table row."""
    tasks = "" if s.tasks is None else s.tasks
    return (
        f"| {s.secs / 60:.1f} | {s.phase} | {s.calls_completed} | {s.calls_failed} "
        f"| {s.sessions} | {s.rss_mb:.0f} | {s.fds} | {s.udp_sockets} | {s.threads} | {tasks} |"
    )


class Soak:
    """The call loop and the sampler, sharing the call counts."""

    def __init__(
        self,
        server,
        audios,
        *,
        turns: int,
        csv_path: Path,
        answer_timeout: float = 15.0,
        window_secs: float = 600.0,
    ):
        self.window_secs = window_secs
        self.url = server.url
        self.pid = server.proc.pid
        self.proc = server.proc
        self.audios = audios
        self.turns = turns
        self.answer_timeout = answer_timeout
        self.csv_path = csv_path
        self.results: list[CallResult] = []
        self.samples: list[SoakSample] = []
        self.t0 = time.monotonic()
        columns = [f.name for f in fields(SoakSample)]
        self._csv_file = open(csv_path, "w", newline="")
        self._csv = csv.DictWriter(self._csv_file, fieldnames=columns)
        self._csv.writeheader()

    def close(self) -> None:
        """Close the CSV."""
        self._csv_file.close()

    def _look(self, phase: str) -> SoakSample:
        usage = process_usage(self.pid)
        health = server_health(self.url)
        ok = sum(r.completed for r in self.results)
        return SoakSample(
            secs=round(time.monotonic() - self.t0, 1),
            phase=phase,
            calls_completed=ok,
            calls_failed=len(self.results) - ok,
            sessions=int(health["sessions"]),
            rss_mb=round(usage.rss_mb, 1),
            fds=usage.fds,
            udp_sockets=usage.udp_sockets,
            threads=usage.threads,
            tasks=health.get("tasks"),
        )

    async def sample(self, phase: str) -> SoakSample:
        """Sample the server (off the loop), print the row, append it to the CSV."""
        s = await asyncio.to_thread(self._look, phase)
        self.samples.append(s)
        print(sample_row(s), flush=True)
        self._csv.writerow(asdict(s))
        self._csv_file.flush()
        return s

    async def sampler(self, every: float) -> None:
        """Sample every ``every`` seconds until cancelled."""
        while True:
            await asyncio.sleep(every)
            await self.sample("calls")

    async def call(self, k: int) -> CallResult:
        """Call number ``k``: greeting, ``turns`` prompts, hang up."""
        from benchmarks.voice.run import GREETING_TIMEOUT, VoiceTracker, play_prompt, wait_quiet
        from transports.webrtc_client import EchoCaller

        result = CallResult(turns=self.turns)
        start = time.monotonic()
        caller = EchoCaller(self.url, pipeline=PIPELINE)
        try:
            await caller.connect()
            tracker = VoiceTracker(caller.received)
            if await caller.wait_for_voice(since=0.0, timeout=GREETING_TIMEOUT):
                await wait_quiet(tracker, 1.0, timeout=60.0)
            for i in range(self.turns):
                audio = self.audios[(k * self.turns + i) % len(self.audios)]
                played = await play_prompt(
                    caller, tracker, audio, answer_timeout=self.answer_timeout, quiet=1.0
                )
                result.answered += played.answer_voice is not None
        except Exception as e:  # a failed call is counted; the soak goes on
            result.error = f"{type(e).__name__}: {str(e)[:160]}"
        finally:
            await caller.close()
            result.secs = time.monotonic() - start
        return result

    async def run(self, *, minutes: float, sample_secs: float, settle: float) -> None:
        """Calls back to back for ``minutes``, sampled; then ``settle`` seconds idle."""
        await self.sample("start")
        sampler = asyncio.create_task(self.sampler(sample_secs))
        deadline = self.t0 + minutes * 60
        k = 0
        try:
            while time.monotonic() < deadline:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"the server exited with {self.proc.returncode}")
                result = await self.call(k)
                self.results.append(result)
                if result.error:
                    print(f"call {k} failed: {result.error}", file=sys.stderr, flush=True)
                    await asyncio.sleep(2.0)
                k += 1
        finally:
            sampler.cancel()
            await asyncio.gather(sampler, return_exceptions=True)
        await self.sample("ended")
        await asyncio.sleep(settle)
        await self.sample("idle")


def prompt_audio(cache_dir: Path | None) -> list:
    """The ``short`` prompts' audio (synthesized once, cached as WAV)."""
    from benchmarks.voice.prompts import PromptSynthesizer, select
    from config import EchoSettings

    settings = EchoSettings()
    cache = cache_dir or settings.data_dir / "bench" / "prompts"
    synth = PromptSynthesizer(settings.piper_voice, cache)
    return [synth.audio(p) for p in select("short")]


def report(soak: Soak) -> str:
    """The closing lines: calls, turns and the summary table."""
    results = soak.results
    ok = sum(r.completed for r in results)
    turns = sum(r.turns for r in results)
    answered = sum(r.answered for r in results)
    mean_secs = statistics.fmean(r.secs for r in results) if results else 0.0
    lines = [
        f"calls: {ok} completed, {len(results) - ok} failed ({mean_secs:.1f} s each on "
        f"average); turns answered {answered}/{turns}",
    ]
    errors = sorted({r.error for r in results if r.error})
    lines += [f"  failure: {e}" for e in errors[:5]]
    try:
        summary = summarize(soak.samples, window_secs=soak.window_secs)
    except ValueError as e:
        return "\n".join([*lines, f"no summary: {e}"])
    lines.append(
        f"over {summary.span_secs / 60:.1f} min of calls (windows of "
        f"{summary.window_secs / 60:.1f} min):"
    )
    lines.append(summary_table(summary))
    idle = [s for s in soak.samples if s.phase == "idle"]
    start = soak.samples[0]
    if idle:
        lines.append(
            f"idle after the calls: RSS {idle[-1].rss_mb:.0f} MB (start {start.rss_mb:.0f}), "
            f"FDs {idle[-1].fds} (start {start.fds}), UDP {idle[-1].udp_sockets} "
            f"(start {start.udp_sockets}), sessions {idle[-1].sessions}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=60.0, help="how long calls go on")
    parser.add_argument("--turns", type=int, default=3, help="prompts per call")
    parser.add_argument("--sample-secs", type=float, default=30.0, help="sampling period")
    parser.add_argument("--window-minutes", type=float, default=10.0, help="summary windows")
    parser.add_argument("--settle", type=float, default=10.0, help="idle seconds at the end")
    parser.add_argument("--answer-timeout", type=float, default=15.0, help="seconds per turn")
    parser.add_argument("--out", type=Path, default=None, help="server log, data, CSV")
    parser.add_argument("--csv", type=Path, default=None, help="default: <out>/soak.csv")
    parser.add_argument("--cache-dir", type=Path, default=None, help="prompt WAV cache")
    args = parser.parse_args(argv)
    if args.minutes <= 0 or args.turns < 1 or args.sample_secs <= 0:
        parser.error("--minutes and --sample-secs must be positive, --turns at least 1")
    require_proc()
    from loguru import logger

    logger.remove()  # the caller's own Pipecat logs would break up the table
    logger.add(sys.stderr, level="WARNING")
    out = args.out or Path(tempfile.mkdtemp(prefix="echo-soak-"))
    out.mkdir(parents=True, exist_ok=True)
    csv_path = args.csv or out / "soak.csv"
    audios = prompt_audio(args.cache_dir)
    with echo_server(LOCAL, out) as server:
        print(
            f"soak: {args.minutes:g} min of back-to-back {PIPELINE} calls, {args.turns} "
            f"turns each, sampled every {args.sample_secs:g} s; server log and CSV in {out}",
            flush=True,
        )
        print(SAMPLE_HEADER, flush=True)
        soak = Soak(
            server,
            audios,
            turns=args.turns,
            csv_path=csv_path,
            answer_timeout=args.answer_timeout,
            window_secs=args.window_minutes * 60,
        )
        try:
            asyncio.run(
                soak.run(minutes=args.minutes, sample_secs=args.sample_secs, settle=args.settle)
            )
        finally:
            soak.close()
    print(report(soak))
    return 0


if __name__ == "__main__":
    sys.exit(main())
