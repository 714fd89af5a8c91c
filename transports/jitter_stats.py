"""Counts what aiortc's audio jitter buffer does to the incoming stream.

aiortc's ``JitterBuffer`` is not a playout buffer: it hands a frame on once ``prefetch``
complete frames are queued behind it, one frame per packet added. A missing packet stops
it until the gap is ``capacity`` packets old, then it skips the gap (``smart_remove``); a
packet older than what was already handed on is dropped. Its Opus decoder has no loss
concealment, so every skipped packet is 20 ms cut out of the audio Pipecat gets.

:class:`CountingJitterBuffer` is that buffer with counters (:class:`JitterStats`): packets,
frames out, frames missing from the output (RTP timestamp jumps), packets dropped late,
packets discarded on overflow, underruns of a real-time reader (the next frame came after
the audio handed on so far would have finished playing), the longest stall and how deep
the buffer ran (each held packet is 20 ms of delay).

Because one frame comes out per packet in, aiortc's buffer never gets shallower: after
one lost or reordered packet it holds ~15 packets (300 ms) for the rest of the call, and
the overflow that ends each wait also throws away the frame before the gap. ``skip_after``
(off by default) gives up on a missing audio packet once that many packets are held
behind it, so a loss costs one frame and the depth stays near ``skip_after``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass

from aiortc.jitterbuffer import MAX_MISORDER, JitterBuffer, JitterFrame
from aiortc.utils import uint16_add

OPUS_CLOCK = 48000
FRAME_TICKS = 960  # 20 ms of Opus at its 48 kHz RTP clock


@dataclass
class JitterStats:
    """Counters of one receiver's jitter buffer (see the module docstring)."""

    packets: int = 0
    frames_out: int = 0
    missing_frames: int = 0  # frames the output skipped (RTP timestamp jumps)
    gaps: int = 0  # places where the output skipped one or more frames
    late: int = 0  # packets older than the frame already handed on: dropped
    duplicates: int = 0
    discarded: int = 0  # packets thrown away unplayed when the buffer overflowed
    skipped: int = 0  # missing packets given up on after ``skip_after`` held behind them
    underruns: int = 0  # a real-time reader would have run dry before the next frame
    max_stall_ms: float = 0.0  # longest time between two frames handed on
    depth_sum: int = 0  # packets held after each add (mean depth = depth_sum / packets)
    max_depth: int = 0

    @property
    def mean_depth(self) -> float:
        """Mean packets held (each one 20 ms of delay)."""
        return self.depth_sum / self.packets if self.packets else 0.0

    def as_dict(self) -> dict:
        """Plain values, with the mean depth, for logs and JSON."""
        out = asdict(self)
        out["max_stall_ms"] = round(self.max_stall_ms, 1)
        out["mean_depth"] = round(self.mean_depth, 2)
        return out


class StreamClock:
    """Output-side counting: timestamp jumps, and a virtual real-time reader's underruns.

    Args:
        frame_secs: Playing time of one frame.
        clock: ``time.monotonic`` (a parameter for tests).
    """

    def __init__(self, stats: JitterStats, frame_secs: float = 0.02, clock=time.monotonic):
        self.stats = stats
        self.frame_secs = frame_secs
        self.clock = clock
        self._last_ts: int | None = None
        self._last_out: float | None = None
        self._play_end: float | None = None  # when the audio handed on so far runs out

    def frame_out(self, timestamp: int) -> None:
        """Count one frame handed on, with its RTP timestamp."""
        s = self.stats
        now = self.clock()
        s.frames_out += 1
        if self._last_ts is not None:
            step = (timestamp - self._last_ts) & 0xFFFFFFFF
            if 0 < step < 0x80000000 and step > FRAME_TICKS:
                s.missing_frames += round(step / FRAME_TICKS) - 1
                s.gaps += 1
        self._last_ts = timestamp
        if self._last_out is not None:
            s.max_stall_ms = max(s.max_stall_ms, (now - self._last_out) * 1000.0)
        self._last_out = now
        if self._play_end is not None and now > self._play_end:
            s.underruns += 1
        start = now if self._play_end is None or now > self._play_end else self._play_end
        self._play_end = start + self.frame_secs


class CountingJitterBuffer(JitterBuffer):
    """aiortc's ``JitterBuffer`` counting into ``self.stats``; optionally skipping gaps sooner.

    Args:
        capacity: Slots (a power of two; aiortc's audio: 16).
        prefetch: Complete frames held back before one is handed on (aiortc's audio: 4).
        is_video: A video buffer (``skip_after`` does not apply: frames span packets).
        skip_after: Give up on a missing audio packet once this many packets are held
            behind it (0: wait until the buffer overflows, as aiortc does).
        clock: ``time.monotonic`` (a parameter for tests).
    """

    def __init__(
        self,
        capacity: int,
        prefetch: int = 0,
        is_video: bool = False,
        skip_after: int = 0,
        clock=None,
    ):
        super().__init__(capacity, prefetch=prefetch, is_video=is_video)
        self.skip_after = 0 if is_video else skip_after
        self.stats = JitterStats()
        self._clock = StreamClock(self.stats, clock=clock or time.monotonic)

    def add(self, packet) -> tuple[bool, JitterFrame | None]:
        """Add a packet (aiortc's logic), counting drops, depth and the frame handed on."""
        s = self.stats
        s.packets += 1
        if self._origin is not None:
            delta = uint16_add(packet.sequence_number, -self._origin)
            misorder = uint16_add(self._origin, -packet.sequence_number)
            if misorder < delta and misorder < MAX_MISORDER:
                s.late += 1
            elif delta < self._capacity:
                held = self._packets[packet.sequence_number % self._capacity]
                if held is not None and held.sequence_number == packet.sequence_number:
                    s.duplicates += 1
        late = s.late
        pli, frame = super().add(packet)
        if frame is None and self.skip_after and s.late == late:
            frame = self._skip_gap()
        depth = sum(p is not None for p in self._packets)
        s.depth_sum += depth
        s.max_depth = max(s.max_depth, depth)
        if frame is not None:
            self._clock.frame_out(frame.timestamp)
        return pli, frame

    def smart_remove(self, count: int) -> bool:
        """Skip ``count`` slots on overflow (aiortc's logic), counting packets thrown away."""
        before = sum(p is not None for p in self._packets)
        wrapped = super().smart_remove(count)
        self.stats.discarded += before - sum(p is not None for p in self._packets)
        return wrapped

    def _skip_gap(self) -> JitterFrame | None:
        """Give up on the first missing packet if ``skip_after`` packets wait behind it."""
        cap = self._capacity
        slots = [self._packets[(self._origin + i) % cap] for i in range(cap)]
        hole = next((i for i, p in enumerate(slots) if p is None), cap)
        if sum(p is not None for p in slots[hole:]) < self.skip_after:
            return None  # not waited long enough (or no gap: prefetch waiting for frames)
        frame = None
        first = self._packets[self._origin % cap]
        if first is not None:  # one packet is one audio frame: hand it on, gap follows
            frame = JitterFrame(data=first._data, timestamp=first.timestamp)
            self.remove(1)
        while self._packets[self._origin % cap] is None:
            self._origin = uint16_add(self._origin, 1)
            self.stats.skipped += 1
        if frame is None:
            frame = self._remove_frame(self._origin)
        return frame
