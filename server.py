"""Echo's HTTP server: the web client, the WebRTC bootstrap endpoint and status routes.

``create_app(settings)`` builds the FastAPI app. ``POST /api/offer`` takes Pipecat's
SmallWebRTC offer body (``sdp``, ``type``, optional ``pc_id``, ``restart_pc``,
``request_data``), picks the variant from ``?pipeline=NAME`` or ``request_data.pipeline``
(default ``cascaded``) and starts it over SmallWebRTC. ``PATCH /api/offer`` adds ICE
candidates.
"""

from __future__ import annotations

import asyncio
import collections
import json
import threading
import time
import uuid
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse
from loguru import logger
from pydantic import BaseModel, Field

import pipelines
import providers
from clinic.identity import TokenError, vouched_patient
from config import EchoSettings, MissingKeyError
from transports import TRANSPORTS
from transports.routes import transport_routes
from vision.routes import vision_routes

WEB_DIR = Path(__file__).resolve().parent / "web"
MAX_SDP_BYTES = 64 * 1024


MAX_JSON_BODY_BYTES = 256 * 1024


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


class OfferBody(BaseModel):
    """Pipecat SmallWebRTC offer request."""

    sdp: str = Field(min_length=1, max_length=MAX_SDP_BYTES)
    type: Literal["offer"]
    pc_id: str | None = None
    restart_pc: bool | None = None
    request_data: dict[str, Any] | None = None


class IceCandidateBody(BaseModel):
    """One trickled ICE candidate."""

    candidate: str
    sdp_mid: str
    sdp_mline_index: int


class PatchBody(BaseModel):
    """ICE candidates for an existing peer connection."""

    pc_id: str
    candidates: list[IceCandidateBody]


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


class EchoRuntime:
    """Server-wide state: warm models, stores, live sessions. One per app, never global."""

    def __init__(self, settings: EchoSettings):
        from pipecat.transports.smallwebrtc.request_handler import SmallWebRTCRequestHandler

        from clinic.store import ClinicStore
        from providers.local import LocalModels

        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.models = LocalModels(settings)
        self.clinic_store = ClinicStore(
            settings.resolved_clinic_db(), timezone=settings.clinic_timezone
        )
        self.clinic_store.seed(load_vocabulary(settings), start=self.today())
        load_patients(self.clinic_store, settings)
        self.lexicon = load_lexicon(settings)
        self.webrtc = SmallWebRTCRequestHandler(ice_servers=[])
        self.sessions: dict[str, asyncio.Task] = {}
        self.starting = 0  # offers being answered, not yet a session (count against the cap)
        self.offer_rate = RateLimiter(settings.offers_per_minute)
        self.pc_sessions: dict[str, pipelines.Session] = {}  # WebRTC pc_id → live session
        self.audit_store = open_audit_store(settings)
        from realtime.local import LocalRealtime

        # The offline Realtime server for speech_native, started on first use.
        self.realtime = LocalRealtime(
            settings, models=self.models, clinic_store=self.clinic_store, lexicon=self.lexicon
        )
        self._warming: asyncio.Task | None = None
        self._stop_warming = threading.Event()

    def warm_phrases_in_background(self) -> None:
        """Pre-synthesize the local brain's fixed phrases into the shared phrase cache."""
        from clinic.brain import fixed_phrases

        async def warm():
            phrases = fixed_phrases()
            cached = await asyncio.to_thread(
                self.models.warm_phrases,
                phrases,
                stop=self._stop_warming,
                pause=lambda: bool(self.sessions),  # a live call has the CPU first
            )
            logger.info(f"pre-synthesized {cached} phrases")

        self._warming = asyncio.create_task(warm())

    def live_or_starting(self) -> int:
        """Sessions running plus offers still being answered (what the cap counts)."""
        return len(self.sessions) + self.starting

    @property
    def warming(self) -> bool:
        """Whether the start-up phrase synthesis is still under way (paused or not)."""
        return self._warming is not None and not self._warming.done()

    def today(self):
        """The clinic's current date."""
        return datetime.now(ZoneInfo(self.settings.clinic_timezone)).date()

    def new_session(
        self,
        *,
        transport,
        transport_name: str,
        patient_id: str | None = None,
        identified: bool = False,
    ):
        """A :class:`pipelines.Session` for one conversation.

        ``identified``: the host vouched for ``patient_id`` (a signed token). Otherwise the
        id only names the session's own bookings until the caller is identified in the call.
        """
        from observers.latency import LatencyObserver

        session_id = uuid.uuid4().hex
        client_events = TRANSPORTS[transport_name].client_events
        # Per-turn latency breakdown, published live to the web client over the data channel.
        latency = LatencyObserver(session_id=session_id, publish=client_events)
        return pipelines.Session(
            session_id=session_id,
            settings=self.settings,
            transport=transport,
            models=self.models,
            clinic_store=self.clinic_store,
            lexicon=self.lexicon,
            patient_id=patient_id or f"patient-{session_id[:8]}",
            identified=identified and bool(patient_id),
            today=self.today(),
            client_events=client_events,
            transport_name=transport_name,
            observers=[latency],
            realtime=self.realtime,
        )

    async def run_session(self, name: str, variant, session) -> None:
        """Build and run one conversation until it ends, with its audit trail."""
        from pipecat.workers.runner import WorkerRunner

        recorder, observer = await self.start_audit(name, session)
        status = "complete"
        try:
            runner = WorkerRunner(handle_sigint=False)
            await runner.add_workers(variant.build(session))
            await runner.run()
            status = session.ending or "complete"
        except asyncio.CancelledError:
            status = session.ending or "cancelled"
            raise
        except Exception as e:
            status = "server_error"
            logger.exception(f"session {session.session_id} failed: {type(e).__name__}")
        finally:
            if observer is not None:
                observer.flush()
                await recorder.close(status)
            logger.info(f"session {session.session_id} ended: {status}")

    async def start_audit(self, name: str, session):
        """Attach an audit recorder (the tools' fail-closed sink) and observer to a session."""
        if self.audit_store is None:
            return None, None
        from audit import AuditRecorder
        from observers.audit import AuditObserver

        settings = self.settings
        recorder = AuditRecorder(
            self.audit_store,
            session_id=session.session_id,
            variant=name,
            config_hash=settings.config_hash(name),
            providers=providers.describe(settings),
            max_queue=settings.audit_queue_size,
            audio_dir=settings.audit_audio_dir() if settings.audit_keep_audio else None,
        )
        await recorder.start(transport=session.transport_name, patient_id=session.patient_id)
        observer = AuditObserver(recorder=recorder, keep_audio=settings.audit_keep_audio)
        session.audit = recorder
        session.observers.append(observer)
        from observers.latency import LatencyObserver

        async def keep_latency(_, record):
            recorder.submit("latency", record.to_dict(include_text=False))

        for latency in (o for o in session.observers if isinstance(o, LatencyObserver)):
            latency.add_event_handler("on_turn_latency", keep_latency)
        return recorder, observer

    async def close(self) -> None:
        """Stop every live session and close the stores."""
        self._stop_warming.set()
        if self._warming is not None:
            await asyncio.gather(self._warming, return_exceptions=True)
        for task in list(self.sessions.values()):
            task.cancel()
        await asyncio.gather(*self.sessions.values(), return_exceptions=True)
        await self.webrtc.close()
        await self.realtime.close()
        if self.audit_store is not None:
            self.audit_store.close()


