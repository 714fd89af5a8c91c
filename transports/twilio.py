"""Twilio Media Streams: request signatures, TwiML, the stream handshake and the serializer.

Pure functions (signature, TwiML, handshake parsing) plus :class:`EchoTwilioSerializer`, a
thin subclass of Pipecat's ``TwilioFrameSerializer`` that ends the session when Twilio
says ``stop``, never hangs up a call that already ended, and drops malformed events with a
warning instead of ending the call. The HTTP routes are in ``transports.telephony``.

Wire protocol (https://www.twilio.com/docs/voice/media-streams/websocket-messages): Twilio
sends ``connected``, ``start`` (``streamSid``, ``callSid``, ``customParameters``), then
``media`` (base64 8 kHz μ-law, 20 ms per event), ``dtmf``, ``mark`` (echo of a mark we
sent, once played) and finally ``stop``; we send ``media``, ``mark`` and ``clear``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit
from xml.sax.saxutils import escape, quoteattr

from loguru import logger
from pipecat.frames.frames import CancelWorkerFrame, Frame
from pipecat.serializers.twilio import TwilioFrameSerializer

SIGNATURE_HEADER = "X-Twilio-Signature"
MAX_HANDSHAKE_MESSAGES = 4  # "connected", then "start"; a little slack for stray events


class TwilioHandshakeError(ValueError):
    """The media stream did not open with a valid ``start`` event."""


# --- request signatures ------------------------------------------------------------------


def twilio_signature(auth_token: str, url: str, params: Iterable[tuple[str, str]] = ()) -> str:
    """Twilio's request signature: base64 HMAC-SHA1 over the URL and sorted POST params.

    The URL is the full URL Twilio requested (scheme, host, path, query string); each POST
    parameter's name and value are appended to it, sorted by name, without separators
    (https://www.twilio.com/docs/usage/security#validating-requests).

    Args:
        auth_token: The account's auth token (the HMAC key).
        url: The URL as Twilio requested it.
        params: Form-encoded POST parameters (empty for GET and WebSocket requests).
    """
    data = url + "".join(name + value for name, value in sorted(params))
    digest = hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def url_variants(url: str) -> list[str]:
    """The URL as given, with the default port removed and with it added.

    Twilio signs the URL it was configured with; a proxy may add or drop ``:443`` on the
    way, so Twilio's own validators accept either form.
    """
    parts = urlsplit(url)
    default = {"https": 443, "wss": 443, "http": 80, "ws": 80}.get(parts.scheme)
    host = parts.hostname or ""
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    without = urlunsplit(parts._replace(netloc=host))
    with_port = urlunsplit(parts._replace(netloc=f"{host}:{parts.port or default}"))
    variants = [url]
    for candidate in (without, with_port):
        if candidate not in variants and (parts.port in (None, default)):
            variants.append(candidate)
    return variants


def signature_is_valid(
    auth_token: str,
    url: str,
    params: Iterable[tuple[str, str]],
    signature: str | None,
) -> bool:
    """Whether ``signature`` is Twilio's signature of this request (constant-time compare)."""
    if not signature:
        return False
    items = list(params)
    return any(
        hmac.compare_digest(twilio_signature(auth_token, candidate, items), signature)
        for candidate in url_variants(url)
    )


# --- TwiML -------------------------------------------------------------------------------


def connect_stream_twiml(stream_url: str, parameters: Mapping[str, str]) -> str:
    """TwiML that connects the call to a bidirectional media stream at ``stream_url``.

    Custom values travel as ``<Parameter>`` nouns: Twilio hands them back in the ``start``
    event's ``customParameters`` (its ``<Stream>`` URL does not carry a query string).
    """
    nouns = "".join(
        f"<Parameter name={quoteattr(name)} value={quoteattr(value)}/>"
        for name, value in parameters.items()
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Response><Connect><Stream url={quoteattr(stream_url)}>{nouns}</Stream></Connect>"
        "</Response>"
    )


def reject_twiml(message: str) -> str:
    """TwiML that tells the caller ``message`` and hangs up (e.g. every line busy)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f"<Response><Say>{escape(message)}</Say><Hangup/></Response>"
    )


# --- stream handshake --------------------------------------------------------------------


@dataclass(frozen=True)
class StreamStart:
    """What Twilio's ``start`` event says about the call."""

    stream_sid: str
    call_sid: str | None
    account_sid: str | None
    custom_parameters: dict[str, str] = field(default_factory=dict)
    media_format: dict = field(default_factory=dict)


def parse_start(messages: Iterable[str]) -> StreamStart:
    """Find and check the ``start`` event among the first messages of a media stream.

    Raises:
        TwilioHandshakeError: A message is not JSON, or there is no ``start`` with a
            ``streamSid`` and 8 kHz μ-law media.
    """
    for raw in messages:
        try:
            message = json.loads(raw)
        except (TypeError, ValueError) as e:
            raise TwilioHandshakeError(f"stream message is not JSON ({len(raw)} chars)") from e
        if not isinstance(message, dict) or message.get("event") != "start":
            continue
        start = message.get("start") or {}
        stream_sid = start.get("streamSid") or message.get("streamSid")
        if not stream_sid:
            raise TwilioHandshakeError("'start' event has no streamSid")
        media = start.get("mediaFormat") or {}
        encoding = media.get("encoding", "audio/x-mulaw")
        rate = int(media.get("sampleRate", 8000))
        if encoding != "audio/x-mulaw" or rate != 8000:
            raise TwilioHandshakeError(f"unsupported media format {encoding} at {rate} Hz")
        return StreamStart(
            stream_sid=stream_sid,
            call_sid=start.get("callSid"),
            account_sid=start.get("accountSid"),
            custom_parameters={
                str(k): str(v) for k, v in (start.get("customParameters") or {}).items()
            },
            media_format=media,
        )
    raise TwilioHandshakeError("stream did not open with a 'start' event")


# --- serializer --------------------------------------------------------------------------


class EchoTwilioSerializer(TwilioFrameSerializer):
    """Pipecat's Twilio serializer, made robust for a live call.

    - ``stop`` (the caller hung up) becomes a ``CancelWorkerFrame``: the session ends at
      once instead of waiting for the socket to close, and no REST hang-up is attempted
      for a call that is already over.
    - A malformed event (bad JSON, bad base64) is dropped with a warning naming its size,
      never its content; the call goes on.
    - ``mark`` echoes are logged by name at DEBUG.
    """

    @classmethod
    def for_call(
        cls,
        *,
        stream_sid: str,
        call_sid: str | None = None,
        account_sid: str | None = None,
        auth_token: str | None = None,
        api_base_url: str | None = None,
        **_,
    ) -> EchoTwilioSerializer:
        """A serializer for one call; hangs up through Twilio's REST API when it can.

        Args:
            stream_sid: The ``start`` event's ``streamSid``.
            call_sid: The ``start`` event's ``callSid``.
            account_sid: ``TWILIO_ACCOUNT_SID`` (with ``auth_token``: hang up when the bot
                ends the call).
            auth_token: ``TWILIO_AUTH_TOKEN``.
            api_base_url: Twilio REST API root (default: Twilio's own).
        """
        hang_up = bool(call_sid and account_sid and auth_token)
        return cls(
            stream_sid,
            call_sid,
            account_sid if hang_up else None,
            auth_token if hang_up else None,
            base_url=api_base_url,
            params=TwilioFrameSerializer.InputParams(auto_hang_up=hang_up),
        )

    async def deserialize(self, data: str | bytes) -> Frame | None:
        """Turn one Twilio event into a frame (None for events with no frame)."""
        try:
            message = json.loads(data)
        except (TypeError, ValueError):
            logger.warning(f"Twilio: dropped a non-JSON stream message ({len(data)} chars)")
            return None
        if not isinstance(message, dict):
            logger.warning("Twilio: dropped a stream message that is not a JSON object")
            return None
        event = message.get("event")
        if event == "stop":
            self._hangup_attempted = True  # the call is over: nothing to hang up
            return CancelWorkerFrame(reason="caller hung up (Twilio 'stop')")
        if event == "mark":
            name = (message.get("mark") or {}).get("name", "")
            logger.debug(f"Twilio: mark {name!r} played")
            return None
        try:
            return await super().deserialize(data)
        except (binascii.Error, ValueError, TypeError) as e:
            kind = f"{type(e).__module__}.{type(e).__name__}"
            logger.warning(f"Twilio: dropped a malformed '{event}' event: {kind}")
            return None


def dial_twiml(number: str, message: str = "Connecting you now.") -> str:
    """TwiML that says ``message`` and dials ``number`` (a hand-off to a person)."""
    return f"<Response><Say>{escape(message)}</Say><Dial>{escape(number)}</Dial></Response>"


async def transfer_call(
    *,
    account_sid: str,
    auth_token: str,
    call_sid: str,
    number: str,
    api_base_url: str | None = None,
) -> None:
    """Move a live call to ``number``: Twilio's Calls API with new TwiML for the call.

    Twilio then leaves the ``<Connect><Stream>`` (the stream gets ``stop``, which ends the
    session) and dials the number.

    Raises:
        RuntimeError: Twilio refused (the message has its status and error text).
    """
    import aiohttp
    from pipecat.serializers.twilio import _build_call_resource_url

    url = _build_call_resource_url(account_sid, call_sid, base_url=api_base_url)
    auth = aiohttp.BasicAuth(account_sid, auth_token)
    async with aiohttp.ClientSession() as http:
        async with http.post(url, data={"Twiml": dial_twiml(number)}, auth=auth) as response:
            if response.status >= 300:
                text = (await response.text())[:200]
                raise RuntimeError(f"Twilio refused the transfer: {response.status} {text}")
    logger.info(f"Twilio call {call_sid}: transferred to a person")
