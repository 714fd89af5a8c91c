"""The SmallWebRTC bootstrap: ``POST /api/offer`` starts a call, ``PATCH /api/offer`` trickles.

``POST /api/offer`` takes Pipecat's SmallWebRTC offer body (``sdp``, ``type``, optional
``pc_id``, ``restart_pc``, ``request_data`` or Pipecat's JS ``requestData``), picks the
variant from ``?pipeline=NAME`` or ``request_data.pipeline`` (default ``cascaded``) and
starts it. Offers count against the session cap from the moment they arrive, at most
``ECHO_OFFERS_PER_MINUTE`` per address. The answer's ``pc_token`` binds the connection to
its client: renegotiating it or patching it needs that token, or the address that made it
(:mod:`transports.pc_binding`).
"""

from __future__ import annotations

import asyncio
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from loguru import logger
from pydantic import AliasChoices, BaseModel, Field

import pipelines
from clinic.identity import TokenError, vouched_patient
from config import EchoSettings
from runtime import EchoRuntime, run_and_release, watch_peer
from transports import TRANSPORTS
from transports.pc_binding import TOKEN_HEADER, BindingError, parse_candidate
from transports.routes import unprocessable

MAX_SDP_BYTES = 64 * 1024


class OfferBody(BaseModel):
    """Pipecat SmallWebRTC offer request."""

    sdp: str = Field(min_length=1, max_length=MAX_SDP_BYTES)
    type: Literal["offer"]
    pc_id: str | None = None
    restart_pc: bool | None = None
    # Pipecat's JS clients send it as "requestData"
    request_data: dict[str, Any] | None = Field(
        None, validation_alias=AliasChoices("request_data", "requestData")
    )
    pc_token: str | None = Field(None, max_length=128)  # needed to renegotiate a live pc_id


class IceCandidateBody(BaseModel):
    """One trickled ICE candidate."""

    candidate: str = Field(max_length=1024)
    sdp_mid: str = Field(max_length=64)
    sdp_mline_index: int = Field(ge=0, le=1024)


class PatchBody(BaseModel):
    """ICE candidates for an existing peer connection."""

    pc_id: str = Field(max_length=200)
    candidates: list[IceCandidateBody] = Field(max_length=64)
    pc_token: str | None = Field(None, max_length=128)


class MalformedSDPError(ValueError):
    """The offer's SDP cannot start a WebRTC session."""


def check_sdp(sdp: str) -> None:
    """Reject an SDP that is not a WebRTC audio offer, before any connection is made."""
    lines = [line.strip() for line in sdp.strip().splitlines()]
    if not lines or lines[0] != "v=0":
        raise MalformedSDPError("SDP must start with 'v=0'")
    if not any(line.startswith("m=audio ") for line in lines):
        raise MalformedSDPError("SDP offers no audio media section ('m=audio')")
    if not any(line.startswith("a=fingerprint:") for line in lines):
        raise MalformedSDPError("SDP has no DTLS fingerprint ('a=fingerprint:')")
    if not any(line.startswith("a=ice-ufrag:") for line in lines):
        raise MalformedSDPError("SDP has no ICE credentials ('a=ice-ufrag:')")


