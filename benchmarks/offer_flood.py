"""Offers that never connect: measures whether the server gives back what each one took.

Spawns one Echo server (as ``echo-agent bench`` does, waiting for ``/readyz``) with a short
``connect_timeout_secs``, a high ``offers_per_minute`` and room for every offer as a
session, then posts ``--offers`` real aiortc SDP offers to ``/api/offer`` on loopback at
``--rate`` per second. The client never applies an answer (it closes its own peer
connection at once), so no ICE check, DTLS or media ever happens: each answered offer is a
pipeline and a server-side peer connection (with its UDP sockets) waiting for a caller that
never comes, until the connect timeout ends it as ``never_connected``.

The server process is sampled from ``/proc/<pid>`` (RSS, open file descriptors, UDP
sockets) and ``/healthz`` (live sessions): at the start, at the peak while offers are
coming in, once every session has ended, and again after ``--settle`` seconds.

    .venv/bin/python benchmarks/offer_flood.py --offers 100 --rate 5 --connect-timeout 3

Linux only (``/proc``). Prints a table; ``--json`` also writes the samples.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.server_usage import (  # noqa: E402
    echo_server,
    live_sessions,
    process_usage,
    require_proc,
)


@dataclass
class Sample:
    """One look at the server process."""

    phase: str
    secs: float  # since the first offer
    sessions: int
    rss_mb: float
    fds: int
    udp_sockets: int


def sample(phase: str, pid: int, url: str, t0: float) -> Sample:
    """Look at the server now."""
    usage = process_usage(pid)
    secs = round(time.monotonic() - t0, 1)
    return Sample(phase, secs, live_sessions(url), usage.rss_mb, usage.fds, usage.udp_sockets)


async def never_connecting_offer(http, url: str) -> int:
    """Post one real aiortc offer and close the client's side at once; the HTTP status."""
    from aiortc import RTCConfiguration, RTCPeerConnection

    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        pc.addTransceiver("audio", direction="sendrecv")
        await pc.setLocalDescription(await pc.createOffer())
        body = {"sdp": pc.localDescription.sdp, "type": "offer"}
        async with http.post(f"{url}/api/offer", json=body) as res:
            await res.read()
            return res.status
    finally:
        await pc.close()  # the answer is never applied: no ICE, no DTLS, no media


async def flood(
    url: str,
    pid: int,
    *,
    offers: int,
    rate: float,
    connect_timeout: float,
    settle: float,
    rounds: int = 1,
) -> tuple[list[Sample], dict[int, int]]:
    """Send the offers ``rounds`` times, sampling the server; the samples and HTTP statuses.

    A second round shows a leak apart from the allocator keeping freed memory: what a
    round leaks, the next one adds again.
    """
    t0 = time.monotonic()
    samples = [await asyncio.to_thread(sample, "before", pid, url, t0)]
    statuses: dict[int, int] = {}
    for n in range(1, rounds + 1):
        tag = f" (round {n})" if rounds > 1 else ""
        samples += await one_round(
            url, pid, t0, tag, offers, rate, connect_timeout, settle, statuses
        )
    return samples, statuses


async def one_round(
    url: str,
    pid: int,
    t0: float,
    tag: str,
    offers: int,
    rate: float,
    connect_timeout: float,
    settle: float,
    statuses: dict[int, int],
) -> list[Sample]:
    """One flood of ``offers``; its samples (peak, sent, sessions ended, settled).

    The HTTP status of each offer is counted into ``statuses``.
    """
    import aiohttp

    start = time.monotonic()
    peak = await asyncio.to_thread(sample, "peak" + tag, pid, url, t0)
    samples = []

    async def send(http) -> None:
        status = await never_connecting_offer(http, url)
        statuses[status] = statuses.get(status, 0) + 1

    async with aiohttp.ClientSession() as http:
        tasks = []
        for i in range(offers):
            tasks.append(asyncio.ensure_future(send(http)))
            await asyncio.sleep(max(0.0, start + (i + 1) / rate - time.monotonic()))
            now = await asyncio.to_thread(sample, "peak" + tag, pid, url, t0)
            if now.udp_sockets >= peak.udp_sockets:
                peak = now
        await asyncio.gather(*tasks)
    samples.append(peak)
    samples.append(await asyncio.to_thread(sample, "offers sent" + tag, pid, url, t0))
    # Every session ends within connect_timeout of its offer (plus a pipeline's teardown).
    deadline = time.monotonic() + connect_timeout + 30
    while time.monotonic() < deadline and await asyncio.to_thread(live_sessions, url) > 0:
        await asyncio.sleep(0.25)
    samples.append(await asyncio.to_thread(sample, "sessions ended" + tag, pid, url, t0))
    await asyncio.sleep(settle)
    samples.append(await asyncio.to_thread(sample, f"+{settle:g}s{tag}", pid, url, t0))
    return samples


def table(samples: list[Sample]) -> str:
    """The samples as a Markdown table."""
    rows = [
        "| phase | t (s) | sessions | RSS (MB) | open FDs | UDP sockets |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for s in samples:
        rows.append(
            f"| {s.phase} | {s.secs:.1f} | {s.sessions} | {s.rss_mb:.0f} | {s.fds} "
            f"| {s.udp_sockets} |"
        )
    return "\n".join(rows)


def server_settings(offers: int, connect_timeout: float) -> dict:
    """Overrides for the spawned server: every offer admitted, ended after the timeout."""
    return {
        "connect_timeout_secs": connect_timeout,
        "offers_per_minute": offers + 10,
        "max_sessions": offers + 10,
        "tts_warm_phrases": False,
    }


def run(
    *, offers: int, rate: float, connect_timeout: float, settle: float, rounds: int, out: Path
) -> tuple[list[Sample], dict[int, int]]:
    """Start a server, flood it, stop it."""
    with echo_server(server_settings(offers * rounds, connect_timeout), out) as server:
        return asyncio.run(
            flood(
                server.url,
                server.proc.pid,
                offers=offers,
                rate=rate,
                connect_timeout=connect_timeout,
                settle=settle,
                rounds=rounds,
            )
        )


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--offers", type=int, default=100)
    parser.add_argument("--rate", type=float, default=5.0, help="offers per second")
    parser.add_argument("--connect-timeout", type=float, default=3.0, help="seconds")
    parser.add_argument("--settle", type=float, default=5.0, help="seconds after the end")
    parser.add_argument("--rounds", type=int, default=2, help="floods one after the other")
    parser.add_argument("--out", type=Path, default=None, help="server log and data dir")
    parser.add_argument("--json", type=Path, default=None, help="write the samples here")
    args = parser.parse_args(argv)
    require_proc()
    out = args.out or Path(tempfile.mkdtemp(prefix="echo-offer-flood-"))
    samples, statuses = run(
        offers=args.offers,
        rate=args.rate,
        connect_timeout=args.connect_timeout,
        settle=args.settle,
        rounds=args.rounds,
        out=out,
    )
    print(
        f"{args.rounds} x {args.offers} offers at {args.rate:g}/s, "
        f"connect timeout {args.connect_timeout:g}s; "
        f"HTTP statuses {dict(sorted(statuses.items()))}; server log in {out}"
    )
    print(table(samples))
    if args.json:
        args.json.write_text(json.dumps([asdict(s) for s in samples], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