def load_patients(store, settings: EchoSettings) -> None:
    """Load the patient records file (settings.patients_path) into the clinic database."""
    from clinic.care import CareStore

    if settings.patients_path is not None:
        added = CareStore(store).load_patients(settings.patients_path)
        if added:
            logger.info(f"loaded {added} patient record(s)")


def load_vocabulary(settings: EchoSettings) -> dict:
    """The deployment vocabulary JSON (providers, medications, specialties, procedures)."""
    import json

    return json.loads(Path(settings.vocabulary_path).read_text())


def open_audit_store(settings: EchoSettings):
    """Open the audit store (PostgreSQL when DATABASE_URL is set) and close orphaned sessions."""
    if not settings.audit_enabled:
        logger.warning("audit trail is OFF (ECHO_AUDIT_ENABLED=false)")
        return None
    from audit import open_store, recover_incomplete_sessions
    from audit.audio import purge_audio

    store = open_store(settings)
    closed = recover_incomplete_sessions(store)
    if closed:
        logger.warning(f"audit: closed {len(closed)} interrupted session(s) as incomplete")
    if settings.audit_keep_audio:
        purge_audio(settings.audit_audio_dir(), retention_days=settings.audit_audio_retention_days)
    return store


def load_lexicon(settings: EchoSettings):
    """The deployment vocabulary as a lexicon (STT biasing and correction)."""
    from vocabulary import Lexicon

    return Lexicon.load(settings.vocabulary_path)


