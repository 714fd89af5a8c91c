"""Every event Echo's offline Realtime server sends, checked strictly against the GA models.

The official ``openai`` SDK's GA event models (``openai.types.realtime``) are the reference.
They allow extra fields and its client parses leniently, so the check here is stricter than
the SDK itself: each event is validated with ``strict=True`` against the model its ``type``
names, and any field a model does not declare, at any depth, fails the test. Pipecat's own
``parse_server_event`` must keep reading every event too.

The server is real (Silero VAD, faster-whisper, the clinic brain, Piper, the OCR reader); the
clients are a plain WebSocket client and the SDK's own realtime clients (GA and beta).
"""

from __future__ import annotations

import asyncio
import json
import typing

import numpy as np
import pytest
from openai import AsyncOpenAI
from openai.types.beta.realtime import ErrorEvent as BetaErrorEvent
from openai.types.realtime.realtime_server_event import RealtimeServerEvent
from pipecat.services.openai.realtime.events import parse_server_event
from pydantic import BaseModel
from websockets.asyncio.client import connect

from realtime.protocol import (
    BETA_SESSION_FIELDS,
    ProtocolError,
    check_beta_fields,
    check_passive_setting,
)
from realtime.server import content_part
from tests import test_realtime_protocol as rtp
from tests.test_realtime_images import image_item, text_item
from tests.test_realtime_protocol import RATE, TOOLS, configure, turn_audio
from tests.vision_drawings import encoded, pill_label

pytestmark = pytest.mark.slow
models, rt_server = rtp.models, rtp.rt_server  # the protocol tests' server fixtures

# The GA server event models by their ``type`` literal.
SDK_EVENTS: dict[str, type[BaseModel]] = {
    typing.get_args(m.model_fields["type"].annotation)[0]: m
    for m in typing.get_args(typing.get_args(RealtimeServerEvent)[0])
}
TOOL_NAMES = {t["name"] for t in TOOLS}


def undeclared(value: typing.Any, path: str = "$") -> typing.Iterator[str]:
    """Paths of fields no model declares (the SDK models keep them as extras)."""
    if isinstance(value, BaseModel):
        for key in value.__pydantic_extra__ or {}:
            yield f"{path}.{key}"
        for name in type(value).model_fields:
            yield from undeclared(getattr(value, name), f"{path}.{name}")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from undeclared(v, f"{path}[{i}]")
    elif isinstance(value, dict):
        for key, v in value.items():
            yield from undeclared(v, f"{path}.{key}")


def strict_event(raw: str | bytes) -> dict:
    """Decode a server event; fail unless it validates strictly against its SDK GA model."""
    event = json.loads(raw)
    model = SDK_EVENTS.get(event.get("type"))
    assert model is not None, f"not a GA server event type: {event.get('type')!r}"
    parsed = model.model_validate(event, strict=True)  # raises on a wrong type or value
    extra = list(undeclared(parsed))
    assert not extra, f"{event['type']}: fields the GA model does not define: {extra}"
    return event


class StrictClient(rtp.Client):
    """The protocol tests' client, also checking each event against the SDK's GA models."""

    async def next(self, timeout: float = 30) -> dict:
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        event = strict_event(raw)
        assert parse_server_event(raw) is not None  # Pipecat still reads it
        self.events.append(event)
        return event


async def open_strict(server, model: str = "gpt-realtime", headers=None):
    ws = await connect(f"{server.url}?model={model}", additional_headers=headers or {})
    client = StrictClient(ws)
    assert (await client.next())["type"] == "session.created"
    return ws, client


def types_of(events: list[dict]) -> set[str]:
    return {e["type"] for e in events}


# --- the checker itself -----------------------------------------------------------------------


