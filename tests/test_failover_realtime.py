"""The speech-native variant fails over from a cloud Realtime API to Echo's local server.

The "cloud" is Echo's offline Realtime server behind a proxy that injects a fault
(``tests/fake_realtime.py``): a refused key at the handshake, a socket accepted and never
answered, a stream dropped during the greeting's audio with its reconnect refused. Per
fault, one WebRTC call (one server for all): the call goes on on the local server (a
voiced greeting and a voiced answer to one question), the ``failover`` record is in the
audit trail, the chain verifies, and the caller heard at most one apology.
"""

from __future__ import annotations

import json

import pytest
from pydantic import SecretStr

import pipelines
from audit import open_store
from audit.chain import verify_chain
from config import EchoSettings
from pipelines.failover import APOLOGY
from tests.conftest import LiveServer, wait_until
from tests.fake_realtime import FaultyRealtime
from tests.test_conversation import say_and_listen
from transports.webrtc_client import EchoCaller

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    """One Echo server whose speech-native calls use the faulty "cloud" Realtime API."""
    # A cold upstream server takes a second or two to start its first response: a
    # shorter timeout would turn the drop into a timeout.
    base = EchoSettings(
        _env_file=None, data_dir=tmp_path_factory.mktemp("rt-failover"), provider_timeout_secs=3.0
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(pipelines.PIPELINES, "speech_native", "pipelines.speech_native")
        fake = FaultyRealtime(base, None)
        settings = base.model_copy(
            update={
                "realtime_provider": "openai",
                "openai_api_key": SecretStr("sk-test-realtime-123"),
                "realtime_base_url": fake.url,
            }
        )
        with LiveServer(settings) as server:
            fake.models = server.app.state.runtime.models
            with fake:
                yield server, fake


async def call(server: LiveServer, speak, greeted) -> None:
    """A call: the greeting, ``greeted()``, then one question."""
    caller = EchoCaller(server.url, pipeline="speech_native", request_data={"patient_id": "p-rt"})
    try:
        await caller.connect()
        assert await caller.wait_for_voice(since=0.0, timeout=40), "no greeting"
        await caller.wait_for_silence(quiet=1.5, timeout=40)
        greeted()
        await say_and_listen(caller, speak, "Which doctors do dermatology?")
        # An apology, then the local server's answer: wait through the gap between them
        # (the reconnect's refusal, the hand-over, the local decode: seconds on a busy CPU).
        await caller.wait_for_silence(quiet=5.0, timeout=60)
    finally:
        await caller.close()


def all_records(settings: EchoSettings) -> list:
    audit = open_store(settings)
    try:
        records = list(audit.iter_records())
    finally:
        audit.close()
    assert verify_chain(records).ok
    return records


def assert_realtime_failover(records, source: str, reason: str, pending: bool) -> list[dict]:
    """The call ended, with one ``failover`` record from ``source`` to the local server and
    the apology spoken once if the caller was waiting (never otherwise). Returns the call's
    ``turn`` record bodies."""
    assert any(r.kind == "session_end" for r in records)
    switches = [r.body for r in records if r.kind == "failover"]
    assert switches == [
        {
            "stage": "realtime",
            "from": source,
            "to": "local",
            "reason": reason,
            "turn_in_progress": pending,
        }
    ]
    turns = [r.body for r in records if r.kind == "turn"]
    spoken = " ".join(t["bot"]["spoken_text"] for t in turns if t["bot"])
    assert spoken.count(APOLOGY) == (1 if pending else 0)
    return turns


def assert_answered(turns: list[dict]) -> None:
    """The local server answered a question: a turn with the caller's words and a reply."""
    answered = [t for t in turns if (t["user"] or {}).get("final_transcript") and t["bot"]]
    assert answered and answered[-1]["bot"]["spoken_text"]


@pytest.mark.parametrize(
    "fault,reason,pending",
    [("refuse", "refused", False), ("silent", "timeout", True), ("drop", "dropped", True)],
)
async def test_realtime_fails_over_to_the_local_server(cloud, speak, fault, reason, pending):
    """``refuse`` and ``silent`` from the start (the local server greets); ``drop`` after
    the cloud greeted, as it starts answering the question (the local server hears the
    question replayed and answers it)."""
    server, fake = cloud
    fake.mode = "ok" if fault == "drop" else fault
    before = {r.session_id for r in all_records(server.settings)}
    await call(server, speak, greeted=lambda: setattr(fake, "mode", fault))
    runtime = server.app.state.runtime
    assert await wait_until(lambda: not runtime.sessions, timeout=30)
    records = [r for r in all_records(server.settings) if r.session_id not in before]
    turns = assert_realtime_failover(records, "openai", reason, pending)
    assert_answered(turns)  # the question, replayed or asked again, was answered


async def test_a_standby_takes_over_between_turns_without_answering(tmp_path):
    """No reply due: the local server connects, gets the conversation so far, and waits."""
    import asyncio

    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.pipeline.worker import PipelineParams, PipelineWorker
    from pipecat.processors.aggregators.llm_context import LLMContext
    from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair
    from pipecat.workers.runner import WorkerRunner

    from clinic.tool_schemas import TOOLS_SCHEMA
    from pipelines.speech_native import RealtimeOptions, realtime_service
    from providers.local import LocalModels
    from realtime.local import create_server

    settings = EchoSettings(_env_file=None, data_dir=tmp_path)
    server = create_server(settings, models=LocalModels(settings))
    await server.start()
    llm = realtime_service(
        RealtimeOptions.from_settings(settings),
        api_key="echo-local",
        base_url=server.url,
        connect_lazily=True,
    )
    pair = LLMContextAggregatorPair(LLMContext(messages=[], tools=TOOLS_SCHEMA))
    worker = PipelineWorker(
        Pipeline([pair.user(), llm, pair.assistant()]), params=PipelineParams(), enable_rtvi=False
    )
    runner = WorkerRunner(handle_sigint=False)
    await runner.add_workers(worker)
    task = asyncio.create_task(runner.run())
    try:
        await asyncio.sleep(1.0)
        assert not server.connections  # a standby connects only when given work
        context = LLMContext(
            messages=[
                {"role": "assistant", "content": "Hi, this is Echo."},
                {"role": "user", "content": "Which doctors do dermatology?"},
                {"role": "assistant", "content": "Dr. Patel does."},
            ],
            tools=TOOLS_SCHEMA,
        )
        await llm.take_over(context, respond=False)
        conn = await wait_until(lambda: next(iter(server.connections), None), 20)
        # Pipecat's adapter sends a history as one item that quotes the conversation.
        assert await wait_until(lambda: conn.items, 20)
        restored = json.dumps(conn.items)
        assert "Which doctors do dermatology?" in restored and "Dr. Patel does." in restored
        await asyncio.sleep(1.0)
        assert conn.response is None  # nobody asked: it waits for the caller
    finally:
        await worker.cancel()
        await task
        await server.close()