def create_app(settings: EchoSettings, *, warm_up: bool = True) -> FastAPI:
    """Build the Echo FastAPI app.

    Args:
        settings: The one settings object, built in ``main()``.
        warm_up: Load and run the local models once at start-up.

    """

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        runtime = EchoRuntime(settings)
        if warm_up:
            await asyncio.to_thread(runtime.models.warm_up)
            if settings.tts_warm_phrases and providers.select("tts", settings).local:
                # In the background (4-10 s on 2 cores); /readyz says 503 until it is done
                # and live calls pause it.
                runtime.warm_phrases_in_background()
        app.state.runtime = runtime
        logger.info(f"Echo ready on http://{settings.host}:{settings.port}/")
        yield
        await runtime.close()

    app = FastAPI(title="Echo", lifespan=lifespan)
    app.add_middleware(BodyLimit, limit=MAX_JSON_BODY_BYTES, paths=("/api/offer", "/api/daily"))

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", "")}
            for e in exc.errors()  # no input echo: an offer body can be large
        ]
        logger.info(f"refused {request.method} {request.url.path}: 422 ({len(errors)} errors)")
        return JSONResponse(status_code=422, content={"detail": errors})

    @app.exception_handler(HTTPException)
    async def refused(request: Request, exc: HTTPException):
        """Every refusal is logged (status and path; never the body or a transcript)."""
        logger.info(f"refused {request.method} {request.url.path}: {exc.status_code}")
        return JSONResponse(status_code=exc.status_code, content={"detail": exc.detail})

    @app.get("/")
    async def index():
        return FileResponse(WEB_DIR / "index.html")

    @app.get("/healthz")
    async def healthz(request: Request):
        """Liveness: 200 while the server runs."""
        runtime: EchoRuntime = request.app.state.runtime
        return {"status": "ok", "sessions": len(runtime.sessions), "warming": runtime.warming}

    @app.get("/readyz")
    async def readyz(request: Request):
        """Readiness: 503 until the start-up warm-up is done, so calls get the whole CPU."""
        runtime: EchoRuntime = request.app.state.runtime
        if runtime.warming:
            return JSONResponse(status_code=503, content={"status": "warming"})
        return {"status": "ready"}

    @app.get("/api/pipelines")
    async def list_pipelines():
        try:
            stages = providers.describe(settings)
        except MissingKeyError as e:
            stages = {"error": str(e)}
        return {"pipelines": pipelines.availability(settings), "providers": stages}

    @app.post("/api/offer")
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
        # would start a new one), and an offer holds its place from here on: the count is
        # checked and taken with no await in between, so concurrent offers cannot overrun it.
        renegotiating = bool(body.pc_id) and body.pc_id in runtime.pc_sessions
        if not renegotiating and runtime.live_or_starting() >= settings.max_sessions:
            raise HTTPException(503, detail={"error": "too many live sessions, try again later"})
        runtime.starting += 0 if renegotiating else 1
        try:
            return await start_webrtc(request, runtime, body, name, variant, patient)
        finally:
            runtime.starting -= 0 if renegotiating else 1

    async def start_webrtc(request, runtime, body, name, variant, patient):
        from pipecat.transports.smallwebrtc.request_handler import SmallWebRTCRequest

        started: list[Exception] = []

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
                task = asyncio.create_task(runtime.run_session(name, variant, session))
                runtime.sessions[session.session_id] = task
                runtime.pc_sessions[connection.pc_id] = session
                task.add_done_callback(lambda _: runtime.sessions.pop(session.session_id, None))
                task.add_done_callback(lambda _: runtime.pc_sessions.pop(connection.pc_id, None))
                logger.info(f"session {session.session_id} started: pipeline={name}")
            except Exception as e:  # surfaced below as a 500 with the reason
                started.append(e)
                raise

        request_obj = SmallWebRTCRequest(
            sdp=body.sdp,
            type=body.type,
            pc_id=body.pc_id,
            restart_pc=body.restart_pc,
            request_data=body.request_data,
        )
        try:
            answer = await runtime.webrtc.handle_web_request(request_obj, on_connection)
        except HTTPException:
            raise
        except Exception as e:
            raise HTTPException(400, detail={"error": f"malformed SDP: {e}"}) from e
        if started:
            raise HTTPException(500, detail={"error": f"could not start pipeline: {started[0]}"})
        return answer

    @app.patch("/api/offer")
    async def ice_candidate(request: Request, body: PatchBody):
        from pipecat.transports.smallwebrtc.request_handler import (
            IceCandidate,
            SmallWebRTCPatchRequest,
        )

        runtime: EchoRuntime = request.app.state.runtime
        patch = SmallWebRTCPatchRequest(
            pc_id=body.pc_id,
            candidates=[
                IceCandidate(c.candidate, c.sdp_mid, c.sdp_mline_index) for c in body.candidates
            ],
        )
        await runtime.webrtc.handle_patch_request(patch)
        return {"status": "ok"}

    app.include_router(transport_routes(settings))  # Twilio calls, plain WebSocket, Daily rooms
    app.include_router(vision_routes(settings))  # image uploads into a live vision call
    return app
