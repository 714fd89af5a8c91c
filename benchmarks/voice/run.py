"""The bench loop: scripted prompts over WebRTC into each bot, one row per prompt played.

For every run, one :class:`~transports.webrtc_client.EchoCaller` per system connects (a fresh
session), waits out the greeting, then the prompts are played in turn — interleaved across
systems, the order rotating from prompt to prompt so no system always goes first. For each
prompt the caller notes when the last voiced sample was sent and when the first voiced bot
audio came back (the client-side gap), then waits for the bot to finish before the next
prompt. Afterwards the server's per-turn records are joined to the prompts played
(:func:`benchmarks.voice.rows.join`).
"""

from __future__ import annotations

import asyncio
import bisect
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.voice.prompts import (
    VOICES,
    BenchVoice,
    Prompt,
    PromptAudio,
    PromptSynthesizer,
)
from benchmarks.voice.replies import fill_replies
from benchmarks.voice.rows import Played, TurnRow, join, records_of
from benchmarks.voice.servers import ServerProcess, System

GREETING_TIMEOUT = 20.0
SETTLE_SECS = 0.4  # quiet needed before speaking, so a prompt never barges in
VOICED_PEAK = 500  # int16 peak of a received 20 ms chunk that counts as the bot's voice


@dataclass
class BenchPlan:
    """What to run."""

    systems: list[System]
    prompts: list[Prompt]
    runs: int
    out_dir: Path
    cache_dir: Path
    voice: str = "en_US-joe-medium"
    voices: list[BenchVoice] = field(default_factory=lambda: [VOICES["piper"]])
    cold: bool = False
    callers: int = 1  # simultaneous calls (the current count while the bench runs)
    caller_counts: list[int] = field(default_factory=lambda: [1])
    stagger_secs: float = 1.3
    answer_timeout: float = 15.0
    quiet_secs: float = 1.0
    progress: bool = True
    meta: dict[str, Any] = field(default_factory=dict)


class VoiceTracker:
    """Which received chunks are voiced, scanned once each (the chunk list only grows)."""

    def __init__(self, received):
        self._received = received
        self._scanned = 0
        self.voiced: list[float] = []  # arrival times of voiced chunks, ascending

    def update(self) -> None:
        """Scan the chunks received since the last call."""
        chunks = self._received.chunks
        for t, chunk in chunks[self._scanned :]:
            if len(chunk) and int(np.abs(chunk.astype(np.int32)).max()) > VOICED_PEAK:
                self.voiced.append(t)
        self._scanned = len(chunks)

    def first_voiced(self, since: float) -> float | None:
        """Arrival of the first voiced chunk at or after ``since``."""
        self.update()
        i = bisect.bisect_left(self.voiced, since)
        return self.voiced[i] if i < len(self.voiced) else None

    def quiet_for(self, now: float) -> float:
        """Seconds since the last voiced chunk (since the first chunk when none was voiced)."""
        self.update()
        chunks = self._received.chunks
        if self.voiced:
            return now - self.voiced[-1]
        return now - chunks[0][0] if chunks else 0.0


async def wait_quiet(tracker: VoiceTracker, quiet: float, timeout: float) -> None:
    """Wait until the bot has been silent for ``quiet`` seconds (or ``timeout``)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and tracker.quiet_for(time.monotonic()) < quiet:
        await asyncio.sleep(0.05)


async def play_prompt(
    caller, tracker: VoiceTracker, audio: PromptAudio, *, answer_timeout: float, quiet: float
) -> Played:
    """Speak one prompt into the call and wait for the bot's answer to finish."""
    await wait_quiet(tracker, SETTLE_SECS, timeout=60.0)
    ended = await caller.say(audio.pcm, audio.rate)
    started = ended - audio.duration
    deadline = time.monotonic() + answer_timeout
    answer = None
    while time.monotonic() < deadline:
        answer = tracker.first_voiced(ended)
        if answer is not None:
            break
        await asyncio.sleep(0.01)
    first = tracker.first_voiced(started)
    if first is not None:
        await wait_quiet(tracker, quiet, timeout=90.0)
    gap = longest_gap([t for t, _ in caller.received.chunks if t >= started])
    return Played(audio.prompt, audio, started, ended, first, answer, gap)


def longest_gap(arrivals: list[float]) -> float | None:
    """The longest time between consecutive packet arrivals.

    The server sends a packet every 20 ms, silence included: a long gap is a stall
    somewhere on the way (the server's event loop, its CPU, the network).
    """
    if len(arrivals) < 2:
        return None
    return float(np.max(np.diff(arrivals)))


async def _connect(url: str, pipeline: str | None, quiet: float):
    """A fresh call, the greeting (if any) waited out."""
    from transports.webrtc_client import EchoCaller

    caller = EchoCaller(url, pipeline=pipeline)
    await caller.connect()
    tracker = VoiceTracker(caller.received)
    if await caller.wait_for_voice(since=0.0, timeout=GREETING_TIMEOUT):
        await wait_quiet(tracker, quiet, timeout=60.0)
    return caller, tracker


