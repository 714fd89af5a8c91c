"""Pipeline variants: one module each, one registry, chosen at runtime.

Every variant module exposes ``DESCRIPTION``, ``requirements(settings) -> list[str]`` (the
environment variables it still needs; empty when it can run) and one public
``build(session) -> PipelineWorker``.
"""

from __future__ import annotations

import importlib
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


def attach_session_events(worker: Any, session: Session) -> None:
    """Greet when the caller connects (or at start for a local device); end on hang-up."""
    from pipecat.frames.frames import LLMRunFrame

    if session.client_events:

        @session.transport.event_handler("on_client_connected")
        async def on_client_connected(transport, client):
            if session.greet:
                await worker.queue_frames([LLMRunFrame()])

        @session.transport.event_handler("on_client_disconnected")
        async def on_client_disconnected(transport, client):
            await worker.cancel()

    elif session.greet:

        @worker.event_handler("on_pipeline_started")
        async def on_pipeline_started(worker, frame):
            await worker.queue_frames([LLMRunFrame()])


def clinic_brain_and_tools(
    session: Session, *, local: bool, vision: bool = False
) -> tuple[Any, Any]:
    """The session's clinic tools, and the local brain when the local LLM is chosen."""
    from clinic.brain import ClinicBrain
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
            }
        )
    return out
