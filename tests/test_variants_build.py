"""Every registered variant builds, over every transport, without network."""

import pytest
from pipecat.pipeline.worker import PipelineWorker

import pipelines
from cli import main as cli_main
from runtime import EchoRuntime
from transports import TRANSPORTS


def transport_options(name):
    if name == "smallwebrtc":
        from pipecat.transports.smallwebrtc.connection import SmallWebRTCConnection

        return {"connection": SmallWebRTCConnection(ice_servers=[])}
    if name == "daily":
        return {"room_url": "https://example.daily.co/echo-test", "token": None}
    if name in ("twilio", "websocket"):
        from starlette.websockets import WebSocket

        async def never(*_):
            raise AssertionError("the socket is not used while building")

        websocket = WebSocket({"type": "websocket", "path": "/", "headers": []}, never, never)
        if name == "twilio":
            return {"websocket": websocket, "stream_sid": "MZ0", "call_sid": "CA0"}
        return {"websocket": websocket}
    return {}


def processor_names(processor) -> list[str]:
    names = [type(processor).__name__]
    for child in getattr(processor, "processors", []) or []:
        names += processor_names(child)
    return names


@pytest.fixture
def runtime(settings):
    return EchoRuntime(settings)


@pytest.mark.parametrize("variant", sorted(pipelines.PIPELINES))
@pytest.mark.parametrize("transport", sorted(TRANSPORTS))
def test_variant_builds(runtime, variant, transport):
    module = pipelines.get_variant(variant)
    assert module.requirements(runtime.settings) == []
    t = TRANSPORTS[transport].create(**transport_options(transport))
    session = runtime.new_session(transport=t, transport_name=transport)
    worker = module.build(session)
    assert isinstance(worker, PipelineWorker)
    names = processor_names(worker.pipeline)
    assert any(n.endswith("InputTransport") for n in names), names
    assert any(n.endswith("OutputTransport") for n in names), names
    assert any("LLM" in n and "Aggregator" not in n for n in names), names


def test_unknown_variant_is_named(runtime):
    with pytest.raises(pipelines.UnknownPipelineError) as err:
        pipelines.get_variant("telepathy")
    assert "cascaded" in str(err.value) and "telepathy" in str(err.value)


def test_daily_without_room_url_names_the_variable(monkeypatch, capsys):
    monkeypatch.delenv("DAILY_ROOM_URL", raising=False)
    assert cli_main(["daily"]) == 2
    assert "DAILY_ROOM_URL" in capsys.readouterr().err
