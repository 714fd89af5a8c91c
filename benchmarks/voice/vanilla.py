"""A plain Pipecat 1.14 cascaded bot, Pipecat's defaults, Echo's local models: the baseline.

What makes it "vanilla": each service is built the way Pipecat's examples build it, with no
tuning — ``WhisperSTTService`` (its own model load, 30 s Whisper window, default device and
compute type), ``PiperTTSService`` (its own voice load), ``SileroVADAnalyzer()`` with default
``VADParams`` in ``LLMUserAggregatorParams`` and the default ``UserTurnStrategies`` (smart-turn
v3 with its 3 s incomplete-turn fallback), default ``PipelineParams``. The models and the
brain are the same as Echo's: the bundled faster-whisper tiny.en directory, the bundled
Piper voice directory (nothing is downloaded), and the local clinic brain with the real
clinic tools. The only addition is a :class:`~observers.latency.LatencyObserver` that
publishes each turn's breakdown on the data channel, so both bots are measured the same way.

``python -m benchmarks.voice.vanilla --port 7871 --data-dir DIR`` serves it with the same
``/api/offer`` contract as Echo (POST an SmallWebRTC offer, PATCH ICE candidates) and
``/healthz``.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Request

VOICE = "en_US-joe-medium"
WHISPER = "tiny.en"


def build_worker(connection, *, store, today: date, patient_id: str, observers: list):
    """The vanilla cascaded pipeline worker for one SmallWebRTC connection."""
    from pipecat.audio.vad.silero import SileroVADAnalyzer
    from pipecat.frames.frames import LLMRunFrame
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.pipeline.worker import PipelineParams, PipelineWorker
    from pipecat.processors.aggregators.llm_context import LLMContext
    from pipecat.processors.aggregators.llm_response_universal import (
        LLMContextAggregatorPair,
        LLMUserAggregatorParams,
    )
    from pipecat.services.piper.tts import PiperTTSService
    from pipecat.services.whisper.stt import WhisperSTTService
    from pipecat.transports.base_transport import TransportParams
    from pipecat.transports.smallwebrtc.transport import SmallWebRTCTransport

    from clinic.dialogue.brain import ClinicBrain
    from clinic.tool_schemas import TOOLS_SCHEMA
    from clinic.tools import ClinicTools
    from models import piper_voice_dir, whisper_model_dir
    from pipelines.cascaded import SYSTEM_PROMPT
    from processors.local_llm import LocalClinicLLMService

    transport = SmallWebRTCTransport(
        webrtc_connection=connection,
        params=TransportParams(audio_in_enabled=True, audio_out_enabled=True),
    )
    stt = WhisperSTTService(settings=WhisperSTTService.Settings(model=whisper_model_dir(WHISPER)))
    tts = PiperTTSService(
        settings=PiperTTSService.Settings(voice=VOICE), download_dir=piper_voice_dir(VOICE)
    )
    found = store.find_providers()
    brain = ClinicBrain(
        provider_names=[p.name for p in found],
        specialties=sorted({p.specialty for p in found}),
        today=today,
    )
    llm = LocalClinicLLMService(brain=brain)
    ClinicTools(store, patient_id=patient_id, today=today).register(llm)
    context = LLMContext(
        messages=[{"role": "system", "content": SYSTEM_PROMPT}], tools=TOOLS_SCHEMA
    )
    aggregators = LLMContextAggregatorPair(
        context, user_params=LLMUserAggregatorParams(vad_analyzer=SileroVADAnalyzer())
    )
    pipeline = Pipeline(
        [
            transport.input(),
            stt,
            aggregators.user(),
            llm,
            tts,
            transport.output(),
            aggregators.assistant(),
        ]
    )
    worker = PipelineWorker(pipeline, params=PipelineParams(), observers=observers)

    @transport.event_handler("on_client_connected")
    async def on_client_connected(transport, client):
        await worker.queue_frames([LLMRunFrame()])

    @transport.event_handler("on_client_disconnected")
    async def on_client_disconnected(transport, client):
        await worker.cancel()

    return worker


def create_app(data_dir: Path):
    """The vanilla bot's FastAPI app: ``POST/PATCH /api/offer`` and ``GET /healthz``."""
    import uuid

    from loguru import logger
    from pipecat.transports.smallwebrtc.request_handler import (
        IceCandidate,
        SmallWebRTCPatchRequest,
        SmallWebRTCRequest,
        SmallWebRTCRequestHandler,
    )
    from pipecat.workers.runner import WorkerRunner

    from clinic.store import ClinicStore
    from config import EchoSettings
    from observers.latency import LatencyObserver
    from runtime import load_vocabulary

    sessions: dict[str, asyncio.Task] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        data_dir.mkdir(parents=True, exist_ok=True)
        settings = EchoSettings(_env_file=None, data_dir=data_dir)
        store = ClinicStore(data_dir / "clinic.db", timezone=settings.clinic_timezone)
        today = date.today()
        store.seed(load_vocabulary(settings), start=today)
        app.state.store, app.state.today = store, today
        app.state.webrtc = SmallWebRTCRequestHandler(ice_servers=[])
        yield
        for task in list(sessions.values()):
            task.cancel()
        await asyncio.gather(*sessions.values(), return_exceptions=True)
        await app.state.webrtc.close()

    app = FastAPI(title="Pipecat vanilla cascaded bot", lifespan=lifespan)

    @app.get("/healthz")
    async def healthz():
        return {"status": "ok", "sessions": len(sessions)}

    @app.post("/api/offer")
    async def offer(request: Request, body: dict[str, Any]):
        if body.get("type") != "offer" or not body.get("sdp"):
            raise HTTPException(400, detail={"error": "expected an SDP offer"})

        async def on_connection(connection):
            session_id = uuid.uuid4().hex
            worker = build_worker(
                connection,
                store=app.state.store,
                today=app.state.today,
                patient_id=f"patient-{session_id[:8]}",
                observers=[LatencyObserver(session_id=session_id, publish=True)],
            )
            task = asyncio.create_task(WorkerRunner(handle_sigint=False).run(worker))
            sessions[session_id] = task
            task.add_done_callback(lambda _: sessions.pop(session_id, None))
            logger.info(f"vanilla session {session_id} started")

        req = SmallWebRTCRequest(
            sdp=body["sdp"],
            type=body["type"],
            pc_id=body.get("pc_id"),
            restart_pc=body.get("restart_pc"),
            request_data=body.get("request_data"),
        )
        return await app.state.webrtc.handle_web_request(req, on_connection)

    @app.patch("/api/offer")
    async def ice(request: Request, body: dict[str, Any]):
        patch = SmallWebRTCPatchRequest(
            pc_id=body["pc_id"],
            candidates=[
                IceCandidate(c["candidate"], c["sdp_mid"], c["sdp_mline_index"])
                for c in body.get("candidates", [])
            ],
        )
        await app.state.webrtc.handle_patch_request(patch)
        return {"status": "ok"}

    return app


def main(argv: list[str] | None = None) -> int:
    """Serve the vanilla bot on ``--port`` until killed."""
    import uvicorn

    import logs

    parser = argparse.ArgumentParser(prog="python -m benchmarks.voice.vanilla", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    logs.configure(verbose=False)
    uvicorn.run(create_app(args.data_dir), host="127.0.0.1", port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
