"""The jitter bench's pure parts, the counting jitter buffer, and (as root) the emulated path."""

import asyncio
import json
import random
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
from aiortc.rtp import RtpPacket

from benchmarks.jitter_bench import (
    CONDITIONS,
    Cell,
    _conditions,
    arrival_stalls,
    format_table,
    parse_server_stats,
    percentile,
    summarize,
    write_reports,
)
from benchmarks.netem import Impairment, NetemLink, netns_permitted
from tests.test_jitter import connected_pair
from transports import audio_jitter_stats
from transports.jitter_stats import FRAME_TICKS, CountingJitterBuffer, JitterStats, StreamClock


def packet(seq: int) -> RtpPacket:
    p = RtpPacket(payload_type=111, sequence_number=seq % 65536, timestamp=seq * FRAME_TICKS)
    p._data = b"\x01"
    return p


def feed(buffer: CountingJitterBuffer, seqs) -> list[int]:
    out = []
    for seq in seqs:
        _, frame = buffer.add(packet(seq))
        if frame is not None:
            out.append(frame.timestamp // FRAME_TICKS)
    return out


def test_in_order_stream_is_counted_clean():
    buffer = CountingJitterBuffer(16, prefetch=1)
    out = feed(buffer, range(100, 150))
    s = buffer.stats
    assert out == list(range(100, 149))  # one frame held back
    assert (s.packets, s.frames_out, s.missing_frames, s.late, s.discarded) == (50, 49, 0, 0, 0)
    assert s.max_depth == 1 and s.mean_depth == 1.0


def test_a_lost_packet_stalls_until_overflow_then_counts_missing():
    buffer = CountingJitterBuffer(16, prefetch=1)
    seqs = [s for s in range(0, 60) if s != 10]
    out = feed(buffer, seqs)
    s = buffer.stats
    assert 10 not in out and out == sorted(out)
    # the frame before the gap is never closed (its end is seen on the next packet): the
    # overflow throws it away with the gap, so one packet lost costs two frames
    assert 9 not in out and s.missing_frames == 2 and s.gaps == 1 and s.discarded == 1
    # aiortc waits for the gap until it is a full buffer old, then keeps that depth
    assert s.max_depth == 15 and buffer.stats.mean_depth > 5


def test_late_and_duplicate_packets_are_counted():
    buffer = CountingJitterBuffer(16, prefetch=1)
    feed(buffer, range(0, 10))
    feed(buffer, [3, 9])  # 3 was handed on already; 9 is held
    assert buffer.stats.late == 1 and buffer.stats.duplicates == 1


def test_a_reordered_pair_deepens_the_buffer_for_good():
    buffer = CountingJitterBuffer(16, prefetch=1)
    out = feed(buffer, [0, 1, 2, 4, 3] + list(range(5, 30)))
    assert out == list(range(0, 28)) and buffer.stats.missing_frames == 0
    assert buffer.stats.depth_sum / buffer.stats.packets > 1.5  # one frame out per packet in


def test_stream_clock_counts_underruns_and_stalls():
    now = [0.0]
    stats = JitterStats()
    clock = StreamClock(stats, clock=lambda: now[0])
    for k, t in enumerate([0.0, 0.02, 0.04, 0.20, 0.20, 0.20, 0.22]):
        now[0] = t
        clock.frame_out(k * FRAME_TICKS)
    clock.frame_out(10 * FRAME_TICKS)  # three frames skipped
    assert stats.underruns == 1  # the reader ran dry before 0.20
    assert stats.max_stall_ms == pytest.approx(160.0)
    assert stats.missing_frames == 3 and stats.gaps == 1 and stats.frames_out == 8


def test_impairment_draws_loss_and_clips_negative_delay():
    rng = random.Random(1)
    lossy = Impairment("x", 40.0, 30.0, 0.02)
    draws = [lossy.draw(rng) for _ in range(20000)]
    lost = sum(d is None for d in draws) / len(draws)
    held = [d for d in draws if d is not None]
    assert 0.015 < lost < 0.025
    assert min(held) == 0.0 and 0.038 < float(np.mean(held)) < 0.045
    assert Impairment("clean").draw(rng) == 0.0
    assert "loss 2%" in lossy.describe() and Impairment("clean").describe() == "none"


def test_server_log_lines_parse_in_order():
    text = "\n".join(
        [
            "01:00 | INFO | transports:_log:1 - audio jitter buffer: " + json.dumps({"packets": 3}),
            "01:01 | INFO | something else",
            "01:02 | INFO | transports:_log:1 - audio jitter buffer: {broken",
            "01:03 | INFO | transports:_log:1 - audio jitter buffer: " + json.dumps({"packets": 9}),
        ]
    )
    assert parse_server_stats(text) == [{"packets": 3}, {"packets": 9}]


def test_summary_table_and_reports(tmp_path):
    server = JitterStats(packets=100, frames_out=95, missing_frames=5, depth_sum=300).as_dict()
    cell = Cell(1, "j30-l2", server=server, client=JitterStats().as_dict(), client_stalls=2)
    cell.turns = [
        {"prompt_id": "a", "wer": 0.0, "gap_ms": 700.0, "server_turns": 1},
        {"prompt_id": "b", "wer": 0.5, "gap_ms": 900.0, "server_turns": 1},
        {"prompt_id": "c", "wer": 1.0, "gap_ms": None, "server_turns": 0},
    ]
    row = summarize(cell)
    assert row["srv_missing"] == 5 and row["srv_missing_pct"] == 5.0
    assert row["srv_depth_ms"] == 60.0 and row["wer"] == 0.5 and row["answered"] == "2/3"
    assert row["gap_p50_ms"] == 800.0 and row["gap_p90_ms"] == 880.0
    table = format_table([row, summarize(Cell(4, "clean", error="caller exited 1"))])
    assert "j30-l2" in table and "clean" in table and len(table.splitlines()) == 4
    write_reports(tmp_path, [cell], {"started": "now"})
    assert (tmp_path / "jitter.csv").read_text().startswith("prefetch,skip_after,condition")
    assert json.loads((tmp_path / "jitter.json").read_text())["summary"][0]["prefetch"] == 1


def test_small_helpers():
    assert percentile([], 50) is None and percentile([1.0, 3.0], 50) == 2.0
    assert arrival_stalls([0.0, 0.02, 0.2, 0.22, 0.4]) == 2
    assert _conditions("clean,j30-l2") == ["clean", "j30-l2"]
    with pytest.raises(Exception, match="unknown condition"):
        _conditions("clean,wifi")
    assert set(CONDITIONS) >= {"clean", "j30-l2", "j60-l2"}


async def test_counters_of_a_real_connection():
    sender, receiver, mic, got, changed = await connected_pair(1)
    try:
        (stats,) = audio_jitter_stats(receiver_holder := type("C", (), {"pc": receiver})())
        assert changed == 1 and receiver_holder.pc is receiver
        mic.play(np.zeros(48000 // 2, dtype=np.int16), 48000)
        for _ in range(100):
            if stats.frames_out >= 20:
                break
            await asyncio.sleep(0.05)
        assert stats.frames_out >= 20 and stats.missing_frames == 0 and stats.late == 0
    finally:
        await sender.close()
        await receiver.close()


UDP_ECHO_CLIENT = """
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(2)
t = time.monotonic()
s.sendto(b"ping", (sys.argv[1], int(sys.argv[2])))
s.recvfrom(16)
print(time.monotonic() - t)
"""


@pytest.mark.skipif(not netns_permitted(), reason="needs root and `ip netns`")
def test_emulated_path_delays_and_cleans_up():
    name = "echo-jtest"
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    with NetemLink(name, host_addr="10.78.0.1", peer_addr="10.78.0.2") as link:
        link.set_condition(Impairment("slow", 30.0))
        server.bind(("10.78.0.1", 0))
        server.settimeout(5)
        port = server.getsockname()[1]
        proc = subprocess.Popen(
            ["ip", "netns", "exec", name, sys.executable, "-c", UDP_ECHO_CLIENT]
            + ["10.78.0.1", str(port)],
            stdout=subprocess.PIPE,
            text=True,
        )
        data, addr = server.recvfrom(16)
        server.sendto(data, addr)
        rtt = float(proc.communicate(timeout=10)[0])
        assert addr[0] == "10.78.0.2" and rtt >= 0.055
        assert link.forwarded["to_host"] >= 1
    server.close()
    time.sleep(0.2)
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert name not in listed.split()


def test_skip_after_gives_up_on_a_gap_early():
    buffer = CountingJitterBuffer(16, prefetch=1, skip_after=2)
    out = feed(buffer, [s for s in range(0, 60) if s not in (10, 30, 31)])
    s = buffer.stats
    assert 9 in out and 10 not in out and out == sorted(out)
    assert s.missing_frames == 3 and s.skipped == 3 and s.discarded == 0
    assert s.max_depth <= 3 and s.mean_depth <= 2.0  # aiortc alone: 15


def test_skip_after_leaves_a_gapless_stream_and_prefetch_alone():
    for prefetch in (1, 4):
        plain = feed(CountingJitterBuffer(16, prefetch=prefetch), range(0, 40))
        skipping = CountingJitterBuffer(16, prefetch=prefetch, skip_after=2)
        assert feed(skipping, range(0, 40)) == plain and skipping.stats.skipped == 0
    reordered = CountingJitterBuffer(16, prefetch=1, skip_after=3)
    # a swap within skip_after is waited for (and, one frame out per packet in, deepens it)
    assert feed(reordered, [0, 1, 2, 4, 3, 5, 6]) == [0, 1, 2, 3, 4]
    assert reordered.stats.skipped == 0 and reordered.stats.late == 0


def test_skip_after_counts_only_packets_behind_the_gap():
    buffer = CountingJitterBuffer(16, prefetch=1, skip_after=2)
    assert feed(buffer, [0, 1, 3]) == [0]  # 2 is missing, only one packet behind it
    assert feed(buffer, [2]) == [1] and buffer.stats.skipped == 0  # arrived in time
    assert feed(buffer, [5, 6]) == [2, 3] and buffer.stats.skipped == 1  # 4 given up
