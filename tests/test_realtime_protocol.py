"""Echo's offline Realtime server, spoken to with a plain WebSocket client.

The server is real (Silero VAD, faster-whisper, the clinic brain, Piper); the client is the
``websockets`` library sending the same JSON events Pipecat's OpenAI Realtime service sends.
Every server event is also parsed with Pipecat's own event models, so a field Pipecat cannot
read fails here.
"""

from __future__ import annotations

import asyncio
import base64
import json

import numpy as np
import pytest
from pipecat.adapters.llm.services.open_ai_realtime_adapter import OpenAIRealtimeLLMAdapter
from pipecat.services.openai.realtime.events import parse_server_event
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from clinic.tool_schemas import TOOLS_SCHEMA
from config import EchoSettings
from providers.local import LocalModels
from realtime.local import create_server
from tests.heard import heard_like, starts_like

pytestmark = pytest.mark.slow

TOOLS = OpenAIRealtimeLLMAdapter().to_provider_tools_format(TOOLS_SCHEMA)
RATE = 24000


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    settings = EchoSettings(_env_file=None, data_dir=tmp_path_factory.mktemp("rt"))
    models = LocalModels(settings)
    models.warm_up()
    return settings, models


@pytest.fixture
async def rt_server(models):
    settings, local_models = models
    server = create_server(settings, models=local_models)
    await server.start()
    yield server
    await server.close()


@pytest.fixture
async def keyed_server(models):
    settings, local_models = models
    server = create_server(settings, models=local_models, api_key="sk-local-test")
    await server.start()
    yield server
    await server.close()


class Client:
    """A bare Realtime client: sends events, reads and checks every server event."""

    def __init__(self, ws):
        self.ws = ws
        self.events: list[dict] = []

    async def send(self, event: dict | str) -> None:
        await self.ws.send(event if isinstance(event, str) else json.dumps(event))

    async def next(self, timeout: float = 30) -> dict:
        raw = await asyncio.wait_for(self.ws.recv(), timeout)
        assert parse_server_event(raw) is not None  # Pipecat can read it
        event = json.loads(raw)
        self.events.append(event)
        return event

    async def until(self, type_: str, timeout: float = 60) -> list[dict]:
        """Events up to and including the first of ``type_``."""
        out = []
        while True:
            event = await self.next(timeout)
            out.append(event)
            if event["type"] == type_:
                return out

    async def append(self, pcm: np.ndarray, chunk: int = 480) -> None:
        """Stream PCM16 24 kHz as 20 ms appends."""
        for i in range(0, len(pcm), chunk):
            audio = base64.b64encode(pcm[i : i + chunk].tobytes()).decode()
            await self.send({"type": "input_audio_buffer.append", "audio": audio})


async def open_client(server, model="gpt-realtime", headers=None) -> tuple:
    ws = await connect(f"{server.url}?model={model}", additional_headers=headers or {})
    client = Client(ws)
    created = await client.next()
    assert created["type"] == "session.created"
    return ws, client


async def configure(client: Client, **session) -> dict:
    audio_in = {"transcription": {"model": "gpt-realtime-whisper"}}
    audio_in.update(session.pop("audio", {}).get("input", {}))
    body = {
        "type": "realtime",
        "instructions": "You are Echo.",
        "tools": TOOLS,
        "audio": {"input": audio_in},
        **session,
    }
    await client.send({"type": "session.update", "session": body})
    updated = (await client.until("session.updated"))[-1]
    return updated["session"]