async def _interleaved(plan, servers, audio, voice, run, on_step) -> list[TurnRow]:
    """One call per system, the prompts interleaved across systems (fair A/B)."""
    callers: dict[str, Any] = {}
    trackers: dict[str, VoiceTracker] = {}
    played: dict[str, list[Played]] = {s.name: [] for s in plan.systems}
    rows: list[TurnRow] = []
    try:
        for system in plan.systems:
            url = servers[system.name].url
            callers[system.name], trackers[system.name] = await _connect(
                url, system.pipeline, plan.quiet_secs
            )
        for i, prompt in enumerate(plan.prompts):
            shift = (i + run - 1) % len(plan.systems)
            for system in plan.systems[shift:] + plan.systems[:shift]:
                result = await play_prompt(
                    callers[system.name],
                    trackers[system.name],
                    audio[(voice.name, prompt.id)],
                    answer_timeout=plan.answer_timeout,
                    quiet=plan.quiet_secs,
                )
                played[system.name].append(result)
                if on_step:
                    on_step(f"run {run} {system.name} {voice.name} {prompt.id}")
        await asyncio.sleep(0.5)  # the last data-channel messages
        offset = time.time() - time.monotonic()
        for system in plan.systems:
            records = records_of(callers[system.name])
            labels = {"voice": voice.name, "mode": _mode(plan), "callers": 1, "caller": 0}
            rows += join(run, system.name, played[system.name], records, offset, **labels)
    finally:
        for caller in callers.values():
            await caller.close()
        await asyncio.sleep(1.0)  # let the servers tear the sessions down
    return rows


async def _one_caller(plan, server, system, audio, voice, k, run, on_step) -> list[TurnRow]:
    """One of ``plan.callers`` simultaneous calls: starts ``k × stagger`` late, plays all."""
    await asyncio.sleep(k * plan.stagger_secs)
    caller, tracker = await _connect(server.url, system.pipeline, plan.quiet_secs)
    try:
        played = []
        for prompt in plan.prompts:
            played.append(
                await play_prompt(
                    caller,
                    tracker,
                    audio[(voice.name, prompt.id)],
                    answer_timeout=plan.answer_timeout,
                    quiet=plan.quiet_secs,
                )
            )
            if on_step:
                on_step(f"run {run} {system.name} caller {k} {voice.name} {prompt.id}")
        await asyncio.sleep(0.5)
        offset = time.time() - time.monotonic()
        labels = {"voice": voice.name, "mode": _mode(plan), "callers": plan.callers, "caller": k}
        return join(run, system.name, played, records_of(caller), offset, **labels)
    finally:
        await caller.close()


def _mode(plan: BenchPlan) -> str:
    return "cold" if plan.cold else "warm"


async def _call_group(plan, servers, audio, voices, run, on_step) -> list[TurnRow]:
    """The calls of one group: one voice alone, or ``plan.callers`` calls at once."""
    if plan.callers == 1:
        rows = await _interleaved(plan, servers, audio, voices[0], run, on_step)
    else:
        tasks = [
            _one_caller(
                plan, servers[system.name], system, audio, voices[k % len(voices)], k, run, on_step
            )
            for system in plan.systems
            for k in range(plan.callers)
        ]
        rows = [row for part in await asyncio.gather(*tasks) for row in part]
        await asyncio.sleep(1.0)
    for system in plan.systems:
        mine = [r for r in rows if r.system == system.name]
        fill_replies(mine, servers[system.name].audit_db)
    return rows


def call_groups(plan: BenchPlan) -> list[list[BenchVoice]]:
    """One group per voice for single calls (one after another); one group for N callers."""
    return [[v] for v in plan.voices] if plan.callers == 1 else [list(plan.voices)]


def _start(plan: BenchPlan, tag: str = "") -> dict[str, ServerProcess]:
    servers = {s.name: ServerProcess(s, plan.out_dir, tag) for s in plan.systems}
    try:
        for server in servers.values():
            server.start()
        for server in servers.values():
            server.wait_ready()
    except BaseException:
        _stop(servers)
        raise
    return servers


def _stop(servers: dict[str, ServerProcess]) -> None:
    for server in servers.values():
        server.stop()


async def run_bench(
    plan: BenchPlan,
    audio: dict[tuple[str, str], PromptAudio],
    on_step: Callable[[str], None] | None = None,
) -> list[TurnRow]:
    """Play every prompt to every system for ``plan.runs`` runs; return the joined rows.

    Warm: one server per system for the whole bench (its phrase cache warmed at start-up
    and by every earlier reply). Cold: a fresh server, with a fresh data directory and no
    phrase warm-up, for every run and call group.
    """
    import dataclasses

    rows: list[TurnRow] = []
    warm = None if plan.cold else _start(plan)
    try:
        for count in plan.caller_counts:
            counted = dataclasses.replace(plan, callers=count)
            for run in range(1, plan.runs + 1):
                for voices in call_groups(counted):
                    tag = f"cold-n{count}-r{run}-{'-'.join(v.name for v in voices)}"
                    servers = warm if warm is not None else _start(plan, tag)
                    try:
                        rows += await _call_group(counted, servers, audio, voices, run, on_step)
                    finally:
                        if warm is None:
                            _stop(servers)
    finally:
        if warm is not None:
            _stop(warm)
    return rows


def synthesize_all(plan: BenchPlan) -> dict[tuple[str, str], PromptAudio]:
    """Every prompt's audio in every voice (cached WAVs under ``plan.cache_dir``)."""
    out = {}
    for voice in plan.voices:
        synth = PromptSynthesizer(plan.voice, plan.cache_dir, voice)
        out.update({(voice.name, p.id): synth.audio(p) for p in plan.prompts})
    return out


def execute(plan: BenchPlan, on_step: Callable[[str], None] | None = None) -> list[TurnRow]:
    """Synthesize the prompts, then run the bench (it starts and stops the servers)."""
    audio = synthesize_all(plan)
    return asyncio.run(run_bench(plan, audio, on_step))
