"""The base of the fake providers: an aiohttp app on a loopback port, in a thread of its own.

A test double for a cloud API subclasses :class:`LoopbackApp`, adds its routes in
:meth:`LoopbackApp.routes` and speaks that provider's real wire protocol there; the thread,
its event loop, start-up and shutdown are here once.
"""

from __future__ import annotations

import asyncio
import threading

from aiohttp import web

from tests.conftest import free_port


class LoopbackApp:
    """An aiohttp app served on ``127.0.0.1:<port>`` while the ``with`` block lasts."""

    client_max_size = 1024**2  # request bodies aiohttp accepts

    def __init__(self):
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._ready = threading.Event()
        self._runner: web.AppRunner | None = None

    def routes(self, app: web.Application) -> None:
        """Add the provider's routes to ``app``."""
        raise NotImplementedError

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application(client_max_size=self.client_max_size)
        self.routes(app)
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        self._loop.run_until_complete(site.start())
        self._ready.set()
        self._loop.run_forever()

    def __enter__(self):
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