def turn_audio(speak, text: str) -> np.ndarray:
    speech = speak(text, RATE)
    return np.concatenate([np.zeros(RATE // 2, np.int16), speech, np.zeros(RATE, np.int16)])


async def test_spoken_turn_event_order(rt_server, speak):
    ws, client = await open_client(rt_server)
    async with ws:
        session = await configure(client)
        assert session["audio"]["input"]["turn_detection"]["type"] == "server_vad"
        assert session["audio"]["input"]["turn_detection"]["threshold"] == 0.5
        assert [t["name"] for t in session["tools"]][:2] == ["find_provider", "list_open_slots"]

        # Greeting: a response asked for with nothing said yet is spoken audio.
        await client.send({"type": "response.create", "response": {"output_modalities": ["audio"]}})
        greeting = await client.until("response.done")
        said = [e for e in greeting if e["type"] == "response.output_audio_transcript.done"]
        assert said and said[0]["transcript"].startswith("Hi, this is Echo")

        await client.append(turn_audio(speak, "I'd like to see Doctor Patel please."))
        events = await client.until("response.done")
        types = [e["type"] for e in events]

        def first(t):
            assert t in types, f"{t} missing from {types}"
            return types.index(t)

        order = [
            "input_audio_buffer.speech_started",
            "input_audio_buffer.speech_stopped",
            "input_audio_buffer.committed",
            "conversation.item.input_audio_transcription.completed",
            "response.created",
            "response.function_call_arguments.done",
            "response.done",
        ]
        assert [first(t) for t in order] == sorted(first(t) for t in order)

        started = events[first("input_audio_buffer.speech_started")]
        stopped = events[first("input_audio_buffer.speech_stopped")]
        committed = events[first("input_audio_buffer.committed")]
        # Speech starts after the half second of leading silence and ends before the trailing.
        assert 400 <= started["audio_start_ms"] <= 1200
        assert stopped["audio_end_ms"] > started["audio_start_ms"] + 1000
        assert started["item_id"] == stopped["item_id"] == committed["item_id"]
        heard = events[first("conversation.item.input_audio_transcription.completed")]
        assert heard["item_id"] == committed["item_id"]
        assert heard_like(heard["transcript"], "I'd like to see Doctor Patel please.")

        # The brain needs slots: a function call the client must run.
        call = events[first("response.function_call_arguments.done")]
        assert call["name"] == "list_open_slots"
        assert json.loads(call["arguments"]) == {"provider": "Dr. Patel"}
        added = [
            e
            for e in events
            if e["type"] == "conversation.item.added" and e["item"]["type"] == "function_call"
        ]
        assert added and added[0]["item"]["call_id"] == call["call_id"]
        assert events[-1]["response"]["status"] == "completed"

        # The client answers the call; the next response is spoken.
        result = {
            "ok": True,
            "provider": {"id": 1, "name": "Dr. Patel", "specialty": "ENT"},
            "day": None,
            "part_of_day": None,
            "slots": [
                {
                    "slot_id": 7,
                    "provider": "Dr. Patel",
                    "start": "2026-12-01T09:30:00+00:00",
                    "end": "2026-12-01T10:00:00+00:00",
                }
            ],
        }
        await client.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "function_call_output",
                    "call_id": call["call_id"],
                    "output": json.dumps(result),
                },
            }
        )
        await client.send({"type": "response.create"})
        spoken = await client.until("response.done")
        types = [e["type"] for e in spoken]
        assert types.index("response.created") < types.index("response.output_audio.delta")
        assert types.index("response.output_audio.delta") < types.index("response.done")
        deltas = [
            e["delta"] for e in spoken if e["type"] == "response.output_audio_transcript.delta"
        ]
        done = [e for e in spoken if e["type"] == "response.output_audio_transcript.done"][0]
        assert "".join(deltas) == done["transcript"]
        assert "Patel" in done["transcript"] and "9:30" in done["transcript"]
        audio = b"".join(
            base64.b64decode(e["delta"])
            for e in spoken
            if e["type"] == "response.output_audio.delta"
        )
        pcm = np.frombuffer(audio, dtype=np.int16)
        assert len(pcm) / RATE > 1.0  # a spoken sentence at 24 kHz
        assert np.abs(pcm).max() > 2000
        item = spoken[-1]["response"]["output"][0]
        assert item["role"] == "assistant" and item["status"] == "completed"
        assert item["content"][0]["transcript"] == done["transcript"]


