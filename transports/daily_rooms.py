"""``POST /api/daily``: a new, expiring Daily room with the agent in it.

With ``DAILY_API_KEY`` set, creates a private room that expires after
``ECHO_DAILY_ROOM_EXPIRY_SECS`` (participants are ejected then) and two meeting tokens
through Pipecat's ``DailyRESTHelper`` (API root ``DAILY_API_URL``, default Daily's own):
an owner token for the agent, which joins at once with the chosen variant, and a
participant token returned to the caller with the room URL. Errors from Daily come back as
502 with Daily's message; a missing key is a 503 naming ``DAILY_API_KEY``.

How the agent joins is pluggable: ``app.state.daily_bot_starter`` (an async callable with
the arguments of :func:`start_daily_bot`) replaces the default, which runs the variant over
Pipecat's ``DailyTransport`` as a server session. Tests use it to stop short of the
network join.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from loguru import logger
from pydantic import BaseModel, Field

from config import EchoSettings
from transports import TRANSPORTS
from transports.routes import BUSY, VariantError, choose_variant, too_many_sessions

DAILY_TIMEOUT_SECS = 15.0


class DailyError(RuntimeError):
    """Daily's REST API refused a request or could not be reached."""


@dataclass(frozen=True)
class DailyRoom:
    """A created room and its tokens."""

    url: str
    name: str
    expires_at: int
    bot_token: str
    user_token: str


class DailyBody(BaseModel):
    """Optional ``POST /api/daily`` body."""

    pipeline: str | None = Field(None, max_length=64)
    patient_id: str | None = Field(None, max_length=128)


async def create_room(settings: EchoSettings, *, now: float | None = None) -> DailyRoom:
    """Create an expiring private room and an agent and a participant token.

    Raises:
        DailyError: Daily answered with an error (its status and message kept) or could
            not be reached.
    """
    from pipecat.transports.daily.utils import (
        DailyRESTHelper,
        DailyRoomParams,
        DailyRoomProperties,
    )

    api_key = settings.secret("daily_api_key")
    if not api_key:
        raise DailyError("DAILY_API_KEY is not set")
    expiry = settings.daily_room_expiry_secs
    expires_at = int((now or time.time()) + expiry)
    params = DailyRoomParams(
        privacy="private",
        properties=DailyRoomProperties(
            exp=expires_at, eject_at_room_exp=True, start_video_off=True
        ),
    )
    timeout = aiohttp.ClientTimeout(total=DAILY_TIMEOUT_SECS)
    try:
        async with aiohttp.ClientSession(timeout=timeout) as http:
            helper = DailyRESTHelper(
                daily_api_key=api_key, daily_api_url=settings.daily_api_url, aiohttp_session=http
            )
            room = await helper.create_room(params)
            bot_token = await helper.get_token(
                room.url, expiry_time=expiry, eject_at_token_exp=True, owner=True
            )
            user_token = await helper.get_token(
                room.url, expiry_time=expiry, eject_at_token_exp=True, owner=False
            )
    except (aiohttp.ClientError, TimeoutError) as e:
        raise DailyError(f"Daily API unreachable at {settings.daily_api_url}: {e!r}") from e
    except DailyError:
        raise
    except Exception as e:  # DailyRESTHelper raises bare Exception with Daily's answer
        raise DailyError(str(e).replace(api_key, "***")) from e
    return DailyRoom(room.url, room.name, expires_at, bot_token, user_token)


async def start_daily_bot(
    runtime, *, name: str, variant, room: DailyRoom, patient_id: str | None
) -> str:
    """Start ``variant`` in ``room`` as a server session; returns its session id."""
    transport = TRANSPORTS["daily"].create(room_url=room.url, token=room.bot_token)
    session = runtime.new_session(
        transport=transport, transport_name="daily", patient_id=patient_id
    )
    task = asyncio.create_task(runtime.run_session(name, variant, session))
    runtime.sessions[session.session_id] = task
    task.add_done_callback(lambda _: runtime.sessions.pop(session.session_id, None))
    logger.info(f"session {session.session_id} started: pipeline={name} in Daily room {room.name}")
    return session.session_id


def daily_router(settings: EchoSettings) -> APIRouter:
    """``POST /api/daily[?pipeline=NAME]``."""
    router = APIRouter()

    @router.post("/api/daily")
    async def daily_room(
        request: Request, body: DailyBody | None = None, pipeline: str | None = None
    ):
        body = body or DailyBody()
        if not settings.secret("daily_api_key"):
            return JSONResponse(
                status_code=503,
                content={
                    "error": "the Daily transport needs DAILY_API_KEY: set it and restart",
                    "missing": ["DAILY_API_KEY"],
                },
            )
        try:
            name, variant = choose_variant(pipeline or body.pipeline, settings)
        except VariantError as e:
            return JSONResponse(status_code=e.status, content=e.detail)
        runtime = request.app.state.runtime
        if too_many_sessions(runtime):
            return JSONResponse(status_code=503, content=BUSY)
        try:
            room = await create_room(settings)
        except DailyError as e:
            logger.warning(f"Daily room not created: {e}")
            return JSONResponse(status_code=502, content={"error": f"Daily: {e}"})
        starter = getattr(request.app.state, "daily_bot_starter", None) or start_daily_bot
        try:
            session_id = await starter(
                runtime, name=name, variant=variant, room=room, patient_id=body.patient_id
            )
        except Exception as e:
            logger.error(f"could not start the agent in {room.name}: {type(e).__name__}: {e}")
            return JSONResponse(
                status_code=500, content={"error": f"could not start pipeline: {e}"}
            )
        out: dict[str, Any] = {
            "room_url": room.url,
            "token": room.user_token,
            "expires_at": room.expires_at,
            "pipeline": name,
            "session_id": session_id,
        }
        return out

    return router
