"""Cloud stages fall back to the local models: Pipecat's ServiceSwitcher, failover strategy.

When a stage's chosen provider is a cloud one (Deepgram, OpenAI, Cartesia, a vision model)
and ``ECHO_FAILOVER`` is on (the default), :func:`with_failover` puts it in a Pipecat
``ServiceSwitcher`` (``LLMSwitcher`` for the LLM) with ``ServiceSwitcherStrategyFailover``,
cloud first and the stage's local model second (Whisper, the clinic brain, Piper). The
strategy switches when the active service reports an error and is no longer usable; a
:class:`pipelines.failover_watch.StageWatchdog` on the cloud service makes sure it does on
the faults Pipecat's services wait out (no answer, a stream dropped mid-turn).

On a switch the :class:`Failover` coordinator files a ``failover`` audit record (stage,
from, to, reason, whether a turn was in progress: no key, no transcript), logs one line
with the same fields, and when a turn was in progress the caller hears one short apology
(once per call) and the local model answers that turn: the caller's audio of the turn is
replayed into Whisper, the LLM context is handed to the local brain, the words the cloud
TTS did not speak are spoken by Piper. The speech-native variant's Realtime stage is
:mod:`pipelines.failover_realtime`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from loguru import logger
from pipecat.frames.frames import LLMContextFrame, TTSSpeakFrame
from pipecat.pipeline.llm_switcher import LLMSwitcher
from pipecat.pipeline.service_switcher import ServiceSwitcher, ServiceSwitcherStrategyFailover
from pipecat.processors.frame_processor import FrameProcessor

from pipelines.failover_watch import StageWatchdog, failover_record, unspoken_text

APOLOGY = "Sorry, one moment."
LOCAL_FALLBACK = {"stt": "whisper", "llm": "local", "tts": "piper"}
# How a local service takes over from the failed one: (switcher, local, watchdog).
Recover = Callable[[Any, FrameProcessor, StageWatchdog], Awaitable[None]]


# --- the switchers and the coordinator ----------------------------------------------------


class FailoverLLMSwitcher(LLMSwitcher):
    """An ``LLMSwitcher`` whose unknown events are those of its LLMs (e.g. a filler's).

    ``on_function_calls_started`` and the like are events of an ``LLMService``, not of a
    switcher: a handler added here is added to every LLM it holds.
    """

    def add_event_handler(self, event_name: str, handler):
        """Add ``handler`` here, or to each member LLM when the event is theirs."""
        if event_name in self._event_handlers:
            super().add_event_handler(event_name, handler)
            return
        for llm in self.llms:
            llm.add_event_handler(event_name, handler)


class Failover:
    """One call's failover: the switchers, their watchdogs, the apology, the records.

    Args:
        audit: The session's audit recorder (``submit(kind, body)``) or None.
        timeout_secs: ``ECHO_PROVIDER_TIMEOUT_SECS``.
    """

    def __init__(self, *, audit: Any, timeout_secs: float):
        self.audit = audit
        self.timeout_secs = timeout_secs
        self.tts: FrameProcessor | None = None  # where the apology is spoken
        # Speaks the apology itself, given the switcher (a stage with no TTS: Realtime).
        self.apology: Callable[[Any], Awaitable[None]] | None = None
        self.apologized = False
        self.switches: list[dict] = []
        self._names: dict[int, str] = {}

    def wrap(
        self,
        stage: str,
        cloud: FrameProcessor,
        local: FrameProcessor,
        *,
        names: tuple[str, str],
        watchdog: StageWatchdog | None = None,
        recover: Recover | None = None,
    ) -> FrameProcessor:
        """``cloud`` and ``local`` in a failover switcher, cloud first, watched.

        Args:
            stage: ``stt``, ``llm``, ``tts`` or ``realtime`` (an LLM switcher).
            cloud: The cloud service.
            local: Its local fallback.
            names: The two providers' names, for the record.
            watchdog: The cloud service's watchdog (default: a ``StageWatchdog``).
            recover: How the local service takes over a turn (default: the stage's).
        """
        self._names[id(cloud)], self._names[id(local)] = names
        if watchdog is None:
            watchdog = StageWatchdog(stage=stage, service=cloud, timeout_secs=self.timeout_secs)
        recover = recover or RECOVER[stage]
        services = [cloud, local]
        if stage in ("llm", "realtime"):
            switcher = FailoverLLMSwitcher(services, ServiceSwitcherStrategyFailover)
        else:
            switcher = ServiceSwitcher(services, ServiceSwitcherStrategyFailover)

        async def on_service_switched(strategy, service):
            await self._switched(stage, switcher, watchdog, service, recover)

        switcher.strategy.add_event_handler("on_service_switched", on_service_switched)
        return switcher

    async def _switched(
        self,
        stage: str,
        switcher: FrameProcessor,
        watchdog: StageWatchdog,
        target: Any,
        recover: Recover,
    ) -> None:
        pending = watchdog.pending
        body = failover_record(
            stage,
            self._names.get(id(watchdog.service), "cloud"),
            self._names.get(id(target), "local"),
            watchdog.reason or "error",
            pending,
        )
        self.switches.append(body)
        if self.audit is not None:
            self.audit.submit("failover", dict(body))
        logger.warning(
            f"failover: stage={body['stage']} from={body['from']} to={body['to']} "
            f"reason={body['reason']} turn_in_progress={pending}"
        )
        if watchdog.ending:
            return
        if pending and watchdog.kept_waiting:
            # The TTS stage, or a stage that speaks itself (Realtime), apologizes itself.
            await self._apologize(switcher if stage in ("tts", "realtime") else self.tts)
        await recover(switcher, target, watchdog)

    async def _apologize(self, speaker: FrameProcessor | None) -> None:
        if self.apologized:
            return
        if self.apology is not None:
            self.apologized = True
            await self.apology(speaker)
        elif speaker is not None:
            self.apologized = True
            await speaker.queue_frame(TTSSpeakFrame(APOLOGY, append_to_context=False))


async def _recover_stt(switcher: Any, target: FrameProcessor, watchdog: StageWatchdog) -> None:
    """Give the segment's audio (and its VAD events) to the local STT.

    The frames already left the switcher once, so only the new transcript comes out.
    """
    if not watchdog.pending:
        return
    for frame, direction in watchdog.turn.take():
        await target.queue_frame(frame, direction)


async def _recover_llm(switcher: Any, target: FrameProcessor, watchdog: StageWatchdog) -> None:
    """Hand the context of the unanswered request to the local brain."""
    context, watchdog.context = watchdog.context, None
    if context is not None:
        await switcher.queue_frame(LLMContextFrame(context=context))


async def _recover_tts(switcher: Any, target: FrameProcessor, watchdog: StageWatchdog) -> None:
    """Speak what the cloud TTS was given and did not play."""
    rest = unspoken_text(watchdog.sent, watchdog.spoken)
    watchdog.sent, watchdog.spoken = [], []
    if rest:
        await switcher.queue_frame(TTSSpeakFrame(rest))


RECOVER: dict[str, Recover] = {
    "stt": _recover_stt,
    "llm": _recover_llm,
    "tts": _recover_tts,
}


def with_failover(
    session: Any,
    specs: dict,
    ctx: Any,
    *,
    cloud_llm: str | None = None,
    vision: bool = False,
    **services: Any,
) -> tuple[Any, ...]:
    """The stages' services, each cloud one wrapped with its local fallback.

    Args:
        session: The :class:`pipelines.Session` (settings, audit, models, store).
        specs: The chosen :class:`providers.ProviderSpec` per stage.
        ctx: The session's :class:`providers.ProviderContext`.
        cloud_llm: The name of a cloud LLM that ``specs`` does not describe (the vision
            variant's vision model): the ``llm`` service is that one.
        vision: The local brain falls back for the vision variant (knows ``read_image``).
        **services: The created services by stage (``stt=``, ``llm=``, ``tts=``), in
            the order they are returned.

    Returns:
        The services in the order given, cloud ones replaced by their switchers.
    """
    import providers

    settings = session.settings
    names = {s: specs[s].name for s in services if not specs[s].local}
    if cloud_llm is not None and "llm" in services:
        names["llm"] = cloud_llm
    if not settings.failover or not names:
        return tuple(services.values())
    failover = Failover(audit=session.audit, timeout_secs=settings.provider_timeout_secs)
    out = dict(services)
    for stage, name in names.items():
        local_spec = providers.PROVIDERS[stage][LOCAL_FALLBACK[stage]]
        local_ctx = ctx
        if stage == "llm" and ctx.brain is None:
            from dataclasses import replace

            from pipelines import clinic_brain_and_tools

            brain = clinic_brain_and_tools(session, local=True, vision=vision)[0]
            local_ctx = replace(ctx, brain=brain)
        local = local_spec.create(local_ctx)
        out[stage] = failover.wrap(stage, services[stage], local, names=(name, local_spec.name))
    failover.tts = out.get("tts")
    return tuple(out.values())