def webrtc_routes(settings: EchoSettings) -> APIRouter:
    """The offer and ICE-candidate routes."""
    router = APIRouter()

    @router.post("/api/offer", responses=unprocessable(wrapped=True))
    async def offer(request: Request, body: OfferBody, pipeline: str | None = Query(None)):
        runtime: EchoRuntime = request.app.state.runtime
        if not runtime.offer_rate.allow(request.client.host if request.client else "?"):
            raise HTTPException(
                429, detail={"error": "too many offers from this address, try again in a minute"}
            )
        name = pipeline or (body.request_data or {}).get("pipeline") or pipelines.DEFAULT_PIPELINE
        if not isinstance(name, str):
            raise HTTPException(422, detail={"error": "request_data.pipeline must be a string"})
        try:
            variant = pipelines.get_variant(name)
        except pipelines.UnknownPipelineError as e:
            raise HTTPException(422, detail={"error": str(e), "valid": e.valid}) from e
        if missing := variant.requirements(settings):
            raise HTTPException(
                503,
                detail={
                    "error": f"pipeline '{name}' needs {', '.join(missing)}: set it and restart",
                    "missing": missing,
                },
            )
        try:
            check_sdp(body.sdp)
        except MalformedSDPError as e:
            raise HTTPException(400, detail={"error": f"malformed SDP: {e}"}) from e
        secret = settings.patient_token_secret
        try:
            patient = vouched_patient(
                body.request_data, secret.get_secret_value() if secret else None
            )
        except TokenError as e:
            raise HTTPException(401, detail={"error": str(e)}) from e
        # Only renegotiating a connection this server made skips the cap (a made-up pc_id
        # starts a new one), and an offer holds its place from here on: the count is
        # checked and taken with no await in between, so concurrent offers cannot overrun it.
        # Only the connection's own client may renegotiate it (403, the call untouched).
        renegotiating = bool(body.pc_id) and body.pc_id in runtime.pc_bindings
        allowed_by = authorize_pc(request, body.pc_id, body.pc_token) if renegotiating else None
        if not renegotiating and runtime.live_or_starting() >= settings.max_sessions:
            raise HTTPException(503, detail={"error": "too many live sessions, try again later"})
        runtime.starting += 0 if renegotiating else 1
        try:
            return await start_webrtc(request, runtime, body, name, variant, patient, allowed_by)
        finally:
            runtime.starting -= 0 if renegotiating else 1

    def authorize_pc(request: Request, pc_id: str, token: str | None) -> str:
        """How ``request`` may act on live ``pc_id``; 404/403 when it may not."""
        try:
            return request.app.state.runtime.pc_bindings.authorize(
                pc_id,
                token=token or request.headers.get(TOKEN_HEADER),
                address=request.client.host if request.client else None,
            )
        except BindingError as e:
            raise HTTPException(e.status, detail={"error": str(e)}) from e

    async def start_webrtc(request, runtime, body, name, variant, patient, allowed_by):
        from pipecat.transports.smallwebrtc.request_handler import SmallWebRTCRequest

        started: list[Exception] = []
        address = request.client.host if request.client else None
        live = runtime.pc_sessions.get(body.pc_id) if allowed_by else None

        async def on_connection(connection):
            try:
                transport = TRANSPORTS["smallwebrtc"].create(
                    connection=connection,
                    audio_prefetch=settings.webrtc_audio_prefetch,
                    audio_skip_after=settings.webrtc_audio_skip_after,
                    video_in=getattr(variant, "VIDEO_IN", False),
                )
                session = runtime.new_session(
                    transport=transport,
                    transport_name="smallwebrtc",
                    patient_id=patient,
                    identified=patient is not None,
                )
                watch_peer(session, connection, settings.peer_silence_secs)
                task = asyncio.create_task(
                    run_and_release(runtime, name, variant, session, connection)
                )
                runtime.sessions[session.session_id] = task
                runtime.pc_sessions[connection.pc_id] = session
                runtime.pc_bindings.bind(connection.pc_id, address)
                task.add_done_callback(lambda _: runtime.sessions.pop(session.session_id, None))
                task.add_done_callback(lambda _: runtime.forget_pc_session(session))
                logger.info(f"session {session.session_id} started: pipeline={name}")
            except Exception as e:  # logged here, surfaced below as a 500
                logger.exception(f"pipeline '{name}' could not start: {type(e).__name__}")
                started.append(e)
                raise

        request_obj = SmallWebRTCRequest(
            sdp=body.sdp,
            type=body.type,
            # Not live: a new connection, never one Pipecat still holds for an ended call.
            pc_id=body.pc_id if live is not None else None,
            restart_pc=body.restart_pc if live is not None else None,
            request_data=body.request_data,
        )
        try:
            answer = await runtime.webrtc.handle_web_request(request_obj, on_connection)
        except HTTPException:
            raise
        except Exception as e:  # aiortc's own parse errors name its internals, not the problem
            logger.info(f"offer refused: the SDP did not negotiate ({type(e).__name__})")
            raise HTTPException(
                400, detail={"error": "malformed SDP: the offer could not be negotiated"}
            ) from e
        if started:  # the reason is logged where it happened; the body names no internals
            raise HTTPException(500, detail={"error": "could not start the pipeline"})
        if live is not None:
            runtime.renegotiated(
                live,
                pc_id=body.pc_id,
                answer_pc_id=answer["pc_id"],
                address=address,
                restart=bool(body.restart_pc),
                allowed_by=allowed_by,
            )
        return {**answer, "pc_token": runtime.pc_bindings.token(answer["pc_id"])}

    @router.patch("/api/offer")
    async def ice_candidate(request: Request, body: PatchBody):
        from pipecat.transports.smallwebrtc.request_handler import (
            IceCandidate,
            SmallWebRTCPatchRequest,
        )

        runtime: EchoRuntime = request.app.state.runtime
        authorize_pc(request, body.pc_id, body.pc_token)  # 404 not live, 403 not its client
        for i, c in enumerate(body.candidates):  # checked here: aiortc's parser just asserts
            try:
                parse_candidate(c.candidate, c.sdp_mid, c.sdp_mline_index)
            except ValueError as e:
                raise HTTPException(
                    400, detail={"error": f"malformed ICE candidate {i}: {e}"}
                ) from None
        patch = SmallWebRTCPatchRequest(
            pc_id=body.pc_id,
            candidates=[
                IceCandidate(c.candidate, c.sdp_mid, c.sdp_mline_index) for c in body.candidates
            ],
        )
        try:
            await runtime.webrtc.handle_patch_request(patch)
        except ValueError as e:  # aiortc refusing a well-formed candidate in this state
            raise HTTPException(400, detail={"error": f"ICE candidate refused: {e}"}) from None
        return {"status": "ok"}

    return router
