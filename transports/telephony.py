"""Phone calls over Twilio Media Streams: the voice webhook and the media WebSocket.

Point a Twilio number's "A call comes in" webhook at ``POST https://HOST/telephony/twilio``
(optionally ``?pipeline=NAME``). Echo answers with TwiML that connects the call to its own
``wss://HOST/telephony/twilio/stream``; Twilio then streams the caller's 8 kHz μ-law audio
there and plays back what Echo sends. The variant comes from ``?pipeline=`` on the webhook,
else ``ECHO_TELEPHONY_PIPELINES`` (called number → variant), else the default; it reaches
the stream as a ``<Parameter>`` (Twilio's ``<Stream>`` URL carries no query string), and
``?pipeline=`` on the stream URL itself is honoured for other clients.

With ``TWILIO_AUTH_TOKEN`` set, both requests must carry a valid ``X-Twilio-Signature``
(403 otherwise). ``HOST`` is ``ECHO_PUBLIC_URL`` when set (behind a tunnel or proxy), else
the request's ``X-Forwarded-Host`` / ``Host`` and ``X-Forwarded-Proto``.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse, Response
from loguru import logger

from config import EchoSettings
from transports.routes import (
    BUSY,
    VariantError,
    choose_variant,
    refuse,
    run_websocket_session,
    too_many_sessions,
)
from transports.twilio import (
    MAX_HANDSHAKE_MESSAGES,
    SIGNATURE_HEADER,
    TwilioHandshakeError,
    connect_stream_twiml,
    parse_start,
    reject_twiml,
    signature_is_valid,
    transfer_call,
)

WEBHOOK_PATH = "/telephony/twilio"
STREAM_PATH = "/telephony/twilio/stream"
MAX_WEBHOOK_BYTES = 64 * 1024
HANDSHAKE_TIMEOUT_SECS = 10.0
BUSY_MESSAGE = "Sorry, all our lines are busy. Please call again in a few minutes."
XML = "application/xml"


def public_base(settings: EchoSettings, headers, scheme: str, netloc: str) -> str:
    """``https://host[:port]`` as the outside world (Twilio) sees this server."""
    if settings.public_url:
        return settings.public_url.rstrip("/")
    proto = (headers.get("x-forwarded-proto") or scheme).split(",")[0].strip()
    proto = {"ws": "http", "wss": "https"}.get(proto, proto)
    host = (headers.get("x-forwarded-host") or headers.get("host") or netloc).split(",")[0]
    return f"{proto}://{host.strip()}"


def stream_url(base: str) -> str:
    """The media WebSocket URL for a public base URL (``https`` → ``wss``)."""
    if base.startswith("https://"):
        return "wss://" + base.removeprefix("https://") + STREAM_PATH
    return "ws://" + base.removeprefix("http://") + STREAM_PATH


def caller_patient_id(caller: str | None) -> str | None:
    """A stable patient id for a calling number (a hash: the number is not stored)."""
    if not caller:
        return None
    return "phone-" + hashlib.sha256(caller.encode()).hexdigest()[:16]


