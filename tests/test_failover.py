"""Cloud providers against local servers speaking their wire protocols, and failover.

Deepgram's live WebSocket (``tests/fake_deepgram.py``, transcribing with Echo's Whisper),
OpenAI's streaming chat completions with tool calls (``tests/fake_openai.py``) and
Cartesia's TTS WebSocket (``tests/fake_cartesia.py``, speaking with Piper) each pass a
spoken turn over WebRTC with the real pipeline. Then each fault is injected through them
— a refused key, a provider that accepts and never answers, a stream dropped mid-turn —
and the call goes on on the stage's local model: voiced answers, a ``failover`` audit
record, a chain that verifies. After an LLM switch the local brain carries the booking
through (three turns); after an STT or TTS switch, where the LLM is unchanged, one turn
shows the caller heard and answered: its clinic tool call and a voiced reply.
"""

import asyncio
import json

import pytest
from aiohttp import web
from pydantic import SecretStr

from audit import open_store
from audit.chain import verify_chain
from clinic.identity import make_token
from clinic.store import ClinicStore
from config import EchoSettings
from pipelines.failover_watch import failover_reason, unspoken_text
from tests.conftest import LiveServer, wait_until
from tests.fake_cartesia import FakeCartesia
from tests.fake_deepgram import FakeDeepgram
from tests.fake_openai import FakeOpenAI
from tests.test_conversation import a_later_weekday, say_and_listen
from transports.webrtc_client import EchoCaller

PATIENT = "patient-failover-test"
SECRET = "host-application-secret"
KEYS = {"deepgram": "dg-test-key-123", "openai": "sk-test-key-456", "cartesia": "ca-test-key-789"}


@pytest.fixture
def settings(tmp_path) -> EchoSettings:
    return EchoSettings(
        _env_file=None,
        data_dir=tmp_path / "data",
        patient_token_secret=SECRET,
        provider_timeout_secs=1.5,
    )


class ClinicFakeOpenAI(FakeOpenAI):
    """The OpenAI fake with faults and one clinic tool call per caller turn.

    ``mode``: ``ok`` (calls ``find_provider`` for the caller's words, then speaks),
    ``refuse`` (401 with OpenAI's error body), ``silent`` (never answers), ``drop`` (a few
    chunks, then the connection dies).
    """

    def __init__(self, mode: str = "ok"):
        super().__init__(mode="chat", reply="Dr. Patel can see you, shall I look for a time?")
        self.fault = mode

    def decide(self, body: dict):
        messages = body.get("messages", [])
        last = messages[-1] if messages else {}
        if last.get("role") == "user":
            return None, {"name": "find_provider", "arguments": json.dumps({"name": "Patel"})}
        if last.get("role") == "tool":
            return self.reply, None
        return "Hello, this is Echo, how can I help?", None

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        fault = self.fault
        if fault == "refuse":
            await request.read()
            error = {
                "message": "Incorrect API key provided.",
                "type": "invalid_request_error",
                "code": "invalid_api_key",
            }
            return web.json_response({"error": error}, status=401)
        if fault == "silent":
            self.requests.append(await request.json())
            while self.fault == "silent":  # accepted, never answered (until the test ends)
                await asyncio.sleep(0.1)
            return web.Response(status=503)
        if fault == "drop":
            self.fault = "ok"
            self.requests.append(await request.json())
            res = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
            await res.prepare(request)
            chunk = {
                "id": "chatcmpl-test",
                "object": "chat.completion.chunk",
                "created": 0,
                "model": "test",
                "choices": [{"index": 0, "delta": {"role": "assistant"}, "finish_reason": None}],
            }
            await res.write(f"data: {json.dumps(chunk)}\n\n".encode())
            request.transport.abort()
            return res
        return await super()._completions(request)

    def __exit__(self, *exc) -> None:
        self.fault = "closed"
        super().__exit__(*exc)


def whisper_for(server: LiveServer):
    transcriber = server.app.state.runtime.models.transcriber(None)
    return lambda pcm: transcriber.transcribe(pcm.astype("float32") / 32768.0).text


def with_cloud(settings: EchoSettings, *, deepgram=None, openai=None, cartesia=None):
    update = {}
    if deepgram is not None:
        update |= {
            "deepgram_api_key": SecretStr(KEYS["deepgram"]),
            "deepgram_base_url": deepgram.url,
        }
    if openai is not None:
        update |= {"openai_api_key": SecretStr(KEYS["openai"]), "openai_base_url": openai.url}
    if cartesia is not None:
        update |= {
            "cartesia_api_key": SecretStr(KEYS["cartesia"]),
            "cartesia_base_url": cartesia.url,
        }
    return settings.model_copy(update=update)


