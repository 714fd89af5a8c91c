"""What the HTTP and WebSocket API refuses before a route runs: unknown callers, big bodies.

* :class:`ApiToken`: with ``ECHO_API_TOKEN`` set, the bootstrap and admin API (``/api/…``,
  the plain WebSocket ``/ws``) needs ``Authorization: Bearer <token>`` (a WebSocket from a
  browser, which cannot set headers, may send ``?token=`` instead). The page, the health
  probes and Twilio's routes (signed by Twilio, ``X-Twilio-Signature``) stay open.
* :class:`BodyLimit`: 413 for a request body over a limit, before it is parsed.
* :class:`RateLimiter`: at most N events per key a minute (offers per address).
"""

from __future__ import annotations

import collections
import hmac
import json
import time
from urllib.parse import parse_qs

from loguru import logger

PROTECTED_PREFIXES = ("/api/", "/ws")
TOKEN_QUERY = "token"


def presented_token(scope: dict) -> str | None:
    """The token a request carries: its bearer header, or (WebSocket only) ``?token=``."""
    headers = dict(scope.get("headers") or [])
    auth = headers.get(b"authorization", b"").decode("latin-1")
    scheme, _, value = auth.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if scope["type"] == "websocket":
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        return (query.get(TOKEN_QUERY) or [None])[0]
    return None


def token_matches(presented: str | None, token: str) -> bool:
    """Constant-time comparison of the presented token with the configured one."""
    return presented is not None and hmac.compare_digest(presented.encode(), token.encode())


class ApiToken:
    """ASGI middleware: 401 (HTTP) or a refused handshake (WebSocket) without the token.

    Args:
        app: The wrapped ASGI app.
        token: The configured token; None or empty: nothing is checked.
        prefixes: Paths that need it (default: ``/api/`` and ``/ws``).
    """

    def __init__(self, app, *, token: str | None, prefixes: tuple[str, ...] = PROTECTED_PREFIXES):
        self.app, self.token, self.prefixes = app, token or None, prefixes

    def _protected(self, path: str) -> bool:
        return any(path == p.rstrip("/") or path.startswith(p) for p in self.prefixes)

    async def __call__(self, scope, receive, send):
        """Pass the request on, or refuse it without running the route."""
        if (
            self.token is None
            or scope["type"] not in ("http", "websocket")
            or not self._protected(scope["path"])
            or token_matches(presented_token(scope), self.token)
        ):
            return await self.app(scope, receive, send)
        logger.info(f"refused 401 {scope['path']}: no valid API token")
        if scope["type"] == "websocket":
            await receive()  # the websocket.connect message
            await send({"type": "websocket.close", "code": 1008, "reason": "API token required"})
            return
        body = json.dumps(
            {"detail": {"error": "missing or wrong API token: send Authorization: Bearer <token>"}}
        ).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"www-authenticate", b"Bearer"),
        ]
        await send({"type": "http.response.start", "status": 401, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class BodyLimit:
    """ASGI middleware: 413 for a request body over ``limit`` bytes on ``paths``.

    Checks ``Content-Length`` first and counts the bytes of a body sent without one, so an
    oversized body is refused before it is parsed or kept.
    """

    def __init__(self, app, *, limit: int, paths: tuple[str, ...]):
        self.app, self.limit, self.paths = app, limit, paths

    async def __call__(self, scope, receive, send):
        """Pass the request on, or answer 413 once its body is over the limit."""
        if scope["type"] != "http" or scope["path"] not in self.paths:
            return await self.app(scope, receive, send)
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            return await self._refuse(send)
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise _TooLarge
            return message

        try:
            return await self.app(scope, counted, send)
        except _TooLarge:
            return await self._refuse(send)

    async def _refuse(self, send) -> None:
        body = json.dumps({"detail": {"error": f"request body over {self.limit} bytes"}}).encode()
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


class RateLimiter:
    """At most ``per_minute`` events per key in any 60 s (a sliding window of timestamps)."""

    def __init__(self, per_minute: int, *, clock=time.monotonic, max_keys: int = 10_000):
        self.per_minute, self._clock, self._max_keys = per_minute, clock, max_keys
        self._seen: dict[str, collections.deque] = {}

    def allow(self, key: str) -> bool:
        """Count one event for ``key``; False when it is over the limit (not counted then)."""
        now = self._clock()
        recent = self._seen.get(key)
        if recent is None:
            if len(self._seen) >= self._max_keys:  # bounded memory under a spray of addresses
                self._seen.pop(next(iter(self._seen)))
            recent = self._seen[key] = collections.deque()
        while recent and now - recent[0] >= 60.0:
            recent.popleft()
        if len(recent) >= self.per_minute:
            return False
        recent.append(now)
        return True


class _TooLarge(Exception):
    """A streamed body passed the limit."""