def test_the_strict_check_refuses_what_the_sdk_models_do_not_define():
    part = {"type": "audio", "transcript": ""}
    ids = {"response_id": "r", "item_id": "i", "output_index": 0, "content_index": 0}
    ok = {"type": "response.content_part.added", "event_id": "e", **ids, "part": part}
    strict_event(json.dumps(ok))
    bad_part = {**ok, "part": {"type": "output_audio", "transcript": ""}}
    extra = {**ok, "part": {**part, "colour": "blue"}}
    no_usage = {
        "type": "conversation.item.input_audio_transcription.completed",
        "event_id": "e",
        "item_id": "i",
        "content_index": 0,
        "transcript": "hi",
    }
    session_id = {
        "type": "session.created",
        "event_id": "e",
        "session": {"type": "realtime", "id": "sess_1"},
    }
    for event in (bad_part, extra, no_usage, session_id, {"type": "response.dance"}):
        with pytest.raises(Exception):  # noqa: B017 - pydantic or assertion, both refuse
            strict_event(json.dumps(event))
    strict_event(json.dumps({**no_usage, "usage": {"type": "duration", "seconds": 1.5}}))


def test_beta_fields_passive_settings_and_content_parts_are_pure_rules():
    event = {"event_id": "e1"}
    with pytest.raises(ProtocolError) as refused:
        check_beta_fields({"temperature": 0.8}, BETA_SESSION_FIELDS, "session", event)
    assert refused.value.param == "session.temperature" and "no GA" in refused.value.message
    check_beta_fields({"output_modalities": ["text"]}, BETA_SESSION_FIELDS, "session", event)
    assert check_passive_setting("tracing", "auto", "session.tracing", event) == "auto"
    ratio = {"type": "retention_ratio", "retention_ratio": 1}
    assert check_passive_setting("truncation", ratio, "session.truncation", event) == {
        "type": "retention_ratio",
        "retention_ratio": 1.0,
    }
    for key, value in [
        ("truncation", {"type": "retention_ratio", "retention_ratio": 2}),
        ("reasoning", {"effort": "max"}),
        ("prompt", {"version": "1"}),
        ("parallel_tool_calls", "yes"),
    ]:
        with pytest.raises(ProtocolError):
            check_passive_setting(key, value, f"session.{key}", event)
    assert content_part({"type": "output_audio", "transcript": "Hi"}) == {
        "type": "audio",
        "transcript": "Hi",
    }
    assert content_part({"type": "output_text", "text": "Hi"})["type"] == "text"


# --- a real server, strictly --------------------------------------------------------------------