async def connect(server: LiveServer) -> EchoCaller:
    token = make_token(PATIENT, SECRET)
    caller = EchoCaller(server.url, pipeline="cascaded", request_data={"patient_token": token})
    await caller.connect()
    assert await caller.wait_for_voice(since=0.0, timeout=30), "no greeting"
    await caller.wait_for_silence(quiet=1.2, timeout=30)
    return caller


async def book(caller: EchoCaller, speak, day: str) -> None:
    await say_and_listen(caller, speak, f"I'd like to see Doctor Patel on {day}.")
    await say_and_listen(caller, speak, "The first one, please.")
    await say_and_listen(caller, speak, "Yes, please book it.")


async def ask(caller: EchoCaller, speak, day: str) -> None:
    """The first booking turn only."""
    await say_and_listen(caller, speak, f"I'd like to see Doctor Patel on {day}.")


def assert_tools_after_switch(records) -> None:
    """A caller's turn after the switch was answered with the clinic's tools."""
    switched = min(r.seq for r in records if r.kind == "failover")
    turns = [r.body for r in records if r.kind == "turn" and r.seq > switched]
    assert any(t["tool_calls"] for t in turns), turns


async def finished_records(settings: EchoSettings) -> list:
    audit = open_store(settings)
    await wait_until(lambda: any(r.kind == "session_end" for r in audit.iter_records()), 20)
    records = list(audit.iter_records())
    audit.close()
    assert verify_chain(records).ok
    return records


def booked(settings: EchoSettings) -> list:
    store = ClinicStore(settings.resolved_clinic_db(), timezone=settings.clinic_timezone)
    return store.appointments_for(PATIENT)


# --- the rules ------------------------------------------------------------------------------


def test_failover_reasons():
    from pipecat.utils.errors import ErrorCategory as C

    assert failover_reason(C.AUTHENTICATION) == "refused"
    assert failover_reason(C.CONNECTIVITY) == "unreachable"
    assert failover_reason(C.SERVER) == "error"
    assert failover_reason(C.UNKNOWN) == "error"
    assert failover_reason(C.APPLICATION) is None  # a tool's failure is not the provider's


def test_unspoken_text_is_what_was_not_played():
    sent = ["You're booked with Dr. Patel.", "Anything else?"]
    assert unspoken_text(sent, ["You're", "booked"]) == "with Dr. Patel. Anything else?"
    assert unspoken_text(sent, []) == "You're booked with Dr. Patel. Anything else?"
    assert unspoken_text(["Hi."], ["Hi."]) == ""


# --- conformance: each provider passes a spoken turn against its fake -----------------------


@pytest.mark.slow
async def test_cloud_providers_pass_a_spoken_turn(settings, speak, piper_voice, capfd):
    with (
        FakeDeepgram(transcribe=lambda pcm: "") as deepgram,
        ClinicFakeOpenAI() as openai,
        FakeCartesia(voice=piper_voice) as cartesia,
        LiveServer(
            with_cloud(settings, deepgram=deepgram, openai=openai, cartesia=cartesia)
        ) as server,
    ):
        deepgram.transcribe = whisper_for(server)
        caller = await connect(server)
        try:
            await say_and_listen(caller, speak, "Which doctors do dermatology?")
        finally:
            await caller.close()
        records = await finished_records(server.settings)

    start = next(r.body for r in records if r.kind == "session_start")
    assert {k: v["provider"] for k, v in start["providers"].items()} == {
        "stt": "deepgram",
        "llm": "openai",
        "tts": "cartesia",
    }
    assert not [r for r in records if r.kind == "failover"]
    # Deepgram: the key as a token, linear16 at the pipeline rate, a real transcript that
    # reached the LLM as the caller's turn.
    assert deepgram.keys[0] == f"Token {KEYS['deepgram']}"
    assert deepgram.queries[0]["encoding"] == "linear16"
    heard = [t for t in deepgram.finals if t]
    assert heard
    users = [m["content"] for b in openai.requests for m in b["messages"] if m["role"] == "user"]
    assert any(h in " ".join(map(str, users)) for h in heard)
    # OpenAI: the clinic tools offered, the tool call run and audited, its result sent back.
    assert "find_provider" in [t["function"]["name"] for t in openai.requests[-1]["tools"]]
    calls = [c for r in records if r.kind == "turn" for c in r.body["tool_calls"]]
    assert any(c["name"] == "find_provider" for c in calls), calls
    assert any(m["role"] == "tool" for b in openai.requests for m in b["messages"])
    # Cartesia: the key, one context per reply, its audio played (the words are the turn's).
    assert cartesia.keys[0] == KEYS["cartesia"]
    spoken = [b["transcript"] for b in cartesia.requests if b.get("transcript")]
    assert any("Patel" in s for s in spoken)
    turns = [r.body for r in records if r.kind == "turn"]
    assert any("Patel" in t["bot"]["spoken_text"] for t in turns)
    logged = capfd.readouterr().err
    assert not any(key in logged for key in KEYS.values())