def twilio_router(settings: EchoSettings) -> APIRouter:
    """``POST /telephony/twilio`` (voice webhook) and ``WS /telephony/twilio/stream``."""
    router = APIRouter()
    auth_token = settings.secret("twilio_auth_token")
    if not auth_token:
        logger.info("TWILIO_AUTH_TOKEN is not set: Twilio requests are not signature-checked")

    @router.post(WEBHOOK_PATH)
    async def voice_webhook(request: Request, pipeline: str | None = None):
        body = await request.body()
        if len(body) > MAX_WEBHOOK_BYTES:
            return JSONResponse(status_code=413, content={"error": "webhook body too large"})
        try:
            params = parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError:
            return JSONResponse(
                status_code=400, content={"error": "webhook body is not form-encoded text"}
            )
        base = public_base(settings, request.headers, request.url.scheme, request.url.netloc)
        if auth_token:
            query = f"?{request.url.query}" if request.url.query else ""
            signed = base + request.url.path + query
            if not signature_is_valid(
                auth_token, signed, params, request.headers.get(SIGNATURE_HEADER)
            ):
                logger.warning("Twilio webhook refused: missing or wrong signature")
                return JSONResponse(
                    status_code=403, content={"error": f"invalid or missing {SIGNATURE_HEADER}"}
                )
        form = dict(params)
        name = pipeline or settings.telephony_pipelines.get(form.get("To", ""))
        try:
            name, _ = choose_variant(name, settings)
        except VariantError as e:
            return JSONResponse(status_code=e.status, content=e.detail)
        if too_many_sessions(request.app.state.runtime):
            logger.warning("Twilio call turned away: too many live sessions")
            return Response(reject_twiml(BUSY_MESSAGE), media_type=XML)
        parameters = {"pipeline": name}
        if patient := caller_patient_id(form.get("From")):
            parameters["patient_id"] = patient
        url = stream_url(base)
        if url.startswith("ws://"):
            logger.warning(f"stream URL {url} is not wss: Twilio needs wss; set ECHO_PUBLIC_URL")
        logger.info(f"Twilio call {form.get('CallSid', '?')}: connecting a {name} stream")
        return Response(connect_stream_twiml(url, parameters), media_type=XML)

    @router.websocket(STREAM_PATH)
    async def media_stream(websocket: WebSocket, pipeline: str | None = None):
        if auth_token:
            base = public_base(settings, websocket.headers, websocket.url.scheme, "")
            query = f"?{websocket.url.query}" if websocket.url.query else ""
            signature = websocket.headers.get(SIGNATURE_HEADER)
            candidates = [stream_url(base) + query, base + STREAM_PATH + query]
            if not any(signature_is_valid(auth_token, url, (), signature) for url in candidates):
                logger.warning("Twilio stream refused: missing or wrong signature")
                await refuse(websocket, 403, {"error": f"invalid or missing {SIGNATURE_HEADER}"})
                return
        runtime = websocket.app.state.runtime
        if too_many_sessions(runtime):
            await refuse(websocket, 503, BUSY)
            return
        await websocket.accept()
        try:
            start = await read_start(websocket)
        except (TwilioHandshakeError, TimeoutError) as e:
            reason = str(e) or "no 'start' event in time"
            logger.warning(f"Twilio stream closed: {reason}")
            await websocket.close(code=1008, reason=reason[:120])
            return
        except WebSocketDisconnect:
            return
        try:
            name, variant = choose_variant(
                start.custom_parameters.get("pipeline") or pipeline, settings
            )
        except VariantError as e:
            await websocket.close(code=1008, reason=str(e)[:120])
            return
        transfer = None
        if settings.handoff_phone_number and settings.twilio_account_sid and auth_token:
            transfer = functools.partial(
                _transfer,
                account_sid=settings.twilio_account_sid,
                auth_token=auth_token,
                call_sid=start.call_sid,
                number=settings.handoff_phone_number,
                api_base_url=settings.twilio_api_base_url,
            )
        await run_websocket_session(
            websocket,
            transfer=transfer,
            transport_name="twilio",
            name=name,
            variant=variant,
            patient_id=start.custom_parameters.get("patient_id"),
            stream_sid=start.stream_sid,
            call_sid=start.call_sid,
            account_sid=settings.twilio_account_sid,
            auth_token=auth_token,
            api_base_url=settings.twilio_api_base_url,
        )

    return router


async def _transfer(reason: str | None, **call: Any) -> None:
    """The session's hand-off: the call moves to the hand-off number (see transfer_call)."""
    await transfer_call(**call)


async def read_start(websocket: WebSocket):
    """Read Twilio's opening events (``connected``, ``start``) and parse the ``start``.

    Raises:
        TwilioHandshakeError: No valid ``start`` among the first few messages.
        TimeoutError: Nothing useful within ``HANDSHAKE_TIMEOUT_SECS``.
    """
    received: list[str] = []
    async with asyncio.timeout(HANDSHAKE_TIMEOUT_SECS):
        while len(received) < MAX_HANDSHAKE_MESSAGES:
            message = await websocket.receive()
            if message["type"] == "websocket.disconnect":
                raise WebSocketDisconnect(message.get("code", 1000))
            text = message.get("text")
            if text is None:
                raise TwilioHandshakeError("binary message before 'start': Twilio sends JSON")
            received.append(text)
            if _is_start(text):
                return parse_start(received)
    return parse_start(received)


def _is_start(text: str) -> bool:
    try:
        return json.loads(text).get("event") == "start"
    except (ValueError, AttributeError):
        return False
