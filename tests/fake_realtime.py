"""A cloud Realtime API for tests: Echo's offline Realtime server behind a faulty proxy.

The upstream is Echo's own OpenAI-Realtime-compatible server (:mod:`realtime.local`), so
the wire protocol is the real one. The proxy in front of it (a WebSocket server on a
loopback port, in a thread of its own) injects the faults a cloud provider has, by
``mode``:

* ``ok``: every event forwarded both ways;
* ``refuse``: HTTP 401 with OpenAI's ``invalid_api_key`` body at the handshake;
* ``silent``: the socket is accepted, nothing is ever answered;
* ``drop``: forwarded until the next response has started, then the TCP connection is
  aborted and every later handshake gets HTTP 503 (the one reconnect fails).
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
from http import HTTPStatus
from typing import Any

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed


class FaultyRealtime:
    """Echo's offline Realtime server behind a fault-injecting proxy, while ``with`` lasts.

    Args:
        settings: Echo settings for the upstream server.
        models: The ``LocalModels`` the upstream server uses.
        mode: The fault (see the module docstring); can be changed between calls.
    """

    def __init__(self, settings: Any, models: Any, *, mode: str = "ok"):
        self.settings = settings
        self.models = models
        self.mode = mode
        # Bound now (the URL is known before the thread starts), served by the thread.
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.handshakes = 0
        self._upstream: Any = None
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/v1/realtime"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        from realtime.local import create_server

        self._stop = asyncio.Event()
        self._upstream = create_server(self.settings, models=self.models)
        await self._upstream.start()
        async with serve(self._handle, sock=self._sock, process_request=self._check, max_size=None):
            self._ready.set()
            await self._stop.wait()
        await self._upstream.close()

    def _check(self, connection, request):
        self.handshakes += 1
        if self.mode == "refuse":
            error = {
                "type": "invalid_request_error",
                "code": "invalid_api_key",
                "message": "Incorrect API key provided.",
            }
            return connection.respond(HTTPStatus.UNAUTHORIZED, json.dumps({"error": error}))
        if self.mode == "down":
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "unavailable\n")
        return None

    async def _handle(self, ws) -> None:
        if self.mode == "silent":
            async for _ in ws:  # accepted, never answered
                pass
            return
        target = self._upstream.url + "?" + ws.request.path.partition("?")[2]
        async with connect(target, max_size=None) as up:

            async def client_to_server():
                async for message in ws:
                    await up.send(message)

            async def server_to_client():
                async for message in up:
                    if self.mode == "drop" and '"response.created"' in message:
                        self.mode = "down"  # the reconnect will be refused
                        ws.transport.abort()  # the network drops: no close handshake
                        return
                    await ws.send(message)

            tasks = [
                asyncio.create_task(client_to_server()),
                asyncio.create_task(server_to_client()),
            ]
            try:
                await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            except ConnectionClosed:
                pass
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    def __enter__(self) -> FaultyRealtime:
        self._thread.start()
        if not self._ready.wait(60):
            raise RuntimeError("the fake Realtime API did not start")
        return self

    def __exit__(self, *exc) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
