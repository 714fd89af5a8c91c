"""Voice-to-voice latency over the WebSocket transports (Twilio phone path, protobuf /ws).

Spawns one Echo server (as ``echo-agent bench`` does, waiting for ``/readyz``), then per
run places one call per transport and plays the bench's prompts into it (Piper, the
bench's cached audio; over the phone path resampled to 8 kHz μ-law by the caller). The gap
is "last voiced sample sent → first voiced bot audio received", on the client side, as in
the WebRTC bench; the caller waits for the bot's answer to finish *playing* (the server
sends audio at twice real time) before the next prompt. ``webrtc`` runs the same prompts
over WebRTC on the same server, for a like-for-like comparison.

    .venv/bin/python benchmarks/telephony_bench.py --runs 3 --transports twilio,webrtc
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SETTLE_SECS = 0.4
ANSWER_TIMEOUT = 15.0


def make_caller(transport: str, url: str):
    """A scripted caller for ``transport`` with connect() / say() / wait_for_*()."""
    if transport == "twilio":
        from transports.ws_clients import TwilioCaller

        caller = TwilioCaller(url, pipeline="cascaded")
        caller.connect = caller.dial
        return caller
    if transport == "websocket":
        from transports.ws_clients import ProtobufCaller

        return ProtobufCaller(url, pipeline="cascaded")
    if transport == "webrtc":
        from transports.webrtc_client import EchoCaller

        return EchoCaller(url, pipeline="cascaded")
    raise SystemExit(f"unknown transport '{transport}': twilio, websocket or webrtc")


async def wait_played(caller, quiet: float) -> None:
    """Wait until the bot is quiet (playback clock for WebSocket callers)."""
    if hasattr(caller, "_played_until"):
        await caller.wait_for_silence(quiet=quiet, timeout=60)
        return
    from benchmarks.voice.run import VoiceTracker, wait_quiet

    await wait_quiet(VoiceTracker(caller.received), quiet, timeout=60)


async def one_call(transport: str, url: str, audio: list) -> list[float | None]:
    """Play every prompt in one call; the client gap per prompt in ms (None: no answer)."""
    caller = make_caller(transport, url)
    gaps: list[float | None] = []
    try:
        await caller.connect()
        if await caller.wait_for_voice(since=0.0, timeout=20):
            await wait_played(caller, 1.0)
        for prompt in audio:
            if getattr(caller, "closed", None) is not None and caller.closed.is_set():
                raise RuntimeError(f"the server ended the {transport} call: see its log")
            await wait_played(caller, SETTLE_SECS)
            ended = await caller.say(prompt.pcm, prompt.rate)
            answer = await caller.wait_for_voice(since=ended, timeout=ANSWER_TIMEOUT)
            gaps.append(None if answer is None else (answer - ended) * 1000.0)
            await wait_played(caller, 1.0)
    finally:
        await caller.close()
        await asyncio.sleep(1.0)  # let the server tear the session down
    return gaps


def main(argv: list[str] | None = None) -> int:
    """Entry point: print p50 / p90 of the client gap per transport."""
    from benchmarks.voice.prompts import PromptSynthesizer, select
    from benchmarks.voice.servers import ECHO, ServerProcess, System
    from observers.latency_record import percentile

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--prompts", default="short", help="short, paused or all")
    parser.add_argument("--transports", default="twilio,webrtc")
    parser.add_argument("--out", type=Path, default=None, help="server log dir")
    args = parser.parse_args(argv)
    transports = [t.strip() for t in args.transports.split(",") if t.strip()]

    out = args.out or Path(tempfile.mkdtemp(prefix="telephony-bench-"))
    synth = PromptSynthesizer("en_US-joe-medium", out / "prompts")
    audio = [synth.audio(p) for p in select(args.prompts)]
    server = ServerProcess(System("echo", ECHO), out)
    server.start()
    gaps: dict[str, list[float | None]] = {t: [] for t in transports}
    try:
        server.wait_ready()
        for run in range(1, args.runs + 1):
            order = transports[run - 1 :] + transports[: run - 1]  # interleaved
            for transport in order:
                started = time.monotonic()
                gaps[transport] += asyncio.run(one_call(transport, server.url, audio))
                took = time.monotonic() - started
                print(f"run {run} {transport}: {took:.0f} s", file=sys.stderr, flush=True)
    finally:
        server.stop()

    print(f"{'transport':<10} {'n':>3} {'answered':>8} {'p50 ms':>7} {'p90 ms':>7}")
    for transport, values in gaps.items():
        got = [v for v in values if v is not None]
        p50 = percentile(got, 50) if got else float("nan")
        p90 = percentile(got, 90) if got else float("nan")
        print(f"{transport:<10} {len(values):>3} {len(got):>8} {p50:>7.0f} {p90:>7.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
