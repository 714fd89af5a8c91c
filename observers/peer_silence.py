"""Peer silence: tells when a caller's audio stops arriving, i.e. the caller has gone.

A WebRTC caller whose process dies or whose network drops sends nothing more: no
DTLS close, no RTCP BYE. aiortc notices only when ICE consent expires (about 30 s), and
until then Echo keeps speaking to nobody. A connected caller's microphone sends a packet
every 20 ms, muted or not (a muted browser track sends silence), so no caller audio for
``silence_secs`` means the caller is gone. :class:`PeerSilenceObserver` watches the input
transport's ``InputAudioRawFrame`` pushes and fires ``on_peer_silent`` once when they stop
for that long; the server then closes the connection, which ends the call as ``hung_up``.

It arms only once caller audio has arrived, so a caller that never sends audio (a
receive-only client) is never taken for gone.
"""

from __future__ import annotations

import asyncio
import time

from loguru import logger
from pipecat.frames.frames import InputAudioRawFrame
from pipecat.observers.base_observer import BaseObserver, FramePushed
from pipecat.transports.base_input import BaseInputTransport


def peer_gone(last_heard: float | None, now: float, silence_secs: float) -> bool:
    """Whether a caller last heard at ``last_heard`` (monotonic s) is gone by ``now``."""
    return last_heard is not None and now - last_heard >= silence_secs


class PeerSilenceObserver(BaseObserver):
    """Fires ``on_peer_silent(observer, silent_secs)`` once when caller audio stops.

    Event handlers:
        on_peer_silent: ``(observer, silent_secs)``; called once per session.
    """

    def __init__(self, *, silence_secs: float, **kwargs):
        """Create the observer.

        Args:
            silence_secs: Seconds without caller audio after which the caller is gone.
            **kwargs: Passed to ``BaseObserver``.
        """
        super().__init__(observe_every_push=False, **kwargs)
        self._silence_secs = silence_secs
        self._last_heard: float | None = None
        self._task: asyncio.Task | None = None
        self._fired = False
        self._register_event_handler("on_peer_silent")

    async def on_push_frame(self, data: FramePushed):
        """Note the time of each piece of caller audio the input transport pushes."""
        if isinstance(data.frame, InputAudioRawFrame) and isinstance(
            data.source, BaseInputTransport
        ):
            self._last_heard = time.monotonic()
            if self._task is None and not self._fired:
                self._task = self.create_task(self._watch(), name="peer_silence")

    async def _watch(self) -> None:
        interval = min(0.25, self._silence_secs / 4)
        while not peer_gone(self._last_heard, time.monotonic(), self._silence_secs):
            await asyncio.sleep(interval)
        self._fired = True
        self._task = None
        silent = time.monotonic() - (self._last_heard or 0.0)
        logger.info(f"no caller audio for {silent:.1f}s: the caller is gone")
        await self._call_event_handler("on_peer_silent", silent)

    async def cleanup(self):
        """Stop watching."""
        if self._task is not None:
            task, self._task = self._task, None
            await self.cancel_task(task)
        await super().cleanup()