async def test_cancel_mid_response(rt_server):
    ws, client = await open_client(rt_server)
    async with ws:
        await configure(client)
        await client.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "What can you do?"}],
                },
            }
        )
        await client.until("conversation.item.done")
        await client.send({"type": "response.create"})
        # Cancel as soon as the first audio arrives: the help text is several sentences.
        events = await client.until("response.output_audio.delta")
        item_id = events[-1]["item_id"]
        await client.send({"type": "response.cancel"})
        rest = await client.until("response.done")
        done = rest[-1]
        assert done["response"]["status"] == "cancelled"
        assert done["response"]["status_details"]["reason"] == "client_cancelled"
        assert done["response"]["output"][0]["status"] == "incomplete"
        assert not any(e["type"] == "response.output_audio.done" for e in rest)

        # Truncating at 0.5 s keeps only the words that had started by then.
        await client.send(
            {
                "type": "conversation.item.truncate",
                "item_id": item_id,
                "content_index": 0,
                "audio_end_ms": 500,
            }
        )
        truncated = (await client.until("conversation.item.truncated"))[-1]
        assert truncated["audio_end_ms"] == 500
        await client.send({"type": "conversation.item.retrieve", "item_id": item_id})
        item = (await client.until("conversation.item.retrieved"))[-1]["item"]
        heard = item["content"][0]["transcript"]
        assert heard and len(heard.split()) <= 4 and "I can book".startswith(heard[:10])

        # Nothing to cancel now: an error, and the session goes on.
        await client.send({"type": "response.cancel", "event_id": "evt_x"})
        error = (await client.until("error"))[-1]["error"]
        assert error["code"] == "response_cancel_not_active" and error["event_id"] == "evt_x"
        await client.send({"type": "response.create"})
        again = await client.until("response.done")
        assert again[-1]["response"]["status"] == "completed"


async def test_speech_interrupts_response(rt_server, speak):
    ws, client = await open_client(rt_server)
    async with ws:
        await configure(client)
        await client.send({"type": "response.create"})
        await client.until("response.created")
        # The user talks over the greeting before its audio is complete.
        await client.append(turn_audio(speak, "Cancel my appointment."))
        events = await client.until("input_audio_buffer.speech_started")
        rest = await client.until("response.done")
        if rest[-1]["response"]["status"] == "completed":
            pytest.skip("the greeting finished before speech was detected")  # machine too fast
        assert rest[-1]["response"]["status_details"]["reason"] == "turn_detected"
        assert any(e["type"] == "input_audio_buffer.speech_started" for e in events)


async def test_malformed_events_get_errors_and_the_connection_stays_usable(rt_server):
    ws, client = await open_client(rt_server)
    async with ws:
        cases = [
            ("{not json", "invalid_json"),
            (json.dumps([1, 2]), "invalid_json"),
            (json.dumps({"event_id": "e1"}), "missing_required_parameter"),
            (json.dumps({"type": "response.dance"}), "unknown_event_type"),
            (json.dumps({"type": "input_audio_buffer.append"}), "missing_required_parameter"),
            (json.dumps({"type": "input_audio_buffer.append", "audio": "!!!"}), "invalid_value"),
            (
                json.dumps(
                    {
                        "type": "input_audio_buffer.append",
                        "audio": base64.b64encode(b"abc").decode(),
                    }
                ),
                "invalid_value",
            ),
            (json.dumps({"type": "input_audio_buffer.commit"}), "input_audio_buffer_commit_empty"),
            (
                json.dumps(
                    {"type": "session.update", "session": {"audio": {"output": {"voice": "zeus"}}}}
                ),
                "invalid_value",
            ),
            (
                json.dumps({"type": "session.update", "session": {"colour": "blue"}}),
                "unknown_parameter",
            ),
            (
                json.dumps(
                    {
                        "type": "session.update",
                        "session": {"audio": {"input": {"format": {"type": "audio/pcmu"}}}},
                    }
                ),
                "invalid_value",
            ),
            (
                json.dumps(
                    {
                        "type": "conversation.item.create",
                        "item": {"type": "function_call_output", "call_id": "nope", "output": "{}"},
                    }
                ),
                "invalid_value",
            ),
            (
                json.dumps(
                    {"type": "conversation.item.truncate", "item_id": "x", "audio_end_ms": 1}
                ),
                "item_truncate_invalid_item_id",
            ),
            (
                json.dumps({"type": "conversation.item.delete", "item_id": "x"}),
                "item_delete_invalid_item_id",
            ),
        ]
        for raw, code in cases:
            await client.send(raw)
            event = await client.next()
            assert event["type"] == "error", raw
            assert event["error"]["code"] == code, (raw, event["error"])
            assert event["error"]["message"]
        # A refused session.update changed nothing.
        session = await configure(client)
        assert session["audio"]["output"]["voice"] == "alloy"
        assert session["audio"]["input"]["format"] == {"type": "audio/pcm", "rate": 24000}
        # Still usable: a text turn gets a spoken answer.
        await client.send(
            {
                "type": "conversation.item.create",
                "item": {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_text", "text": "hello"}],
                },
            }
        )
        await client.send({"type": "response.create"})
        done = (await client.until("response.done"))[-1]
        assert done["response"]["status"] == "completed"
        assert done["response"]["output"][0]["content"][0]["transcript"]


