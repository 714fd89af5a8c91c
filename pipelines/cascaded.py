"""The cascaded variant.

transport-in → Silero VAD + smart-turn v3 → STT → vocabulary correction → user context
aggregator → LLM (+ clinic tools) → TTS → transport-out → assistant context aggregator,
with barge-in on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pipecat.audio.turn.smart_turn.local_smart_turn_v3 import LocalSmartTurnAnalyzerV3
from pipecat.audio.vad.silero import SileroVADAnalyzer
from pipecat.audio.vad.vad_analyzer import VADParams
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
)
from pipecat.turns.user_stop import (
    SpeechTimeoutUserTurnStopStrategy,
    TurnAnalyzerUserTurnStopStrategy,
)
from pipecat.turns.user_turn_strategies import UserTurnStrategies

import providers
from clinic.tool_schemas import TOOLS_SCHEMA
from config import EchoSettings
from pipelines import (
    Session,
    attach_session_events,
    clinic_brain_and_tools,
    provider_context,
    worker_options,
)
from pipelines.failover import with_failover
from processors.caller_cues import CallerCuesProcessor
from processors.filler import attach_filler

DESCRIPTION = "VAD + smart-turn → STT → vocabulary correction → LLM + clinic tools → TTS"

SYSTEM_PROMPT = (
    "You are Echo, the voice assistant of a telehealth clinic's phone line. SAFETY FIRST: if "
    "the caller mentions a medical emergency (chest pain, trouble breathing, someone "
    "unresponsive, stroke signs, severe bleeding, thoughts of suicide or self-harm), your first "
    "sentence tells them to call 911 now (for suicidal thoughts also 988); never diagnose or "
    "give medical advice. With the tools you find providers and the earliest openings, book, "
    "move and cancel appointments, send refill requests, arrange a call-back or transfer, and "
    "answer questions about the clinic with clinic_info only: never answer hours, address, "
    "insurance, policies, languages or a provider's services from memory; if the tool does not "
    "know, say so and who can answer. Before reading or changing appointments from earlier "
    "calls, identify the caller with verify_identity (full name and date of birth). Always "
    "confirm provider, day and time and get a yes before booking or moving. Your answers are "
    "spoken aloud: at most two short sentences, one question at a time, no markdown, no lists. "
    "Say times like '10:30 AM' and dates like 'Tuesday, December 1st'. Never invent a "
    "provider, a slot or a clinic fact. Out-of-scope requests get a short, polite decline."
)


# The local brain's tools answer in milliseconds: only these get a filler.
SLOW_LOCAL_TOOLS = frozenset({"read_image"})


def requirements(settings: EchoSettings) -> list[str]:
    """Environment variables this variant still needs (none on the local defaults)."""
    missing = []
    for kind in providers.PROVIDERS:
        try:
            providers.select(kind, settings)
        except providers.MissingKeyError as e:
            missing.append(e.variable)
    return missing


def user_turn_params(
    settings: EchoSettings, *, pause_listeners: Sequence[Any] = ()
) -> LLMUserAggregatorParams:
    """VAD and end-of-turn strategy for the user aggregator.

    Silero VAD, then smart-turn v3 through :class:`pipelines.turn_taking.EchoTurnStopStrategy`
    (waits for every VAD segment's transcript; holds on visibly unfinished text), or a plain
    speech timeout with smart-turn off. With speculation on (``turn_speculation_secs`` ≥ 0)
    the VAD announces pauses to smart-turn and to ``pause_listeners`` (the STT service), which
    start their work while the VAD still waits (``pipelines.speculation``). The defaults and
    the study behind them are in ``docs/latency.md``.

    Args:
        settings: Echo's settings.
        pause_listeners: Objects with ``on_speech_pause`` / ``on_speech_resume``.
    """
    from pipecat.audio.turn.smart_turn.base_smart_turn import SmartTurnParams

    from pipelines.speculation import PauseSignallingSileroVAD, SpeculativeSmartTurnV3
    from pipelines.turn_taking import EchoTurnStopStrategy, TurnTaking

    knobs = TurnTaking.from_settings(settings)
    speculate = knobs.speculation_secs >= 0
    vad_params = VADParams(
        confidence=knobs.vad_confidence,
        start_secs=knobs.vad_start_secs,
        stop_secs=knobs.vad_stop_secs,
    )
    if speculate:
        vad = PauseSignallingSileroVAD(params=vad_params, pause_secs=knobs.speculation_secs)
        for listener in pause_listeners:
            vad.add_pause_listener(listener)
    else:
        vad = SileroVADAnalyzer(params=vad_params)
    stop: list[TurnAnalyzerUserTurnStopStrategy | SpeechTimeoutUserTurnStopStrategy]
    if knobs.smart_turn:
        smart_turn_params = SmartTurnParams(stop_secs=knobs.smart_turn_fallback_secs)
        if speculate:
            analyzer = SpeculativeSmartTurnV3(
                params=smart_turn_params, stop_secs=knobs.vad_stop_secs
            )
            vad.add_pause_listener(analyzer)
        else:
            analyzer = LocalSmartTurnAnalyzerV3(params=smart_turn_params)
        strategy = EchoTurnStopStrategy(turn_analyzer=analyzer, holds=knobs.holds)
        if speculate:
            vad.add_onset_listener(strategy)
        stop = [strategy]
    else:
        stop = [SpeechTimeoutUserTurnStopStrategy(user_speech_timeout=knobs.vad_stop_secs)]
    return LLMUserAggregatorParams(
        vad_analyzer=vad, user_turn_strategies=UserTurnStrategies(stop=stop)
    )


def prepare_replies(session: Session, *, stt, local_tts: bool, brain, tools, context) -> Any:
    """Synthesize the local brain's likely reply at each pause (``tts_speculative_reply``).

    Returns the :class:`~pipelines.speculative_reply.ReplyPreparer`, or ``None`` when a
    service is not local (a cloud STT, LLM or TTS has no speculation or no shared cache).
    """
    settings = session.settings
    phrases = getattr(session.models, "phrases", None)
    listeners = getattr(stt, "speculation_listeners", None)
    if not (settings.tts_speculative_reply and brain and phrases is not None and local_tts):
        return None
    from pipelines.speculative_reply import ReplyPreparer
    from pipelines.turn_taking import TurnTaking

    if listeners is None or TurnTaking.from_settings(settings).speculation_secs < 0:
        return None

    correct = None
    if session.lexicon is not None and settings.vocabulary_correction:
        from vocabulary import correct as vocabulary_correct

        def correct(text: str) -> str:
            return vocabulary_correct(text, session.lexicon).text

    preparer = ReplyPreparer(
        brain=brain,
        tools=tools,
        context=context,
        phrases=phrases,
        voice=session.models.piper(),
        correct=correct,
    )
    listeners.append(preparer.on_speculative_transcript)
    return preparer


def build(session: Session) -> PipelineWorker:
    """Build the cascaded pipeline worker for one conversation."""
    settings = session.settings
    specs = {kind: providers.select(kind, settings) for kind in providers.PROVIDERS}
    brain, tools = clinic_brain_and_tools(session, local=specs["llm"].local)
    ctx = provider_context(session, brain)
    stt = specs["stt"].create(ctx)
    llm = specs["llm"].create(ctx)
    tts = specs["tts"].create(ctx)
    stt, llm, tts = with_failover(session, specs, ctx, stt=stt, llm=llm, tts=tts)

    tools.register(llm)
    attach_filler(llm, tts, slow_tools=SLOW_LOCAL_TOOLS if specs["llm"].local else None)

    context = LLMContext(
        messages=[{"role": "system", "content": SYSTEM_PROMPT}], tools=TOOLS_SCHEMA
    )
    listeners = [stt] if hasattr(stt, "on_speech_pause") else []
    if hasattr(stt, "conversation"):
        stt.conversation = context  # the bot's last line biases what it hears next
    aggregators = LLMContextAggregatorPair(
        context, user_params=user_turn_params(settings, pause_listeners=listeners)
    )

    prepare_replies(
        session,
        stt=stt,
        local_tts=specs["tts"].local,
        brain=brain,
        tools=tools,
        context=context,
    )
    stages = [session.transport.input(), stt]
    if session.lexicon is not None and settings.vocabulary_correction:
        from processors.vocabulary_correction import VocabularyCorrectionProcessor

        stages.append(VocabularyCorrectionProcessor(lexicon=session.lexicon, context=context))
    stages.append(CallerCuesProcessor(on_cues=brain.note_cue if brain else None))
    stages += [aggregators.user(), llm, tts, session.transport.output(), aggregators.assistant()]

    worker = PipelineWorker(
        Pipeline(stages),
        params=PipelineParams(enable_metrics=True, enable_usage_metrics=True),
        observers=list(session.observers),
        **worker_options(session),
    )

    attach_session_events(worker, session)

    return worker
