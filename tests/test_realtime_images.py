"""Images in Echo's offline Realtime server: ``input_image`` items read by the local reader.

A plain WebSocket client sends what Pipecat's OpenAI Realtime service sends for a camera
frame or an upload (a user message with an ``input_image`` part), then a typed question;
the reply is about the image, the server's own look at it never shows as a function call,
no image bytes are echoed back, and a bad image is an ``error`` event that loses nothing.
"""

from __future__ import annotations

import base64
import json

import pytest

from realtime.protocol import ProtocolError, check_item, messages_for_brain
from tests import test_realtime_protocol as rtp
from tests.test_realtime_protocol import configure, open_client
from tests.vision_drawings import encoded, error_dialog, pill_label

pytestmark = pytest.mark.slow
models, rt_server = rtp.models, rtp.rt_server  # the protocol tests' server fixtures


def image_item(data: bytes, mime: str = "image/png") -> dict:
    url = f"data:{mime};base64,{base64.b64encode(data).decode()}"
    return {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_image", "image_url": url, "detail": "auto"}],
    }


def text_item(text: str) -> dict:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


async def ask(client, item: dict) -> tuple[str, list[dict]]:
    """Add an item, ask for a text response; the reply text and the events."""
    await client.send({"type": "conversation.item.create", "item": item})
    await client.send({"type": "response.create"})
    events = await client.until("response.done")
    text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
    return text, events


async def test_a_label_is_read_and_a_follow_up_needs_no_second_image(rt_server):
    ws, client = await open_client(rt_server)
    async with ws:
        await configure(client, output_modalities=["text"])
        await client.send(
            {"type": "conversation.item.create", "item": image_item(encoded(pill_label()))}
        )
        added = await client.until("conversation.item.added")
        reply, events = await ask(client, text_item("Could you tell me what this bottle is?"))
        assert "metformin" in reply.lower()
        assert events[-1]["response"]["status"] == "completed"
        # The server looked itself: no function call for the client to run.
        assert not any(e["type"].startswith("response.function_call") for e in events)

        reply2, _ = await ask(client, text_item("Sorry, which pill was on that label again?"))
        assert "metformin" in reply2.lower()

    sent = json.dumps(client.events)
    assert "base64" not in sent and "_prelude" not in sent  # nothing echoed, nothing internal
    item = added[-1]["item"]
    assert item["content"][0]["type"] == "input_image"


async def test_a_new_image_replaces_the_current_one(rt_server):
    ws, client = await open_client(rt_server)
    async with ws:
        await configure(client, output_modalities=["text"])
        await client.send(
            {"type": "conversation.item.create", "item": image_item(encoded(pill_label()))}
        )
        first, _ = await ask(client, text_item("What am I holding up?"))
        assert "metformin" in first.lower()
        jpeg = encoded(error_dialog(size=(960, 540)), "JPEG")
        await client.send(
            {"type": "conversation.item.create", "item": image_item(jpeg, "image/jpeg")}
        )
        second, _ = await ask(client, text_item("And now this popped up, what is it?"))
        assert "denied" in second.lower() and "metformin" not in second.lower()


async def test_bad_images_are_error_events_and_the_connection_goes_on(rt_server):
    ws, client = await open_client(rt_server)
    async with ws:
        await configure(client, output_modalities=["text"])
        png = encoded(pill_label())
        cases = [
            (image_item(b"%PDF-1.4 not an image", "image/png"), "invalid_image"),
            (image_item(png[: len(png) // 3]), "invalid_image"),  # truncated
            (
                {
                    "type": "message",
                    "role": "user",
                    "content": [{"type": "input_image", "image_url": "https://x.test/a.png"}],
                },
                "invalid_value",
            ),
        ]
        for item, code in cases:
            await client.send({"type": "conversation.item.create", "item": item})
            error = (await client.until("error"))[-1]["error"]
            assert error["code"] == code, error
        # Nothing was added; an ordinary question is answered (by a clinic tool call).
        _, events = await ask(client, text_item("What are your opening hours?"))
        assert events[-1]["response"]["status"] == "completed"
        calls = [e for e in events if e["type"] == "response.function_call_arguments.done"]
        assert [c["name"] for c in calls] == ["clinic_info"]


def test_image_parts_are_checked_and_reach_the_brain_as_images():
    event = {"event_id": "e1"}
    url = "data:image/png;base64," + base64.b64encode(b"\x89PNG....").decode()
    item = check_item(
        {"type": "message", "role": "user", "content": [{"type": "input_image", "image_url": url}]},
        event,
        set(),
    )
    assert item["content"] == [{"type": "input_image", "image_url": url, "detail": "auto"}]
    with pytest.raises(ProtocolError):
        check_item(
            {
                "type": "message",
                "role": "user",
                "content": [{"type": "input_image", "image_url": url, "detail": "max"}],
            },
            event,
            set(),
        )
    messages = messages_for_brain("", [item])
    assert messages[0]["content"][1]["type"] == "image_url"
