"""Pipeline variants: one module each, one registry, chosen at runtime.

Every variant module exposes ``DESCRIPTION``, ``requirements(settings) -> list[str]`` (the
environment variables it still needs; empty when it can run) and one public
``build(session) -> PipelineWorker``.
"""

from __future__ import annotations

import asyncio
import importlib
import time
from dataclasses import dataclass, field
from datetime import date
from types import ModuleType
from typing import Any

from config import EchoSettings

PIPELINES: dict[str, str] = {
    "cascaded": "pipelines.cascaded",
    "speech_native": "pipelines.speech_native",
    "vision": "pipelines.vision",
}

DEFAULT_PIPELINE = "cascaded"


class UnknownPipelineError(ValueError):
    """The requested variant is not registered; the message lists the valid ones."""

    def __init__(self, name: str):
        self.name = name
        self.valid = sorted(PIPELINES)
        super().__init__(f"unknown pipeline '{name}': valid pipelines are {', '.join(self.valid)}")


@dataclass
class Session:
    """Everything a variant's ``build`` needs for one conversation."""

    session_id: str
    settings: EchoSettings
    transport: Any  # pipecat BaseTransport
    models: Any  # providers.local.LocalModels
    clinic_store: Any  # clinic.store.ClinicStore
    lexicon: Any | None  # vocabulary.Lexicon
    patient_id: str
    today: date
    observers: list[Any] = field(default_factory=list)
    audit: Any | None = None  # audit recorder (ToolAuditSink) or None
    greet: bool = True
    client_events: bool = True  # transport emits on_client_connected/disconnected
    transport_name: str = "smallwebrtc"
    realtime: Any | None = None  # realtime.local.LocalRealtime: the offline Realtime server
    identified: bool = False  # the host application vouched for patient_id
    transfer: Any | None = None  # async (reason) -> None: hands the call to a person
    vision: Any | None = None  # vision.conversation.VisionConversation (vision variant)
    ending: str | None = None  # how the call ended, when not by the pipeline itself


def worker_options(session: Session) -> dict[str, Any]:
    """``PipelineWorker`` options every variant uses.

    Idle is handled by the session events; RTVI is on, so Pipecat's client SDKs can talk
    to every variant (``pipelines.rtvi``).
    """
    from pipelines.rtvi import rtvi_options

    return {
        "idle_timeout_secs": session.settings.idle_timeout_secs,
        "cancel_on_idle_timeout": False,
        **rtvi_options(),
    }


def attach_session_events(worker: Any, session: Session) -> None:
    """Greet when the caller connects; end the call on hang-up, silence or the time limit.

    Each way a call ends sets ``session.ending`` (the audit trail's session status):
    ``hung_up`` (the client disconnected), ``never_connected`` (an answered offer that did
    not connect within ``connect_timeout_secs``: the pipeline ends and frees the
    connection), ``idle_timeout`` (no speech for ``idle_timeout_secs``: the bot asks once
    whether the caller is still there, then ends), ``max_duration`` (``max_call_secs``).
    """
    from pipecat.frames.frames import LLMRunFrame

    settings = session.settings
    timers: list[asyncio.Task] = []
    nudged_at: list[float] = []

    def end(reason: str) -> None:
        session.ending = session.ending or reason
        timers.append(asyncio.ensure_future(worker.cancel()))

    def later(delay: float, reason: str) -> None:
        async def fire() -> None:
            await asyncio.sleep(delay)
            end(reason)

        timers.append(asyncio.ensure_future(fire()))

    @worker.event_handler("on_idle_timeout")
    async def on_idle_timeout(worker):
        now = time.monotonic()
        if nudged_at and now - nudged_at[-1] < settings.idle_timeout_secs + 15:
            end("idle_timeout")  # asked already and still nothing
            return
        nudged_at.append(now)
        await worker.queue_frames([LLMRunFrame()])  # the brain asks "Are you still there?"

    @worker.event_handler("on_pipeline_finished")
    async def on_finished(worker, frame):
        for timer in timers:
            if not timer.done():
                timer.cancel()

    if session.client_events:
        connected: list[bool] = []

        @worker.event_handler("on_pipeline_started")
        async def on_pipeline_started(worker, frame):
            async def never_connected() -> None:
                await asyncio.sleep(settings.connect_timeout_secs)
                if not connected:
                    end("never_connected")

            timers.append(asyncio.ensure_future(never_connected()))

        @session.transport.event_handler("on_client_connected")
        async def on_client_connected(transport, client):
            connected.append(True)
            later(settings.max_call_secs, "max_duration")
            if session.greet:
                await worker.queue_frames([LLMRunFrame()])

        @session.transport.event_handler("on_client_disconnected")
        async def on_client_disconnected(transport, client):
            end("hung_up")

    else:

        @worker.event_handler("on_pipeline_started")
        async def on_local_pipeline_started(worker, frame):
            later(settings.max_call_secs, "max_duration")
            if session.greet:
                await worker.queue_frames([LLMRunFrame()])


def clinic_brain_and_tools(
    session: Session, *, local: bool, vision: bool = False
) -> tuple[Any, Any]:
    """The session's clinic tools, and the local brain when the local LLM is chosen."""
    from clinic.dialogue.brain import ClinicBrain
    from clinic.info import load_info
    from clinic.tools import ClinicTools

    meds = session.lexicon.terms_of("medication") if session.lexicon is not None else None
    info = load_info(session.settings.clinic_info_path)
    tools = ClinicTools(
        session.clinic_store,
        patient_id=session.patient_id,
        today=session.today,
        audit_sink=session.audit,
        identified=session.identified,
        medications=meds,
        info=info,
        transfer=session.transfer,
    )
    brain = None
    if local:
        brain = ClinicBrain.for_store(
            session.clinic_store,
            today=session.today,
            classifier=session.models.intents(),
            medications=meds,
            can_transfer=session.transfer is not None,
            vision=vision,
            info=info,
        )
    return brain, tools


def provider_context(session: Session, brain: Any) -> Any:
    """What the provider registry needs to create a session's STT, LLM and TTS services."""
    import providers
    from vocabulary.keyterms import keyterms

    return providers.ProviderContext(
        settings=session.settings,
        models=session.models,
        brain=brain,
        lexicon=session.lexicon,
        keyterms=keyterms(session.lexicon) if session.lexicon else [],
    )


def get_variant(name: str) -> ModuleType:
    """Import the module of a registered variant.

    Raises:
        UnknownPipelineError: ``name`` is not registered.

    """
    if name not in PIPELINES:
        raise UnknownPipelineError(name)
    return importlib.import_module(PIPELINES[name])


def availability(settings: EchoSettings) -> list[dict[str, Any]]:
    """Each variant, whether it can run with these settings, and what it is missing."""
    out = []
    for name in PIPELINES:
        module = get_variant(name)
        missing = module.requirements(settings)
        out.append(
            {
                "name": name,
                "description": module.DESCRIPTION,
                "available": not missing,
                "missing": missing,
                "default": name == DEFAULT_PIPELINE,
                # The caller can show it images (upload; camera over SmallWebRTC).
                "images": bool(getattr(module, "VIDEO_IN", False)),
            }
        )
    return out
