"""A faulty Gemini Live API for tests: the BidiGenerateContent WebSocket, over TLS.

google-genai connects with ``wss://`` to
``<base>/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent``,
the key in the ``x-goog-api-key`` header; the first message is ``{"setup": {...}}``, which
the server answers with ``{"setupComplete": {}}``; then ``clientContent``,
``realtimeInput`` and ``toolResponse`` messages come in. This server (a loopback port, a
thread of its own, a self-signed certificate the client is told to trust) speaks that much
and injects a fault by ``mode``:

* ``refuse``: HTTP 401 with Google's ``UNAUTHENTICATED`` body at the handshake;
* ``silent``: ``setup`` answered with ``setupComplete``, then nothing ever again;
* ``drop``: as ``silent`` until the first ``clientContent`` (Echo asked for a reply), then
  the session is closed (1011, as the Live API does on an internal error) and every later
  handshake gets HTTP 503 (the reconnect fails).
"""

from __future__ import annotations

import asyncio
import datetime
import ipaddress
import json
import socket
import ssl
import threading
from http import HTTPStatus
from pathlib import Path
from typing import Any

from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

LIVE_PATH = "/ws/google.ai.generativelanguage.v1beta.GenerativeService.BidiGenerateContent"


def self_signed_cert(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and its key, as PEM files in ``directory``."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "fake-gemini.pem", directory / "fake-gemini.key"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


class FaultyGeminiLive:
    """The Live API's WebSocket with a fault, while ``with`` lasts.

    Args:
        directory: Where the certificate is written (``cert_file``: trust it).
        mode: The fault (see the module docstring); can be changed between calls.
    """

    def __init__(self, directory: Path, *, mode: str = "silent"):
        self.mode = mode
        self.cert_file, key_file = self_signed_cert(directory)
        self._ssl = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        self._ssl.load_cert_chain(self.cert_file, key_file)
        self._sock = socket.create_server(("127.0.0.1", 0))
        self.port = self._sock.getsockname()[1]
        self.handshakes = 0
        self.keys: list[str] = []  # the x-goog-api-key of each handshake
        self.paths: list[str] = []
        self.setups: list[dict] = []  # each session's setup message
        self.received: list[str] = []  # the kind of every later message
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def base_url(self) -> str:
        """What ``http_options.base_url`` is set to (google-genai swaps in ``wss``)."""
        return f"https://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        self._loop.run_until_complete(self._serve())

    async def _serve(self) -> None:
        self._stop = asyncio.Event()
        async with serve(self._handle, sock=self._sock, ssl=self._ssl, process_request=self._check):
            self._ready.set()
            await self._stop.wait()

    def _check(self, connection, request):
        self.handshakes += 1
        self.keys.append(request.headers.get("x-goog-api-key", ""))
        self.paths.append(request.path.partition("?")[0])
        if request.path.partition("?")[0] != LIVE_PATH:
            return connection.respond(HTTPStatus.NOT_FOUND, "not found\n")
        if self.mode == "refuse":
            error = {
                "code": 401,
                "message": "API key not valid. Please pass a valid API key.",
                "status": "UNAUTHENTICATED",
            }
            return connection.respond(HTTPStatus.UNAUTHORIZED, json.dumps({"error": error}))
        if self.mode == "down":
            return connection.respond(HTTPStatus.SERVICE_UNAVAILABLE, "unavailable\n")
        return None

    async def _handle(self, ws) -> None:
        try:
            setup = json.loads(await ws.recv())
            self.setups.append(setup.get("setup", {}))
            await ws.send(json.dumps({"setupComplete": {}}))
            async for message in ws:  # answered never (silent), or closed at a request (drop)
                # The API takes proto JSON: google-genai sends snake_case field names.
                kind = _camel(next(iter(json.loads(message)), ""))
                self.received.append(kind)
                if self.mode == "drop" and kind == "clientContent":
                    self.mode = "down"  # the reconnect will be refused
                    await ws.close(1011, "Internal error encountered.")
                    return
        except ConnectionClosed:
            pass  # the client went away (a reconnect, the call's end)

    def __enter__(self) -> FaultyGeminiLive:
        self._thread.start()
        if not self._ready.wait(30):
            raise RuntimeError("the fake Gemini Live API did not start")
        return self

    def __exit__(self, *exc: Any) -> None:
        self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
