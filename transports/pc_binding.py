"""WebRTC connections bound to the client that made them.

Each answer to ``POST /api/offer`` carries a ``pc_token``: HMAC-SHA256 of the ``pc_id`` under a
random secret made when the process starts, so nothing about it is stored and no token outlives
the process. Renegotiating a live connection, or trickling ICE candidates to it
(``PATCH /api/offer``), needs that token. A client that cannot send it (Pipecat's JS SmallWebRTC
client PATCHes ``{pc_id, candidates}`` only) is accepted without one only from the address that
made the connection.

:func:`parse_candidate` checks a trickled candidate before aiortc sees it: aiortc's own parser
fails on bad input with a bare ``assert`` or ``int()`` error deep in a request.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import re
import secrets

from aiortc import RTCIceCandidate
from aiortc.sdp import candidate_from_sdp

TOKEN_HEADER = "X-Echo-PC-Token"
CANDIDATE_TYPES = ("host", "srflx", "prflx", "relay")
_MDNS_NAME = re.compile(r"^[A-Za-z0-9-]{1,63}\.local$")  # browsers hide host IPs behind these


class BindingError(Exception):
    """A request for a connection its sender may not touch (``status``: 403 or 404)."""

    def __init__(self, status: int, message: str):
        """Keep the HTTP status with the reason."""
        super().__init__(message)
        self.status = status


class PeerBindings:
    """Which client owns each live ``pc_id``: its token, and the address that made it."""

    def __init__(self, *, secret: bytes | None = None):
        """Start with no live connections.

        Args:
            secret: Key for the tokens (default: 32 random bytes for this process).
        """
        self._secret = secret or secrets.token_bytes(32)
        self._owners: dict[str, str | None] = {}  # live pc_id → remote address that made it

    def token(self, pc_id: str) -> str:
        """The ``pc_token`` for ``pc_id`` (hex HMAC-SHA256)."""
        return hmac.new(self._secret, pc_id.encode(), hashlib.sha256).hexdigest()

    def bind(self, pc_id: str, address: str | None) -> str:
        """Record ``address`` as the owner of live ``pc_id``; returns its token."""
        self._owners[pc_id] = address
        return self.token(pc_id)

    def release(self, pc_id: str) -> None:
        """Forget ``pc_id`` (its call ended)."""
        self._owners.pop(pc_id, None)

    def __contains__(self, pc_id: object) -> bool:
        """Whether ``pc_id`` is a live connection."""
        return pc_id in self._owners

    def authorize(self, pc_id: str, *, token: str | None, address: str | None) -> str:
        """Check a request may act on ``pc_id``.

        Args:
            pc_id: The connection the request names.
            token: The ``pc_token`` it presented, if any.
            address: The address it came from.

        Returns:
            How it was allowed: ``"pc_token"`` or ``"same_address"``.

        Raises:
            BindingError: 404 for a ``pc_id`` that is not live, 403 for a wrong token or for
                no token from another address.
        """
        if pc_id not in self._owners:
            raise BindingError(404, "no live connection with this pc_id")
        if token:
            if not hmac.compare_digest(token.encode(), self.token(pc_id).encode()):
                raise BindingError(403, "pc_token does not match this pc_id")
            return "pc_token"
        owner = self._owners[pc_id]
        if address is not None and owner is not None and address == owner:
            return "same_address"
        raise BindingError(403, "pc_token required: this connection was made from another address")


def parse_candidate(text: str, sdp_mid: str, sdp_mline_index: int) -> RTCIceCandidate | None:
    """A trickled ICE candidate as aiortc takes it, or None for end-of-candidates ("").

    Args:
        text: The candidate line (``candidate:<foundation> <component> <protocol> <priority>
            <address> <port> typ <type> ...``; the ``candidate:`` prefix is optional).
        sdp_mid: The media section's id.
        sdp_mline_index: The media section's index.

    Raises:
        ValueError: A short description of what is wrong with the candidate.
    """
    if not text:
        return None  # RFC 8840 end-of-candidates, as Pipecat's handler reads it
    bits = text.split()
    if len(bits) < 8 or bits[6] != "typ":
        raise ValueError(
            "expected '<foundation> <component> <protocol> <priority> <address> <port> typ <type>'"
        )
    _integer(bits[1], "component", 1, 256)
    _integer(bits[3], "priority", 0, 2**32 - 1)
    _integer(bits[5], "port", 0, 65535)
    if bits[2].lower() not in ("udp", "tcp"):
        raise ValueError("protocol must be udp or tcp")
    if bits[7] not in CANDIDATE_TYPES:
        raise ValueError(f"type must be one of {', '.join(CANDIDATE_TYPES)}")
    try:
        ipaddress.ip_address(bits[4])
    except ValueError:
        if not _MDNS_NAME.match(bits[4]):
            raise ValueError("address must be an IP address or an mDNS .local name") from None
    for name, value in zip(bits[8::2], bits[9::2], strict=False):
        if name == "rport":
            _integer(value, "rport", 0, 65535)
    try:
        candidate = candidate_from_sdp(text)
    except (AssertionError, IndexError, ValueError) as e:  # what aiortc's parser raises
        raise ValueError(f"unreadable candidate ({type(e).__name__})") from None
    candidate.sdpMid = sdp_mid
    candidate.sdpMLineIndex = sdp_mline_index
    return candidate


def _integer(value: str, name: str, low: int, high: int) -> int:
    if not (value.isascii() and value.isdigit()) or not low <= int(value) <= high:
        raise ValueError(f"{name} must be an integer from {low} to {high}")
    return int(value)