async def test_spoken_typed_and_function_call_turns(rt_server, speak):
    ws, client = await open_strict(rt_server)
    async with ws:
        await configure(client)
        # Spoken turn: VAD, commit, transcription (with usage), a function call.
        await client.append(turn_audio(speak, "I'd like to see Doctor Patel please."))
        spoken = await client.until("response.done")
        heard = [
            e
            for e in spoken
            if e["type"] == "conversation.item.input_audio_transcription.completed"
        ]
        assert heard and heard[0]["usage"]["type"] == "duration"
        assert 1.0 < heard[0]["usage"]["seconds"] < 10.0
        calls = [e for e in spoken if e["type"] == "response.function_call_arguments.done"]
        assert calls and calls[0]["name"] in TOOL_NAMES

        # The client runs the call; the answer is spoken audio with content parts.
        output = {"ok": True, "slots": [], "provider": {"name": "Dr. Patel"}}
        await client.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "function_call_output",
                    "call_id": calls[0]["call_id"],
                    "output": json.dumps(output),
                },
            }
        )
        await client.send({"type": "response.create"})
        answer = await client.until("response.done")
        parts = [e["part"] for e in answer if e["type"].startswith("response.content_part")]
        assert parts and {p["type"] for p in parts} == {"audio"}
        done_item = answer[-1]["response"]["output"][0]
        assert done_item["content"][0]["type"] == "output_audio"

        # Typed turn in text, with the beta-era "text" part type normalized to GA.
        await client.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "text", "text": "What can you do?"}],
                },
            }
        )
        added = (await client.until("conversation.item.added"))[-1]
        assert added["item"]["content"][0]["type"] == "input_text"
        await client.send({"type": "response.create", "response": {"output_modalities": ["text"]}})
        typed = await client.until("response.done")
        parts = [e["part"] for e in typed if e["type"].startswith("response.content_part")]
        assert parts and {p["type"] for p in parts} == {"text"}
        assert typed[-1]["response"]["output"][0]["content"][0]["type"] == "output_text"

        # Item management events.
        item_id = done_item["id"]
        await client.send(
            {"type": "conversation.item.truncate", "item_id": item_id, "audio_end_ms": 300}
        )
        await client.until("conversation.item.truncated")
        await client.send({"type": "conversation.item.retrieve", "item_id": item_id})
        await client.until("conversation.item.retrieved")
        await client.send({"type": "conversation.item.delete", "item_id": item_id})
        await client.until("conversation.item.deleted")
        await client.append(np.zeros(RATE // 5, np.int16))
        await client.send({"type": "input_audio_buffer.clear"})
        await client.until("input_audio_buffer.cleared")

    seen = types_of(client.events)
    for expected in (
        "session.updated",
        "input_audio_buffer.speech_started",
        "input_audio_buffer.speech_stopped",
        "input_audio_buffer.committed",
        "conversation.item.added",
        "conversation.item.done",
        "conversation.item.input_audio_transcription.completed",
        "response.created",
        "response.output_item.added",
        "response.output_item.done",
        "response.function_call_arguments.delta",
        "response.function_call_arguments.done",
        "response.content_part.added",
        "response.content_part.done",
        "response.output_audio.delta",
        "response.output_audio.done",
        "response.output_audio_transcript.delta",
        "response.output_audio_transcript.done",
        "response.output_text.delta",
        "response.output_text.done",
        "response.done",
    ):
        assert expected in seen, expected


async def test_an_image_item_and_a_cancelled_response(rt_server):
    ws, client = await open_strict(rt_server)
    async with ws:
        await configure(client)
        await client.send(
            {"type": "conversation.item.create", "item": image_item(encoded(pill_label()))}
        )
        added = (await client.until("conversation.item.added"))[-1]
        assert added["item"]["content"][0]["type"] == "input_image"
        await client.send(
            {"type": "conversation.item.create", "item": text_item("What is this bottle?")}
        )
        await client.send({"type": "response.create"})
        first = await client.until("response.output_audio.delta")
        await client.send({"type": "response.cancel"})
        rest = await client.until("response.done")
        done = rest[-1]["response"]
        assert done["status"] == "cancelled"
        assert done["status_details"] == {"type": "cancelled", "reason": "client_cancelled"}
        assert any(e["type"] == "response.created" for e in first)


async def test_bad_events_get_conformant_errors(rt_server):
    ws, client = await open_strict(rt_server)
    async with ws:
        cases = [
            "{not json",
            json.dumps({"type": "response.dance", "event_id": "evt_1"}),
            json.dumps({"type": "input_audio_buffer.append", "audio": "!!!"}),
            json.dumps({"type": "input_audio_buffer.commit"}),
            json.dumps({"type": "response.cancel"}),
            json.dumps(
                {"type": "session.update", "session": {"audio": {"output": {"voice": "x"}}}}
            ),
            json.dumps({"type": "session.update", "session": {"tracing": {"colour": "blue"}}}),
            json.dumps({"type": "session.update", "session": {"include": ["everything"]}}),
            json.dumps(
                {
                    "type": "session.update",
                    "session": {"audio": {"input": {"noise_reduction": {"type": "loud"}}}},
                }
            ),
            json.dumps({"type": "conversation.item.delete", "item_id": "nope"}),
            json.dumps(
                {
                    "type": "conversation.item.create",
                    "item": {
                        "type": "message",
                        "role": "user",
                        "content": [{"type": "input_audio", "transcript": 5}],
                    },
                }
            ),
        ]
        for raw in cases:
            await client.send(raw)
            event = await client.next()
            assert event["type"] == "error", raw
            assert event["error"]["message"] and event["error"]["code"], raw
        assert client.events[2]["error"]["event_id"] == "evt_1"
        # Well-formed passive settings are echoed, and still validate.
        session = await configure(
            client,
            tracing="auto",
            truncation={"type": "retention_ratio", "retention_ratio": 0.8},
            reasoning={"effort": "low"},
            parallel_tool_calls=False,
            audio={"input": {"noise_reduction": {"type": "near_field"}}},
        )
        assert session["truncation"]["retention_ratio"] == 0.8
        assert session["audio"]["input"]["noise_reduction"] == {"type": "near_field"}

    # A refused model: one error event, then the socket closes.
    async with connect(f"{rt_server.url}?model=gpt-9-ultra") as ws:
        event = strict_event(await asyncio.wait_for(ws.recv(), 10))
        assert event["error"]["code"] == "model_not_found"


async def test_beta_style_session_update_names_the_ga_fields(rt_server):
    ws, client = await open_strict(rt_server)
    async with ws:
        beta = {
            "modalities": ["text"],
            "voice": "alloy",
            "input_audio_format": "pcm16",
            "turn_detection": {"type": "server_vad"},
        }
        await client.send({"type": "session.update", "event_id": "evt_b", "session": beta})
        error = (await client.until("error"))[-1]["error"]
        assert error["code"] == "unknown_parameter"
        assert error["param"] == "session.modalities" and error["event_id"] == "evt_b"
        for ga in (
            "session.output_modalities",
            "session.audio.output.voice",
            "session.audio.input.format",
            "session.audio.input.turn_detection",
        ):
            assert ga in error["message"], ga
        # Nothing was applied; the GA names work on the same connection.
        session = await configure(client, output_modalities=["text"])
        assert session["output_modalities"] == ["text"]
        await client.send({"type": "response.create", "response": {"modalities": ["audio"]}})
        error = (await client.until("error"))[-1]["error"]
        assert error["param"] == "response.modalities"
        assert "response.output_modalities" in error["message"]


async def test_the_sdk_beta_client_is_refused_with_a_clear_error(rt_server):
    base = rt_server.url.removesuffix("/realtime")
    sdk = AsyncOpenAI(api_key="sk-local", base_url="http://127.0.0.1:9/v1", websocket_base_url=base)
    async with sdk.beta.realtime.connect(model="gpt-realtime") as conn:
        raw = await asyncio.wait_for(conn.recv_bytes(), 10)
        event = strict_event(raw)  # GA-conformant ...
        beta = BetaErrorEvent.model_validate(json.loads(raw), strict=True)  # ... and beta too
        assert not list(undeclared(beta))
        assert event["error"]["code"] == "beta_protocol_not_supported"
        assert "client.realtime.connect" in event["error"]["message"]
        await asyncio.wait_for(conn._connection.wait_closed(), 10)
        assert conn._connection.close_code == 1008


async def test_an_undeclared_tool_is_an_error_event_and_the_reply_goes_on(rt_server):
    ws, client = await open_strict(rt_server)
    async with ws:
        await configure(client, tools=[], output_modalities=["text"])
        await client.send(
            {"type": "conversation.item.create", "item": text_item("Cancel my appointment.")}
        )
        await client.send({"type": "response.create", "event_id": "evt_r"})
        events = await client.until("response.done")
        errors = [e["error"] for e in events if e["type"] == "error"]
        assert len(errors) == 1 and errors[0]["code"] == "tool_not_declared"
        assert errors[0]["param"] == "session.tools" and errors[0]["event_id"] == "evt_r"
        named = [n for n in TOOL_NAMES if f"'{n}'" in errors[0]["message"]]
        assert named, errors[0]["message"]  # names the clinic tool the reply needed
        assert events[-1]["response"]["status"] == "completed"
        text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
        assert text  # the caller still gets an answer


async def test_the_openai_sdk_realtime_client_runs_a_typed_turn(rt_server):
    base = rt_server.url.removesuffix("/realtime")
    sdk = AsyncOpenAI(api_key="sk-local", base_url="http://127.0.0.1:9/v1", websocket_base_url=base)
    events = []
    async with sdk.realtime.connect(model="gpt-realtime") as conn:
        await conn.session.update(
            session={"type": "realtime", "output_modalities": ["text"], "tools": TOOLS}
        )
        await conn.conversation.item.create(item=text_item("What are your opening hours?"))
        await conn.response.create()
        while True:
            raw = await asyncio.wait_for(conn.recv_bytes(), 60)
            event = strict_event(raw)
            events.append(conn.parse_event(raw))  # the SDK's own parse, too
            if event["type"] == "response.done":
                break
    assert [e.type for e in events[:2]] == ["session.created", "session.updated"]
    assert events[-1].response.status == "completed"
    calls = [e for e in events if e.type == "response.function_call_arguments.done"]
    assert calls and calls[0].name in TOOL_NAMES
