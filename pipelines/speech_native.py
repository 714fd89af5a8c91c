"""The speech-native variant.

transport-in → user context aggregator → speech-to-speech LLM (+ clinic tools) →
transport-out → assistant context aggregator.

The LLM is Pipecat's OpenAI Realtime service (Echo's subclass, :mod:`realtime.client`) or
Gemini Live, chosen by ``ECHO_REALTIME_PROVIDER``:

* ``auto`` (default): OpenAI Realtime when ``OPENAI_API_KEY`` is set, else ``local``;
* ``openai``: ``wss://api.openai.com/v1/realtime`` (needs ``OPENAI_API_KEY``);
* ``local``: the same OpenAI client against Echo's offline Realtime server
  (:mod:`realtime.server`, cascaded inside), started in-process on a loopback port;
* ``gemini``: Gemini Live (needs ``GOOGLE_API_KEY``).

With ``openai`` or ``gemini`` and ``ECHO_FAILOVER`` on, the local server stands behind the
cloud in an ``LLMSwitcher`` (:mod:`pipelines.failover_realtime`): a refused key, no answer,
an error or a dropped stream hands the call to it.

Bookings go through the same :class:`clinic.tools.ClinicTools` as the cascaded variant, so a
booking made by voice here lands in the same store. Input transcription stays on so the audit
trail has what the user said.

The caller can show the model images, as in the vision variant: an upload
(``POST /api/vision/image``) and, over SmallWebRTC, the camera, one frame taken as the caller
starts speaking and sent only when the scene has changed. Both reach the model as Pipecat's
``InputImageRawFrame``, which the Realtime service sends as an ``input_image`` item and Gemini
Live as video input; Echo's offline server reads them with the local reader (OCR).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker, ProcessorUnusablePolicy
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair

from clinic.tool_schemas import TOOLS_SCHEMA
from config import EchoSettings
from pipelines import Session, attach_session_events, clinic_brain_and_tools, worker_options
from pipelines.cascaded import SYSTEM_PROMPT
from vision.conversation import VisionConversation
from vision.processors import CameraFrameGrabber, capture_camera_on_connect

DESCRIPTION = (
    "speech-to-speech (OpenAI Realtime or Gemini Live) + clinic tools; "
    "offline: Echo's local Realtime server"
)

VIDEO_IN = True  # the server opens SmallWebRTC with video in: the caller may share a camera
CAMERA_TRANSPORTS = ("smallwebrtc",)
OPENAI_REALTIME_URL = "wss://api.openai.com/v1/realtime"
PROVIDERS = ("auto", "openai", "local", "gemini")


@dataclass(frozen=True)
class RealtimeOptions:
    """The speech-native settings, read from :class:`config.EchoSettings` (their one home)."""

    provider: str
    model: str
    voice: str
    turn_detection: str  # "server_vad" or "semantic_vad"
    vad_threshold: float
    silence_duration_ms: int
    prefix_padding_ms: int
    eagerness: str  # semantic VAD
    interruptions: bool
    transcription_model: str
    base_url: str | None  # an external Realtime-compatible server
    max_reconnects: int
    gemini_model: str | None  # None: Pipecat's default Gemini Live model
    gemini_voice: str
    gemini_base_url: str | None  # another Gemini Live endpoint (always wss://)

    @classmethod
    def from_settings(cls, settings: EchoSettings, **changes: Any) -> RealtimeOptions:
        """Read the ``realtime_*`` / ``gemini_live_*`` settings; ``changes`` override them."""
        values = {
            "provider": settings.realtime_provider,
            "model": settings.realtime_model,
            "voice": settings.realtime_voice,
            "turn_detection": settings.realtime_turn_detection,
            "vad_threshold": settings.realtime_vad_threshold,
            "silence_duration_ms": settings.realtime_silence_duration_ms,
            "prefix_padding_ms": settings.realtime_prefix_padding_ms,
            "eagerness": settings.realtime_semantic_eagerness,
            "interruptions": settings.realtime_interruptions,
            "transcription_model": settings.realtime_transcription_model,
            "base_url": settings.realtime_base_url,
            "max_reconnects": settings.realtime_max_reconnects,
            "gemini_model": settings.gemini_live_model,
            "gemini_voice": settings.gemini_live_voice,
            "gemini_base_url": settings.gemini_live_base_url,
        }
        return cls(**(values | changes))


def provider(settings: EchoSettings) -> str:
    """Which speech-to-speech backend this session uses: ``openai``, ``local`` or ``gemini``.

    Raises:
        ValueError: ``ECHO_REALTIME_PROVIDER`` names no known backend.

    """
    choice = RealtimeOptions.from_settings(settings).provider
    if choice not in PROVIDERS:
        raise ValueError(f"unknown realtime provider '{choice}': use one of {', '.join(PROVIDERS)}")
    if choice == "auto":
        return "openai" if settings.secret("openai_api_key") else "local"
    return choice


def requirements(settings: EchoSettings) -> list[str]:
    """Environment variables this variant still needs (none on a fresh machine).

    An unknown ``ECHO_REALTIME_PROVIDER`` is reported as that variable needing a valid value.
    """
    try:
        chosen = provider(settings)
    except ValueError:
        return ["ECHO_REALTIME_PROVIDER"]
    if chosen == "openai" and not settings.secret("openai_api_key"):
        return ["OPENAI_API_KEY"]
    if chosen == "gemini" and not settings.secret("google_api_key"):
        return ["GOOGLE_API_KEY"]
    return []


def session_properties(opts: RealtimeOptions):
    """The OpenAI Realtime session: audio in/out PCM16 24 kHz, voice, transcription, turns."""
    from pipecat.services.openai.realtime import events

    if opts.turn_detection == "semantic_vad":
        turns: Any = events.SemanticTurnDetection(
            eagerness=opts.eagerness,
            create_response=True,
            interrupt_response=opts.interruptions,
        )
    elif opts.turn_detection == "server_vad":
        turns = events.TurnDetection(
            threshold=opts.vad_threshold,
            prefix_padding_ms=opts.prefix_padding_ms,
            silence_duration_ms=opts.silence_duration_ms,
        )
    else:
        raise ValueError(
            f"unknown realtime turn detection '{opts.turn_detection}': "
            "use server_vad or semantic_vad"
        )
    return events.SessionProperties(
        output_modalities=["audio"],
        audio=events.AudioConfiguration(
            input=events.AudioInput(
                format=events.PCMAudioFormat(),
                transcription=events.InputAudioTranscription(model=opts.transcription_model),
                turn_detection=turns,
            ),
            output=events.AudioOutput(format=events.PCMAudioFormat(), voice=opts.voice),
        ),
    )


def local_realtime(session: Session) -> tuple[Any, bool]:
    """The caller's shared local Realtime server, or a new one owned by this session.

    Returns:
        ``(handle, owned)``: ``owned`` is True when the session must close it.

    """
    shared = getattr(session, "realtime", None)
    if shared is not None:
        return shared, False
    from realtime.local import LocalRealtime

    handle = LocalRealtime(
        session.settings,
        models=session.models,
        clinic_store=session.clinic_store,
        lexicon=session.lexicon,
    )
    return handle, True


def create_llm(session: Session, opts: RealtimeOptions) -> tuple[Any, Any]:
    """The speech-to-speech service for this session, and a local server it owns (or None)."""
    settings = session.settings
    chosen = provider(settings)
    if chosen == "gemini":
        from google.genai.types import HttpOptions
        from pipecat.services.google.gemini_live.llm import GeminiVADParams

        from realtime.gemini import EchoGeminiLiveLLMService

        gemini_settings = EchoGeminiLiveLLMService.Settings(
            voice=opts.gemini_voice,
            vad=GeminiVADParams(
                prefix_padding_ms=opts.prefix_padding_ms,
                silence_duration_ms=opts.silence_duration_ms,
            ),
        )
        if opts.gemini_model:
            gemini_settings.model = opts.gemini_model
        base_url = opts.gemini_base_url
        llm = EchoGeminiLiveLLMService(
            api_key=settings.secret("google_api_key"),
            system_instruction=SYSTEM_PROMPT,
            tools=TOOLS_SCHEMA,
            settings=gemini_settings,
            http_options=HttpOptions(base_url=base_url) if base_url else None,
            max_reconnects=opts.max_reconnects,
            setup_wait_secs=settings.provider_timeout_secs,
        )
        if not settings.failover:
            return llm, None
        return with_local_standby(session, opts, llm, name="gemini")

    owned = None
    before_connect = None
    if chosen == "local" and not opts.base_url:
        handle, is_owned = local_realtime(session)
        base_url, before_connect = handle.url, handle.start
        owned = handle if is_owned else None
        api_key = "echo-local"  # the in-process server takes no key
    else:
        base_url = opts.base_url or OPENAI_REALTIME_URL
        api_key = settings.secret("openai_api_key") or "echo-local"
    llm = realtime_service(opts, api_key=api_key, base_url=base_url, before_connect=before_connect)
    if chosen == "openai" and settings.failover:
        return with_local_standby(session, opts, llm, name="openai")
    return llm, owned


def with_local_standby(session: Session, opts: RealtimeOptions, cloud: Any, *, name: str):
    """The cloud service with the local server behind it (pipelines/failover_realtime.py).

    Returns:
        ``(switcher, owned)``: ``owned`` is a local server this session must close, or None.
    """
    from pipelines.failover_realtime import with_realtime_failover

    handle, is_owned = local_realtime(session)
    standby = realtime_service(
        opts,
        api_key="echo-local",
        base_url=handle.url,
        before_connect=handle.start,
        connect_lazily=True,
    )
    llm = with_realtime_failover(session, cloud, standby, name=name)
    return llm, handle if is_owned else None


def realtime_service(opts: RealtimeOptions, **kwargs: Any) -> Any:
    """An :class:`realtime.client.EchoOpenAIRealtimeLLMService` with the session's options.

    Args:
        opts: The speech-native options.
        **kwargs: ``api_key``, ``base_url``, ``before_connect``, ``connect_lazily``.
    """
    from realtime.client import EchoOpenAIRealtimeLLMService

    return EchoOpenAIRealtimeLLMService(
        interruptions=opts.interruptions,
        max_reconnects=opts.max_reconnects,
        settings=EchoOpenAIRealtimeLLMService.Settings(
            model=opts.model,
            system_instruction=SYSTEM_PROMPT,
            session_properties=session_properties(opts),
        ),
        **kwargs,
    )


def build(session: Session) -> PipelineWorker:
    """Build the speech-native pipeline worker for one conversation."""
    opts = RealtimeOptions.from_settings(session.settings)
    llm, owned_server = create_llm(session, opts)

    _, tools = clinic_brain_and_tools(session, local=False)
    tools.register(llm)

    # The instructions travel as the session's system instruction, not as a context message.
    context = LLMContext(messages=[], tools=TOOLS_SCHEMA)
    aggregators = LLMContextAggregatorPair(context)

    images = VisionConversation(
        settings=session.settings,
        lexicon=session.lexicon,
        audit=session.audit,
        session_id=session.session_id,
        camera=session.transport_name in CAMERA_TRANSPORTS,
        to_model=True,
    )
    session.vision = images
    pipeline = Pipeline(
        [
            session.transport.input(),
            CameraFrameGrabber(conversation=images, prefetch=images.camera),
            aggregators.user(),
            llm,
            session.transport.output(),
            aggregators.assistant(),
        ]
    )
    worker = PipelineWorker(
        pipeline,
        params=PipelineParams(enable_metrics=True, enable_usage_metrics=True),
        observers=list(session.observers),
        **worker_options(session),
        # A session-ending Realtime error (rejected key, unknown model/voice, a dropped
        # socket that could not be re-established) ends the call, after it is recorded;
        # with failover, only once the local server has failed too.
        processor_unusable_policy=ProcessorUnusablePolicy.END,
    )

    images.worker = worker
    if images.camera:
        capture_camera_on_connect(session.transport)
    if owned_server is not None:

        @worker.event_handler("on_pipeline_finished")
        async def on_pipeline_finished(worker, frame):
            await owned_server.close()

    attach_session_events(worker, session)

    return worker
