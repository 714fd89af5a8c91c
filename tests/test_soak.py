"""The soak benchmark's summary, and the runtime's memory release after sessions end."""

import asyncio

import pytest

from benchmarks.soak import SoakSample, slope_per_hour, summarize, summary_table
from memory import MemoryRelease


def sample(secs, rss, *, phase="calls", fds=20, tasks=None):
    return SoakSample(
        secs=secs,
        phase=phase,
        calls_completed=0,
        calls_failed=0,
        sessions=1,
        rss_mb=rss,
        fds=fds,
        udp_sockets=2,
        threads=30,
        tasks=tasks,
    )


def test_slope_is_per_hour():
    assert slope_per_hour([(0, 500.0), (1800, 510.0), (3600, 520.0)]) == pytest.approx(20.0)
    assert slope_per_hour([(0, 1.0)]) == 0.0
    assert slope_per_hour([(5, 1.0), (5, 3.0)]) == 0.0


def test_first_and_last_ten_minutes_of_an_hour():
    # An hour sampled every 30 s: RSS rises 60 MB/h; FDs flat; a spike in the middle.
    samples = [sample(0, 400, phase="start")]
    samples += [sample(t, 500 + t / 60, fds=20) for t in range(30, 3601, 30)]
    samples[60].fds = 90
    samples.append(sample(3620, 480, phase="idle"))
    summary = summarize(samples)
    assert summary.window_secs == 600
    rss = summary.trends["rss_mb"]
    assert rss.per_hour == pytest.approx(60.0)
    assert rss.first == pytest.approx(505.5)  # median of 30..630 s, the start/idle left out
    assert rss.last == pytest.approx(555.0)
    assert rss.change == pytest.approx(49.5)
    fds = summary.trends["fds"]
    assert fds.first == fds.last == 20 and fds.change == 0
    assert "tasks" not in summary.trends  # never counted
    table = summary_table(summary)
    assert "| rss_mb |" in table and "+60.0" in table


def test_short_run_windows_do_not_overlap():
    samples = [sample(t, 500.0, tasks=40) for t in (0, 30, 60, 90, 120, 150, 180)]
    summary = summarize(samples, window_secs=600)
    assert summary.window_secs == pytest.approx(60)  # a third of 180 s
    assert summary.trends["tasks"].change == 0 and summary.trends["rss_mb"].per_hour == 0


def test_no_sample_during_calls_is_an_error():
    with pytest.raises(ValueError, match="no sample"):
        summarize([sample(0, 500, phase="start")])


async def test_memory_release_trims_only_when_idle_and_shares_one_pass():
    trims = []
    busy = [True]
    memory = MemoryRelease(busy=lambda: busy[0], delay_secs=0.05, trim=trims.append)
    memory.session_ended()
    await asyncio.sleep(0.15)
    assert memory.passes == 1 and trims == []  # a call was still live: collected, no trim
    busy[0] = False
    for _ in range(3):  # three sessions end close together: one pass
        memory.session_ended()
    await asyncio.sleep(0.2)
    assert memory.passes == 2 and trims == [0]
    memory.session_ended()
    await memory.close()  # a waiting pass is cancelled
    assert memory.passes == 2