# --- faults: the call goes on on the local model ------------------------------------------


def failovers(records) -> list[dict]:
    return [r.body for r in records if r.kind == "failover"]


def assert_failover(records, stage: str, source: str, target: str, reasons: set[str]):
    found = [b for b in failovers(records) if b["stage"] == stage]
    assert len(found) == 1, failovers(records)
    body = found[0]
    assert set(body) == {"stage", "from", "to", "reason", "turn_in_progress"}
    assert (body["from"], body["to"]) == (source, target)
    assert body["reason"] in reasons, body


@pytest.mark.slow
@pytest.mark.parametrize(
    "fault,reasons",
    [("refuse", {"refused"}), ("silent", {"timeout"}), ("drop", {"error", "unreachable"})],
)
async def test_stt_failover(settings, speak, fault, reasons):
    with FakeDeepgram(
        transcribe=lambda pcm: "", mode="refuse" if fault == "refuse" else "ok"
    ) as dg:
        with LiveServer(with_cloud(settings, deepgram=dg)) as server:
            dg.transcribe = whisper_for(server)
            caller = await connect(server)
            dg.mode = fault
            try:
                await ask(caller, speak, a_later_weekday(server.settings))
            finally:
                await caller.close()
            records = await finished_records(server.settings)
    assert_failover(records, "stt", "deepgram", "whisper", reasons)
    assert_tools_after_switch(records)


@pytest.mark.slow
@pytest.mark.parametrize(
    "fault,reasons",
    [("refuse", {"refused"}), ("silent", {"timeout"}), ("drop", {"error", "unreachable"})],
)
async def test_llm_failover(settings, speak, fault, reasons):
    with ClinicFakeOpenAI(mode="refuse" if fault == "refuse" else "ok") as openai:
        with LiveServer(with_cloud(settings, openai=openai)) as server:
            caller = await connect(server)
            openai.fault = fault
            try:
                # The whole booking once (the context handed over carries a conversation);
                # the other faults: the first turn, answered with the clinic's tools.
                steps = book if fault == "drop" else ask
                await steps(caller, speak, a_later_weekday(server.settings))
            finally:
                await caller.close()
            records = await finished_records(server.settings)
    assert_failover(records, "llm", "openai", "local", reasons)
    if fault == "drop":
        assert len(booked(server.settings)) == 1
    else:
        assert_tools_after_switch(records)


@pytest.mark.slow
@pytest.mark.parametrize(
    "fault,reasons",
    [("refuse", {"refused"}), ("silent", {"timeout"}), ("drop", {"dropped", "error"})],
)
async def test_tts_failover(settings, speak, piper_voice, fault, reasons):
    mode = "refuse" if fault == "refuse" else "ok"
    with FakeCartesia(voice=piper_voice, mode=mode) as cartesia:
        with LiveServer(with_cloud(settings, cartesia=cartesia)) as server:
            caller = await connect(server)
            cartesia.mode = fault
            try:
                await ask(caller, speak, a_later_weekday(server.settings))
            finally:
                await caller.close()
            records = await finished_records(server.settings)
    assert_failover(records, "tts", "cartesia", "piper", reasons)
    assert_tools_after_switch(records)


def test_failover_setting_wraps_cloud_stages_only(settings):
    """ECHO_FAILOVER on: cloud stages in a failover switcher, cloud first; off: untouched."""
    from types import SimpleNamespace

    from pipecat.pipeline.service_switcher import ServiceSwitcherStrategyFailover

    import providers
    from pipelines.failover import with_failover
    from providers.local import LocalModels

    cloud = with_cloud(settings, cartesia=SimpleNamespace(url="ws://127.0.0.1:9"))
    specs = {kind: providers.select(kind, cloud) for kind in ("stt", "tts")}
    ctx = providers.ProviderContext(settings=cloud, models=LocalModels(cloud))
    stt, tts = specs["stt"].create(ctx), specs["tts"].create(ctx)
    session = SimpleNamespace(settings=cloud, audit=None)
    wrapped_stt, wrapped_tts = with_failover(session, specs, ctx, stt=stt, tts=tts)
    assert wrapped_stt is stt  # Whisper is local: nothing to fall back to
    assert isinstance(wrapped_tts.strategy, ServiceSwitcherStrategyFailover)
    assert wrapped_tts.services[0] is tts
    assert type(wrapped_tts.services[1]).__name__ == "LocalPiperTTSService"
    off = SimpleNamespace(settings=cloud.model_copy(update={"failover": False}), audit=None)
    assert with_failover(off, specs, ctx, stt=stt, tts=tts) == (stt, tts)
