"""HTTP and WebSocket routes of the non-WebRTC transports, mounted by ``server.create_app``.

``transport_routes(settings)`` gathers them in one router:

- ``POST /telephony/twilio`` and ``WS /telephony/twilio/stream`` — phone calls over Twilio
  Media Streams (``transports.telephony``);
- ``WS /ws`` — custom clients speaking Pipecat's protobuf frames (``transports.websocket``);
- ``POST /api/daily`` — a new Daily room with the agent in it (``transports.daily_rooms``).

The helpers here are shared by those routes: choosing the variant, refusing a WebSocket
with a proper HTTP status and JSON body, and running a session over a WebSocket exactly as
``/api/offer`` runs one over WebRTC (``EchoRuntime.new_session`` / ``run_session``).
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, WebSocket
from fastapi.responses import JSONResponse, Response
from loguru import logger
from starlette.websockets import WebSocketState

import pipelines
from config import EchoSettings
from transports import TRANSPORTS


class VariantError(Exception):
    """A requested variant cannot run; carries the HTTP status and JSON body to answer."""

    def __init__(self, status: int, detail: dict[str, Any]):
        self.status = status
        self.detail = detail
        super().__init__(detail.get("error", ""))


def choose_variant(name: str | None, settings: EchoSettings):
    """The variant module for ``name`` (default variant when empty).

    Raises:
        VariantError: 422 for an unknown name (listing the valid ones), 503 when the
            variant still needs environment variables (naming them).
    """
    name = name or pipelines.DEFAULT_PIPELINE
    try:
        variant = pipelines.get_variant(name)
    except pipelines.UnknownPipelineError as e:
        raise VariantError(422, {"error": str(e), "valid": e.valid}) from e
    if missing := variant.requirements(settings):
        raise VariantError(
            503,
            {
                "error": f"pipeline '{name}' needs {', '.join(missing)}: set it and restart",
                "missing": missing,
            },
        )
    return name, variant


def too_many_sessions(runtime) -> bool:
    """Whether the server already runs ``settings.max_sessions`` conversations."""
    return len(runtime.sessions) >= runtime.settings.max_sessions


BUSY = {"error": "too many live sessions, try again later"}

# OpenAPI of a 422: a malformed field (FastAPI's list, as ``server.validation_error`` sends
# it: no input echoed) or a refusal naming the problem (an unknown variant lists the valid).
FIELD_ERRORS_SCHEMA = {
    "type": "object",
    "required": ["detail"],
    "properties": {
        "detail": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["loc", "msg", "type"],
                "properties": {
                    "loc": {"type": "array", "items": {"type": ["string", "integer"]}},
                    "msg": {"type": "string"},
                    "type": {"type": "string"},
                },
            },
        }
    },
}
REFUSAL_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {"type": "string"},
        "valid": {"type": "array", "items": {"type": "string"}},
        "missing": {"type": "array", "items": {"type": "string"}},
    },
}


def unprocessable(*, wrapped: bool = False) -> dict[int | str, dict[str, Any]]:
    """``responses=`` declaring a route's 422 (``wrapped``: the refusal in ``detail``)."""
    refusal = {
        "type": "object",
        "required": ["detail"],
        "properties": {"detail": REFUSAL_SCHEMA},
    }
    schema = {"anyOf": [FIELD_ERRORS_SCHEMA, refusal if wrapped else REFUSAL_SCHEMA]}
    return {
        422: {
            "description": "A malformed field, or an unknown pipeline (the valid ones listed)",
            "content": {"application/json": {"schema": schema}},
        }
    }


class TwiMLResponse(Response):
    """An XML (TwiML) answer to Twilio."""

    media_type = "application/xml"


async def refuse(websocket: WebSocket, status: int, detail: dict[str, Any]) -> None:
    """Refuse a WebSocket handshake with an HTTP status and a JSON body.

    Uses the ASGI WebSocket denial-response extension (uvicorn and Starlette's test client
    support it); without it, the handshake is refused with close code 1008 (policy).
    """
    logger.info(f"WebSocket {websocket.url.path} refused: {status} {detail.get('error', '')}")
    try:
        await websocket.send_denial_response(JSONResponse(status_code=status, content=detail))
    except RuntimeError:
        await websocket.close(code=1008, reason=str(detail.get("error", ""))[:120])


async def run_websocket_session(
    websocket: WebSocket,
    *,
    transport_name: str,
    name: str,
    variant,
    patient_id: str | None = None,
    transfer: Any = None,
    **transport_options: Any,
) -> str | None:
    """Run one conversation over an accepted WebSocket until it ends.

    Registers the session in ``runtime.sessions`` (counted against ``max_sessions``) and
    waits for it: the socket stays open exactly as long as the pipeline uses it.

    Returns:
        The session id, or None when the transport could not be created (the socket is
        then closed with code 1011 and the reason).
    """
    runtime = websocket.app.state.runtime
    try:
        transport = TRANSPORTS[transport_name].create(websocket=websocket, **transport_options)
        session = runtime.new_session(
            transport=transport, transport_name=transport_name, patient_id=patient_id
        )
        session.transfer = transfer  # hand-off to a person, where the carrier can
    except Exception as e:
        logger.error(f"could not start a {transport_name} session: {type(e).__name__}: {e}")
        await websocket.close(code=1011, reason=f"could not start pipeline: {e}"[:120])
        return None
    task = asyncio.create_task(runtime.run_session(name, variant, session))
    runtime.sessions[session.session_id] = task
    task.add_done_callback(lambda _: runtime.sessions.pop(session.session_id, None))
    logger.info(f"session {session.session_id} started: pipeline={name} over {transport_name}")
    try:
        await asyncio.shield(task)
    finally:
        await close_quietly(websocket)
    return session.session_id


async def close_quietly(websocket: WebSocket) -> None:
    """Close the socket if both ends still have it open (a hung-up peer is not an error)."""
    connected = WebSocketState.CONNECTED
    if websocket.application_state != connected or websocket.client_state != connected:
        return
    try:
        await websocket.close()
    except Exception as e:  # the peer left between the check and the close
        logger.debug(f"WebSocket already gone at close: {type(e).__name__}")


def transport_routes(settings: EchoSettings) -> APIRouter:
    """Every route of the WebSocket and Daily transports, in one router."""
    from transports.daily_rooms import daily_router
    from transports.telephony import twilio_router
    from transports.websocket import websocket_router

    router = APIRouter()
    router.include_router(
        twilio_router(settings), default_response_class=TwiMLResponse, responses=unprocessable()
    )
    router.include_router(websocket_router(settings))
    router.include_router(daily_router(settings), responses=unprocessable())
    return router
