"""The vision variant: the cascaded chain, plus images the caller shows.

transport-in (audio + camera on request) → camera frame grabber → Silero VAD + smart-turn v3
→ STT → vocabulary correction → user context aggregator → image history limiter → LLM
(+ clinic tools + ``read_image``) → TTS → transport-out → assistant context aggregator.

Images arrive two ways in one call: an upload (``POST /api/vision/image?pc_id=…``, see
:mod:`vision.routes`) joins the LLM context as an image message and is read at once; the
camera (a video track on the same WebRTC connection) is captured on request only
(Pipecat's ``UserImageRequestFrame`` → ``UserImageRawFrame``): with
``vision_camera_mode=prefetch`` (default) one frame as the caller starts speaking, read
while they talk, and one when ``read_image`` runs, which reuses the first reading if the
scene is unchanged. Nothing streams to the model. With a vision model endpoint configured
(:mod:`vision.providers`) the LLM sees the images; otherwise the local reader (OCR) reads
them and the brain speaks its answer.
"""

from __future__ import annotations

from pipecat.adapters.llm.schemas.tools_schema import ToolsSchema
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair

import providers
from clinic.tool_schemas import TOOLS_SCHEMA
from config import EchoSettings, MissingKeyError
from pipelines import (
    Session,
    attach_session_events,
    clinic_brain_and_tools,
    provider_context,
    worker_options,
)
from pipelines.cascaded import SYSTEM_PROMPT, user_turn_params
from pipelines.failover import with_failover
from processors.caller_cues import CallerCuesProcessor
from processors.filler import attach_filler
from vision.conversation import VisionConversation
from vision.processors import CameraFrameGrabber, ImageHistoryLimiter, capture_camera_on_connect
from vision.providers import create_vision_llm, select_vision
from vision.tools import READ_IMAGE_SCHEMA, VisionTools

DESCRIPTION = "cascaded + images (camera on request, uploads): local OCR reader or a vision model"
VIDEO_IN = True  # the server opens SmallWebRTC with video in for this variant
CAMERA_TRANSPORTS = ("smallwebrtc",)
# A reading this close to done is worth waiting for: a filler would hold the answer back
# until it has been spoken (about 1.4 s).
FILLER_GRACE_SECS = 0.4

VISION_PROMPT = (
    " The caller can show you an image: an upload or their camera. To look at it, call "
    "read_image with the caller's words and say its 'answer'. Only say what the image shows; "
    "never diagnose. For a skin concern offer a dermatology appointment."
)


def requirements(settings: EchoSettings) -> list[str]:
    """Environment variables this variant still needs (none on the local defaults)."""
    from pipelines.cascaded import requirements as cascaded_requirements

    missing = cascaded_requirements(settings)
    try:
        select_vision(settings)
    except MissingKeyError as e:
        missing.append(e.variable)
    return missing


def build(session: Session) -> PipelineWorker:
    """Build the vision pipeline worker for one conversation."""
    settings = session.settings
    specs = {kind: providers.select(kind, settings) for kind in providers.PROVIDERS}
    vision_model = select_vision(settings) != "local"
    local_llm = specs["llm"].local and not vision_model
    brain, clinic_tools = clinic_brain_and_tools(session, local=local_llm, vision=True)
    ctx = provider_context(session, brain)
    stt = specs["stt"].create(ctx)
    llm = create_vision_llm(settings) if vision_model else specs["llm"].create(ctx)
    tts = specs["tts"].create(ctx)
    # A cloud LLM (a vision model, or OpenAI reading the local reader's answers) falls
    # back to the clinic brain with the local reader, as the cascaded LLM does.
    cloud_llm = select_vision(settings) if vision_model else None
    stt, llm, tts = with_failover(
        session, specs, ctx, cloud_llm=cloud_llm, vision=True, stt=stt, llm=llm, tts=tts
    )

    conversation = VisionConversation(
        settings=settings,
        lexicon=session.lexicon,
        audit=session.audit,
        session_id=session.session_id,
        camera=session.transport_name in CAMERA_TRANSPORTS,
    )
    session.vision = conversation
    clinic_tools.register(llm)
    vision_tools = VisionTools(conversation, append_camera=not local_llm)
    vision_tools.register(llm)
    _no_camera_in_context_after_failover(llm, vision_tools)
    if local_llm:
        _filler_while_reading(llm, tts, conversation)
    else:
        attach_filler(llm, tts, slow_tools=None)  # a cloud round trip per tool call

    tools = ToolsSchema(standard_tools=[*TOOLS_SCHEMA.standard_tools, READ_IMAGE_SCHEMA])
    context = LLMContext(
        messages=[{"role": "system", "content": SYSTEM_PROMPT + VISION_PROMPT}], tools=tools
    )
    listeners = [stt] if hasattr(stt, "on_speech_pause") else []
    if hasattr(stt, "conversation"):
        stt.conversation = context  # the bot's last line biases what it hears next
    aggregators = LLMContextAggregatorPair(
        context, user_params=user_turn_params(settings, pause_listeners=listeners)
    )

    grabber = CameraFrameGrabber(
        conversation=conversation,
        prefetch=conversation.camera and settings.vision_camera_mode == "prefetch",
    )
    stages = [session.transport.input(), grabber, stt]
    if session.lexicon is not None and settings.vocabulary_correction:
        from processors.vocabulary_correction import VocabularyCorrectionProcessor

        stages.append(VocabularyCorrectionProcessor(lexicon=session.lexicon, context=context))
    stages.append(CallerCuesProcessor(on_cues=brain.note_cue if brain else None))
    stages += [
        aggregators.user(),
        ImageHistoryLimiter(keep=settings.vision_max_images),
        llm,
        tts,
        session.transport.output(),
        aggregators.assistant(),
    ]

    worker = PipelineWorker(
        Pipeline(stages),
        params=PipelineParams(enable_metrics=True, enable_usage_metrics=True),
        observers=list(session.observers),
        **worker_options(session),
    )
    conversation.worker = worker
    attach_session_events(worker, session)
    if conversation.camera:
        capture_camera_on_connect(session.transport, latest=settings.vision_camera_mode == "latest")
    return worker


def _filler_while_reading(llm, tts, conversation: VisionConversation) -> None:
    """Say the filler when ``read_image`` starts and the reading is not ready yet.

    An upload is read as it arrives and a camera frame as the caller starts speaking, so
    most turns have their reading at hand: a filler then would only delay the answer.
    """
    from pipecat.frames.frames import TTSSpeakFrame

    from clinic.wording.phrases import FILLER

    @llm.event_handler("on_function_calls_started")
    async def on_function_calls_started(service, function_calls):
        names = [c.function_name for c in function_calls]
        if "read_image" in names and not await conversation.reading_ready(FILLER_GRACE_SECS):
            await tts.queue_frame(TTSSpeakFrame(FILLER))


def _no_camera_in_context_after_failover(llm, vision_tools: VisionTools) -> None:
    """Once the local brain took over from a cloud LLM, camera frames stay out of its context.

    The local brain answers from the local reader's reading, not from the image itself.
    """
    strategy = getattr(llm, "strategy", None)
    if strategy is None:
        return

    @strategy.event_handler("on_service_switched")
    async def on_service_switched(strategy, service):
        vision_tools.append_camera = False
