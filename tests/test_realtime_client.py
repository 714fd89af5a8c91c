"""Echo's OpenAI Realtime service against the offline server: errors, drops, reconnects.

The service runs in a real Pipecat worker and connects over a real WebSocket to Echo's local
Realtime server, which stands in for the API exactly where the API would refuse a key, a
model or a voice, or drop the connection.
"""

from __future__ import annotations

import asyncio

import pytest
from pipecat.frames.frames import ErrorFrame, LLMRunFrame, TranscriptionFrame
from pipecat.observers.base_observer import BaseObserver, FramePushed
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker, ProcessorUnusablePolicy
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair
from pipecat.utils.errors import ErrorCategory
from pipecat.workers.runner import WorkerRunner

from clinic.tool_schemas import TOOLS_SCHEMA
from config import EchoSettings
from pipelines.speech_native import RealtimeOptions, session_properties
from providers.local import LocalModels
from realtime.client import EchoOpenAIRealtimeLLMService
from realtime.local import create_server
from realtime.protocol import messages_for_brain
from tests.conftest import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    settings = EchoSettings(_env_file=None, data_dir=tmp_path_factory.mktemp("rtc"))
    local = LocalModels(settings)
    local.warm_up()
    return settings, local


@pytest.fixture
async def rt_server(models):
    settings, local = models
    server = create_server(settings, models=local, api_key="sk-right")
    await server.start()
    yield server
    await server.close()


class Frames(BaseObserver):
    def __init__(self):
        super().__init__()
        self.errors: list[ErrorFrame] = []
        self.transcripts: list[TranscriptionFrame] = []
        self._seen: set[int] = set()

    async def on_push_frame(self, data: FramePushed):
        if data.frame.id in self._seen:
            return
        self._seen.add(data.frame.id)
        if isinstance(data.frame, ErrorFrame):
            self.errors.append(data.frame)


def service(server, *, api_key="sk-right", model="gpt-realtime", voice="alloy", **kwargs):
    opts = RealtimeOptions.from_settings(EchoSettings(_env_file=None), model=model, voice=voice)
    return EchoOpenAIRealtimeLLMService(
        api_key=api_key,
        base_url=server.url,
        settings=EchoOpenAIRealtimeLLMService.Settings(
            model=model, system_instruction="Echo.", session_properties=session_properties(opts)
        ),
        **kwargs,
    )


async def run(llm, *, greet: bool = True):
    """Start a worker around ``llm``; returns (worker, task, observer)."""
    pair = LLMContextAggregatorPair(LLMContext(messages=[], tools=TOOLS_SCHEMA))
    frames = Frames()
    worker = PipelineWorker(
        Pipeline([pair.user(), llm, pair.assistant()]),
        params=PipelineParams(),
        observers=[frames],
        enable_rtvi=False,
        processor_unusable_policy=ProcessorUnusablePolicy.END,
    )
    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    task = asyncio.create_task(runner.run())
    if greet:
        await worker.queue_frames([LLMRunFrame()])
    return worker, task, frames


async def test_rejected_key_ends_the_session_with_a_clear_error(rt_server):
    llm = service(rt_server, api_key="sk-wrong")
    worker, task, frames = await run(llm)
    await asyncio.wait_for(task, 30)  # the session ended by itself
    assert llm.ended
    [error] = [e for e in frames.errors if "rejected the API key" in e.error]
    assert "HTTP 401" in error.error and "OPENAI_API_KEY" in error.error
    assert error.category is ErrorCategory.AUTHENTICATION


async def test_unknown_voice_ends_the_session_naming_the_setting(rt_server):
    llm = service(rt_server, voice="zeus")
    worker, task, frames = await run(llm)
    await asyncio.wait_for(task, 30)
    [error] = [e for e in frames.errors if "zeus" in e.error]
    assert "ECHO_REALTIME_VOICE" in error.error
    assert error.category is ErrorCategory.INVALID_REQUEST


async def test_unknown_model_ends_the_session_naming_the_setting(rt_server):
    llm = service(rt_server, model="gpt-9-ultra")
    worker, task, frames = await run(llm)
    await asyncio.wait_for(task, 30)
    [error] = [e for e in frames.errors if "gpt-9-ultra" in e.error]
    assert "model_not_found" in error.error and "ECHO_REALTIME_MODEL" in error.error


async def test_dropped_socket_reconnects_once_then_ends_the_session(rt_server):
    llm = service(rt_server, max_reconnects=1)
    lost: list[str] = []

    @llm.event_handler("on_connection_lost")
    async def on_lost(service, reason):
        lost.append(reason)

    worker, task, frames = await run(llm)
    try:
        # The greeting is spoken on the first connection.
        assert await wait_until(lambda: rt_server.connections, timeout=20)
        first = next(iter(rt_server.connections))
        assert await wait_until(
            lambda: (
                any(
                    i.get("role") == "assistant" and i["status"] == "completed" for i in first.items
                )
                and first.response is None
            ),
            timeout=30,
        )
        await asyncio.sleep(0.5)  # the greeting's text reaches the context

        # The network drops: no close handshake.
        first.ws.transport.abort()
        assert await wait_until(
            lambda: rt_server.connections and first not in rt_server.connections, timeout=20
        )
        second = next(iter(rt_server.connections))
        assert await wait_until(lambda: second.session["instructions"] == "Echo.", timeout=20)
        assert second.session["audio"]["output"]["voice"] == "alloy"
        assert second.session["tools"], "the tools were declared again"
        assert lost and not task.done() and not llm.ended
        # The conversation so far was put into the new connection.
        assert await wait_until(lambda: second.items, timeout=20)
        restored = messages_for_brain(second.session["instructions"], second.items)
        assert restored[0] == {"role": "system", "content": "Echo."}
        assert restored[1]["role"] == "assistant"
        assert restored[1]["content"].startswith("Hi, this is Echo")

        # It drops again: no reconnect left, the session ends and says why.
        second.ws.transport.abort()
        await asyncio.wait_for(task, 30)
        assert len(lost) == 2 and llm.ended
        [error] = [e for e in frames.errors if "no reconnect is left" in e.error]
        assert "session ended" in error.error
    finally:
        if not task.done():
            await worker.cancel()
            await task


async def test_interruptions_off_reaches_both_sides(rt_server):
    llm = service(rt_server, interruptions=False)
    worker, task, frames = await run(llm)
    try:
        assert await wait_until(lambda: rt_server.connections, timeout=20)
        conn = next(iter(rt_server.connections))
        assert await wait_until(lambda: conn.session["instructions"] == "Echo.", timeout=20)
        # The server keeps speaking over the user...
        assert conn.session["audio"]["input"]["turn_detection"]["interrupt_response"] is False
        # ...and the aggregator does not interrupt the bot when the user starts.
        assert llm.service_metadata_frame().user_turn_strategies.enable_interruptions is False
    finally:
        await worker.cancel()
        await task
