"""Who the caller is, as the host application vouches: signed, expiring patient tokens.

A clinic line reads or changes a patient's appointments only for an identified caller. A
host application that has already signed its user in (a patient portal) can say so with a
token it signs with the shared secret ``ECHO_PATIENT_TOKEN_SECRET``::

    token = make_token("patient-123", secret, ttl_secs=600)   # "patient-123.1764600000.<hmac>"

and pass it as ``request_data.patient_token`` in the offer. Echo checks the HMAC-SHA256 and the
expiry; a bare ``request_data.patient_id`` is never trusted (the caller is then identified in
the conversation, by name and date of birth). Ids are short printable text.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from typing import Any

_ID_RE = re.compile(r"[A-Za-z0-9_\-:@.]{1,64}")
MAX_TOKEN_CHARS = 256


class TokenError(ValueError):
    """The patient token is malformed, forged or expired (the message says which)."""


def _sign(secret: str, payload: str) -> str:
    return hmac.new(secret.encode(), payload.encode(), hashlib.sha256).hexdigest()


def make_token(
    patient_id: str, secret: str, *, ttl_secs: float = 600, now: float | None = None
) -> str:
    """A token vouching for ``patient_id`` until ``ttl_secs`` from now."""
    if not _ID_RE.fullmatch(patient_id) or "." in patient_id:
        raise ValueError("patient_id must be 1-64 letters, digits or _-:@ (no dots)")
    expires = int((now if now is not None else time.time()) + ttl_secs)
    payload = f"{patient_id}.{expires}"
    return f"{payload}.{_sign(secret, payload)}"


def verify_token(token: Any, secret: str, *, now: float | None = None) -> str:
    """The patient id a valid, unexpired token vouches for.

    Raises:
        TokenError: Not a string of the right shape, a wrong signature, or expired.
    """
    if not isinstance(token, str) or len(token) > MAX_TOKEN_CHARS:
        raise TokenError("patient_token must be a string of at most 256 characters")
    parts = token.split(".")
    if len(parts) != 3 or not _ID_RE.fullmatch(parts[0]) or not parts[1].isdigit():
        raise TokenError("patient_token is malformed")
    patient_id, expires, signature = parts
    if not hmac.compare_digest(_sign(secret, f"{patient_id}.{expires}"), signature):
        raise TokenError("patient_token signature does not match")
    if int(expires) < (now if now is not None else time.time()):
        raise TokenError("patient_token has expired")
    return patient_id


def vouched_patient(request_data: Any, secret: str | None) -> str | None:
    """The patient id vouched for by ``request_data.patient_token``, or None when there is none.

    A ``patient_id`` without a token is ignored on purpose.

    Raises:
        TokenError: A token was given but is not valid (or no secret is configured for it).
    """
    token = request_data.get("patient_token") if isinstance(request_data, dict) else None
    if token is None:
        return None
    if not secret:
        raise TokenError("patient tokens are not accepted: ECHO_PATIENT_TOKEN_SECRET is not set")
    return verify_token(token, secret)
