"""Memory an ended session held, freed and given back to the OS when the server is idle.

An Echo server builds a whole pipeline per call (VAD and smart-turn ONNX sessions with their
threads, processors, the aiortc connection); when the call ends, that graph sits in reference
cycles that only Python's cyclic collector frees, and glibc keeps the freed pages. Without a
release, an offer flood left RSS at its peak (508 MB -> 1.8 GB) and each soak call added
~45 MB. :class:`MemoryRelease` runs one collection pass after sessions end and, when no call
is live, ``malloc_trim(0)``; :func:`freeze_startup_objects` keeps those passes short.
"""

from __future__ import annotations

import asyncio
import ctypes
import ctypes.util
import gc
import time

from loguru import logger

RELEASE_DELAY_SECS = 1.0  # after a session's end: its transport closed, its task gone

_frozen = False


def freeze_startup_objects() -> None:
    """Hide what start-up built from the cyclic collector, once per process (``gc.freeze``).

    Modules, models and stores live as long as the process, yet a full collection walked
    them all each time (~300 ms on 2 cores, the event loop stopped); frozen, it walks only
    what live sessions hold. Frozen objects are never collected as cycles: first runtime only.
    """
    global _frozen
    if not _frozen:
        gc.collect()
        gc.freeze()
        _frozen = True


def load_malloc_trim():
    """The C library's ``malloc_trim`` (glibc), or ``None`` where there is none."""
    try:
        trim = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim
    except (OSError, AttributeError):
        return None
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return trim


class MemoryRelease:
    """Frees what ended sessions held, and gives it back to the OS when the server is idle.

    A session's pipeline (VAD and smart-turn ONNX sessions with their threads, processors,
    the aiortc connection) sits in reference cycles: only the cyclic collector frees it,
    and glibc keeps the freed pages. ``delay_secs`` after a session ends, one pass collects
    the cycles (30-50 ms with a call live on 2 shared cores: start-up objects are frozen),
    so the next sessions reuse the memory; if no call is live or starting, it also runs
    ``malloc_trim(0)`` in a thread.
    Not during calls: the trim holds glibc's arena locks (~100 ms after a flood), stalling
    the event loop's allocations. Sessions ending while a pass waits share it.
    """

    def __init__(self, *, busy, delay_secs: float = RELEASE_DELAY_SECS, trim=None):
        """Initialize.

        Args:
            busy: Callable: whether a call is live or starting (no trim then).
            delay_secs: Wait after a session's end before a pass.
            trim: ``malloc_trim``-like callable (default: glibc's; none: collect only).
        """
        self.delay_secs = delay_secs
        self._busy = busy
        self._trim = trim if trim is not None else load_malloc_trim()
        self._task: asyncio.Task | None = None
        self._again = False
        self.passes = 0

    def session_ended(self) -> None:
        """Schedule a pass (or join the one waiting)."""
        if self._task is not None and not self._task.done():
            self._again = True
            return
        self._task = asyncio.get_running_loop().create_task(self._wait_and_release())

    async def _wait_and_release(self) -> None:
        while True:
            self._again = False
            await asyncio.sleep(self.delay_secs)
            await self.release(trim=not self._busy())
            if not self._again:
                return

    async def release(self, *, trim: bool = True) -> None:
        """Collect the cycles, then (``trim``) trim the C heap in a thread."""
        start = time.perf_counter()
        collected = gc.collect()
        collected_at = time.perf_counter()
        trimmed = trim and self._trim is not None
        if trimmed:
            await asyncio.to_thread(self._trim, 0)
        self.passes += 1
        trim_ms = (time.perf_counter() - collected_at) * 1000
        logger.info(
            f"memory release: {collected} objects collected in "
            f"{(collected_at - start) * 1000:.0f} ms"
            + (f", malloc_trim {trim_ms:.0f} ms" if trimmed else " (calls live: no trim)")
        )

    async def close(self) -> None:
        """Cancel a waiting pass."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
