"""Echo's HTTP server: the FastAPI app, its pages and status routes.

``create_app(settings)`` builds the app: the pages (``/``, ``/rtvi``, Echo's page modules
under ``/src/``), the probes (``/healthz``, ``/readyz``), ``/api/pipelines``, and the routers
of the WebRTC bootstrap (:mod:`transports.webrtc_offer`), phone calls, the plain WebSocket and
Daily (:mod:`transports.routes`) and image uploads (:mod:`vision.routes`), behind the guards
of :mod:`transports.guards`. What the process holds is :class:`runtime.EchoRuntime`.
"""

from __future__ import annotations

import asyncio
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from loguru import logger

import pipelines
import providers
from config import EchoSettings, MissingKeyError
from runtime import EchoRuntime
from transports.guards import ApiToken, BodyLimit
from transports.routes import transport_routes
from transports.webrtc_offer import webrtc_routes
from vision.routes import vision_routes

WEB_DIR = Path(__file__).resolve().parent / "web"
JAVASCRIPT = {200: {"content": {"text/javascript": {}}}}  # OpenAPI of a script file route
# Echo's own page is plain ES modules and a style sheet, served as they are (no build step).
PAGE_FILES = {
    "echo.js": "text/javascript",
    "view.js": "text/javascript",
    "token.js": "text/javascript",
    "echo.css": "text/css",
}


MAX_JSON_BODY_BYTES = 256 * 1024


def _page_file(path: Path, media_type: str):
    async def page_file():
        return FileResponse(path, media_type=media_type)

    return page_file


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
    app.add_middleware(ApiToken, token=settings.secret("api_token"))  # outermost: checked first

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()  # no input echo: an offer body can be large
        ]
        logger.info(f"refused {request.method} {request.url.path}: 422 ({len(errors)} errors)")
        return JSONResponse(status_code=422, content={"detail": errors})

    @app.exception_handler(HTTPException)
    async def refused(request: Request, exc: HTTPException):
        """Every refusal is logged (status and path; never the body or a transcript)."""
        logger.info(f"refused {request.method} {request.url.path}: {exc.status_code}")
        return JSONResponse(status_code=exc.status_code, content={"detail": exc.detail})

    @app.get("/", response_class=HTMLResponse)
    async def index():
        return FileResponse(WEB_DIR / "index.html")

    @app.get("/rtvi", response_class=HTMLResponse)
    async def rtvi_page():
        """The page on Pipecat's JavaScript client (RTVI), bundled by ``make web``."""
        return FileResponse(WEB_DIR / "rtvi.html")

    @app.get("/dist/rtvi.js", response_class=Response, responses=JAVASCRIPT)
    async def rtvi_bundle():
        return FileResponse(WEB_DIR / "dist" / "rtvi.js", media_type="text/javascript")

    for name, media_type in PAGE_FILES.items():
        app.add_api_route(
            f"/src/{name}",
            _page_file(WEB_DIR / "src" / name, media_type),
            methods=["GET"],
            response_class=Response,
            responses={200: {"content": {media_type: {}}}},
            name=f"page_file_{name.replace('.', '_')}",
        )

    @app.get("/healthz")
    async def healthz(request: Request):
        """Liveness: 200 while the server runs."""
        runtime: EchoRuntime = request.app.state.runtime
        return {
            "status": "ok",
            "sessions": len(runtime.sessions),
            "warming": runtime.warming,
            "tasks": len(asyncio.all_tasks()),  # a leak shows here first (the soak bench)
        }

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
        from vision.providers import describe_vision

        try:
            vision = describe_vision(settings)  # the vision variant's image model
        except MissingKeyError as e:
            vision = {"error": str(e)}
        return {
            "pipelines": pipelines.availability(settings),
            "providers": stages,
            "vision": vision,
        }

    app.include_router(webrtc_routes(settings))  # POST / PATCH /api/offer
    app.include_router(transport_routes(settings))  # Twilio calls, plain WebSocket, Daily rooms
    app.include_router(vision_routes(settings))  # image uploads into a live vision call
    return app