async def test_second_response_while_one_is_active_is_refused(rt_server):
    ws, client = await open_client(rt_server)
    async with ws:
        await configure(client)
        await client.send({"type": "response.create"})
        await client.until("response.created")
        await client.send({"type": "response.create"})
        events = await client.until("response.done")
        errors = [e for e in events if e["type"] == "error"]
        assert errors and errors[0]["error"]["code"] == "conversation_already_has_active_response"
        assert events[-1]["response"]["status"] == "completed"


async def test_manual_commit_without_turn_detection(rt_server, speak):
    ws, client = await open_client(rt_server)
    async with ws:
        session = await configure(client, audio={"input": {"turn_detection": None}})
        assert session["audio"]["input"]["turn_detection"] is None
        await client.append(turn_audio(speak, "Which doctors do dermatology?"))
        await client.send({"type": "input_audio_buffer.commit"})
        events = await client.until("conversation.item.input_audio_transcription.completed")
        types = [e["type"] for e in events]
        assert "input_audio_buffer.speech_started" not in types  # no server VAD
        assert types.index("input_audio_buffer.committed") < types.index("conversation.item.added")
        assert events[-1]["transcript"].strip()  # what it heard
        # No response until the client asks; then one answers the committed turn (what the
        # brain does with it depends on what Whisper heard: usually a find_provider call).
        await client.send({"type": "response.create"})
        done = (await client.until("response.done"))[-1]
        assert done["response"]["status"] == "completed"
        item = done["response"]["output"][0]
        assert item["type"] in ("function_call", "message")
        if item["type"] == "function_call":
            assert item["name"] == "find_provider"
        # Clear empties the buffer.
        await client.append(np.zeros(RATE // 2, np.int16))
        await client.send({"type": "input_audio_buffer.clear"})
        assert (await client.until("input_audio_buffer.cleared"))[-1]["type"]
        await client.send({"type": "input_audio_buffer.commit"})
        assert (await client.until("error"))[-1]["error"][
            "code"
        ] == "input_audio_buffer_commit_empty"


async def test_text_output_modality(rt_server):
    ws, client = await open_client(rt_server)
    async with ws:
        await configure(client, output_modalities=["text"])
        await client.send({"type": "response.create"})
        events = await client.until("response.done")
        text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
        assert text.startswith("Hi, this is Echo")
        assert not any(e["type"] == "response.output_audio.delta" for e in events)


async def test_unknown_model_is_an_error_event(rt_server):
    async with connect(f"{rt_server.url}?model=gpt-9-ultra") as ws:
        event = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert event["type"] == "error"
        assert event["error"]["code"] == "model_not_found"
        assert "gpt-9-ultra" in event["error"]["message"]
        await asyncio.wait_for(ws.wait_closed(), 10)
    assert ws.close_code == 1008


async def test_dated_model_names_are_accepted(rt_server):
    ws, client = await open_client(rt_server, model="gpt-4o-realtime-preview-2025-06-03")
    async with ws:
        session = await configure(client)
        assert session["model"] == "gpt-4o-realtime-preview-2025-06-03"


async def test_api_key_is_checked_only_when_configured(keyed_server, rt_server):
    with pytest.raises(InvalidStatus) as refused:
        await connect(f"{keyed_server.url}?model=gpt-realtime")
    assert refused.value.response.status_code == 401
    with pytest.raises(InvalidStatus):
        await connect(
            f"{keyed_server.url}?model=gpt-realtime",
            additional_headers={"Authorization": "Bearer wrong"},
        )
    ws, client = await open_client(keyed_server, headers={"Authorization": "Bearer sk-local-test"})
    await ws.close()
    # Without a configured key any (or no) header is accepted.
    ws, client = await open_client(rt_server, headers={"Authorization": "Bearer anything"})
    await ws.close()


async def test_semantic_vad_turn(rt_server, speak):
    ws, client = await open_client(rt_server)
    async with ws:
        session = await configure(
            client,
            audio={"input": {"turn_detection": {"type": "semantic_vad", "eagerness": "high"}}},
        )
        assert session["audio"]["input"]["turn_detection"]["eagerness"] == "high"
        await client.append(turn_audio(speak, "I want to book with Doctor Nguyen."))
        # Keep sending silence so the eagerness timeout can pass in audio time.
        await client.append(np.zeros(RATE * 3, np.int16))
        events = await client.until("conversation.item.input_audio_transcription.completed")
        types = [e["type"] for e in events]
        assert types.count("input_audio_buffer.speech_started") == 1
        assert heard_like(events[-1]["transcript"], "I want to book with Doctor Nguyen.")


def test_brain_messages_come_from_items():
    from realtime.protocol import messages_for_brain

    items = [
        {
            "type": "message",
            "role": "user",
            "content": [{"type": "input_audio", "transcript": "hi"}],
        },
        {"type": "function_call", "call_id": "c1", "name": "find_provider", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c1", "output": '{"ok": true}'},
        {
            "type": "message",
            "role": "assistant",
            "content": [{"type": "output_audio", "transcript": "Sure."}],
        },
    ]
    messages = messages_for_brain("Be brief.", items)
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool", "assistant"]
    assert messages[2]["tool_calls"][0]["function"]["name"] == "find_provider"
    assert messages[3] == {"role": "tool", "tool_call_id": "c1", "content": '{"ok": true}'}


async def test_interrupt_response_off_answers_after_the_current_response(rt_server, speak):
    ws, client = await open_client(rt_server)
    async with ws:
        await configure(client, audio={"input": {"turn_detection": {"interrupt_response": False}}})
        await client.send({"type": "response.create"})
        await client.until("response.created")
        await client.append(turn_audio(speak, "Cancel my appointment."))
        first = await client.until("response.done")
        assert first[-1]["response"]["status"] == "completed"  # not cut off
        second = await client.until("response.done")
        types = [e["type"] for e in first + second]
        assert "input_audio_buffer.speech_stopped" in types
        assert "conversation.item.input_audio_transcription.completed" in types
        # The turn got its own answer once the greeting was done.
        assert second[-1]["response"]["status"] == "completed"
        assert second[-1]["response"]["output"][0]["name"] == "list_my_appointments"


async def test_long_silence_in_odd_chunks_keeps_the_first_word(rt_server, speak):
    """Trimming silence in chunks that are not whole milliseconds must not shift the turn.

    Before the fix the buffer's start time lost up to a millisecond on every trim, so after
    some seconds of silence the committed turn began a word or two late.
    """
    ws, client = await open_client(rt_server)
    async with ws:
        await configure(client)
        # 12 s of silence in 20.02 ms chunks (481 samples), as a resampler may produce
        await client.append(np.zeros(RATE * 12, np.int16), chunk=481)
        await client.append(turn_audio(speak, "Tell me a joke."), chunk=481)
        events = await client.until("conversation.item.input_audio_transcription.completed")
        heard = events[-1]["transcript"]
        assert starts_like(heard, "Tell me a joke."), heard


async def test_every_turn_of_a_conversation_keeps_its_first_word(rt_server, speak):
    """Turn after turn (each answered in audio), the committed audio starts at the speech."""
    ws, client = await open_client(rt_server)
    async with ws:
        await configure(client)
        for text, _first_word in [
            ("Tell me a joke.", "tell"),
            ("What appointments do I have?", "what"),
            ("Do you have anything on Friday morning?", "do"),
            ("Thank you, that's all.", "thank"),
        ]:
            await client.append(turn_audio(speak, text), chunk=481)
            events = await client.until("conversation.item.input_audio_transcription.completed")
            heard = events[-1]["transcript"]
            assert starts_like(heard, text), (text, heard)
            await client.until("response.done")
            await client.append(np.zeros(RATE * 3, np.int16), chunk=481)  # the bot talks
