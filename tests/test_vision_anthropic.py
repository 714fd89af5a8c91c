"""The vision variant with Anthropic Claude as its vision model, end to end over WebRTC.

The LLM is a local server speaking Anthropic's Messages API (``POST /v1/messages`` with
``stream: true``, answered as ``text/event-stream``: ``message_start``,
``content_block_start`` / ``_delta`` / ``_stop``, ``message_delta``, ``message_stop``), the
cloud boundary the tests cannot reach. Echo reaches it through Pipecat's own
``AnthropicLLMService`` (``ANTHROPIC_API_KEY`` + ``ANTHROPIC_BASE_URL``), whose adapter turns
the uploaded image into an ``image`` block with a base64 ``source``. The caller, the upload
route, the speech models and the audit trail are Echo's real ones.
"""

import base64
import io
import json

import aiohttp
import pytest
from aiohttp import web
from PIL import Image
from pydantic import SecretStr

from audit import open_store
from tests.conftest import LiveServer, wait_until
from tests.fake_openai import FakeOpenAI
from tests.test_conversation import say_and_listen
from tests.test_vision_webrtc import upload
from tests.vision_drawings import encoded, pill_label
from transports.webrtc_client import EchoCaller
from vision.images import prepare

KEY = "sk-ant-test-0123456789abcdef"


class FakeAnthropic(FakeOpenAI):
    """A local server speaking Anthropic's streaming Messages API, for tests.

    The threading and lifecycle are :class:`tests.fake_openai.FakeOpenAI`'s; the wire
    format is Anthropic's. It records every request body and its headers and answers by
    the same script: a ``read_image`` tool result → its ``answer``; ``mode="tool"`` and
    the caller spoke → a ``tool_use`` block calling ``read_image`` with their words (its
    JSON input streamed in two ``input_json_delta`` pieces); otherwise ``reply``.
    """

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.headers: list[dict[str, str]] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"  # the SDK adds /v1/messages

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/messages", self._messages)

    def decide(self, body: dict) -> tuple[str | None, dict | None]:
        messages = body.get("messages", [])
        last = messages[-1] if messages else {}
        blocks = blocks_of(last)
        results = [b for b in blocks if b.get("type") == "tool_result"]
        if results:
            try:
                return json.loads(results[-1].get("content") or "{}").get("answer"), None
            except ValueError:
                return "Done.", None
        if "system" not in body:  # the greeting: Pipecat sends the lone prompt as a user turn
            return "Hello, this is Echo.", None
        tools = [t["name"] for t in body.get("tools", []) or []]
        texts = [b["text"] for b in blocks if b.get("type") == "text"]
        if last.get("role") == "user" and self.mode == "tool" and "read_image" in tools:
            return None, {"name": "read_image", "input": {"question": texts[-1] if texts else ""}}
        return self.reply, None

    async def _messages(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        self.headers.append({k.lower(): v for k, v in request.headers.items()})
        if not body.get("stream"):
            return web.json_response(
                {"type": "error", "error": {"type": "invalid_request_error", "message": "stream"}},
                status=400,
            )
        text, call = self.decide(body)
        res = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await res.prepare(request)

        async def send(event: dict) -> None:
            await res.write(f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode())

        n = len(self.requests)
        usage = {"input_tokens": 100, "output_tokens": 1}
        message = {
            "id": f"msg_{n}",
            "type": "message",
            "role": "assistant",
            "content": [],
            "model": body.get("model"),
            "stop_reason": None,
            "stop_sequence": None,
            "usage": {**usage, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0},
        }
        await send({"type": "message_start", "message": message})
        if call is not None:
            block = {"type": "tool_use", "id": f"toolu_{n}", "name": call["name"], "input": {}}
            pieces = json.dumps(call["input"])
            pieces = [pieces[: len(pieces) // 2], pieces[len(pieces) // 2 :]]
            deltas = [{"type": "input_json_delta", "partial_json": p} for p in pieces]
            stop = "tool_use"
        else:
            block = {"type": "text", "text": ""}
            words = (text or "").split(" ")
            deltas = [{"type": "text_delta", "text": w + " "} for w in words]
            stop = "end_turn"
        await send({"type": "content_block_start", "index": 0, "content_block": block})
        await send({"type": "ping"})
        for delta in deltas:
            await send({"type": "content_block_delta", "index": 0, "delta": delta})
        await send({"type": "content_block_stop", "index": 0})
        await send(
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop, "stop_sequence": None},
                "usage": {"output_tokens": len(deltas)},
            }
        )
        await send({"type": "message_stop"})
        return res

    def image_blocks(self, body: dict) -> list[dict]:
        return [b for m in body.get("messages", []) for b in blocks_of(m) if b["type"] == "image"]


def blocks_of(message: dict) -> list[dict]:
    content = message.get("content")
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    return [b for b in content or [] if isinstance(b, dict)]


def claude_settings(settings, fake, **extra):
    """Only ``ANTHROPIC_API_KEY`` (and the stand-in's URL): ``auto`` picks Claude."""
    update = {"anthropic_api_key": SecretStr(KEY), "anthropic_base_url": fake.url, **extra}
    return settings.model_copy(update=update)


def spoken_turns(server) -> str:
    audit = open_store(server.settings)
    try:
        turns = [r.body for r in audit.iter_records() if r.kind == "turn"]
    finally:
        audit.close()
    return " ".join(t["bot"]["spoken_text"] for t in turns)


def test_selection_requirements_and_description(settings):
    import pipelines
    from vision.providers import create_vision_llm, describe_vision, select_vision

    keyed = settings.model_copy(update={"anthropic_api_key": SecretStr(KEY)})
    assert select_vision(keyed) == "anthropic"  # auto: the key alone selects Claude
    assert describe_vision(keyed) == {
        "provider": "anthropic",
        "model": keyed.vision_anthropic_model,
    }
    both = keyed.model_copy(update={"vision_base_url": "http://127.0.0.1:11434/v1"})
    assert select_vision(both) == "openai_compatible"  # an OpenAI-compatible URL wins
    named = settings.model_copy(update={"vision_provider": "anthropic"})
    assert pipelines.get_variant("vision").requirements(named) == ["ANTHROPIC_API_KEY"]
    listed = {p["name"]: p for p in pipelines.availability(named)}
    assert listed["vision"]["missing"] == ["ANTHROPIC_API_KEY"]
    assert listed["cascaded"]["available"] is True  # the other variants are unaffected

    from pipecat.services.anthropic.llm import AnthropicLLMService

    llm = create_vision_llm(keyed.model_copy(update={"anthropic_base_url": "http://127.0.0.1:9"}))
    assert isinstance(llm, AnthropicLLMService)
    assert str(llm._client.base_url).startswith("http://127.0.0.1:9")
    assert KEY not in repr(keyed) and KEY not in keyed.model_dump_json()


@pytest.mark.slow
async def test_upload_follow_up_and_spoken_answer_through_claude(settings, speak, capfd):
    fake = FakeAnthropic(mode="vision", reply="The label says Metformin five hundred.")
    with fake, LiveServer(claude_settings(settings, fake, vision_max_side=640)) as server:
        async with aiohttp.ClientSession() as http:
            async with http.get(server.url + "/api/pipelines") as res:
                listed = await res.json()
        assert listed["vision"] == {
            "provider": "anthropic",
            "model": server.settings.vision_anthropic_model,
        }
        caller = EchoCaller(server.url, pipeline="vision")
        try:
            await caller.connect()
            assert await caller.wait_for_voice(since=0.0, timeout=30), "no greeting"
            await caller.wait_for_silence(quiet=1.2, timeout=30)

            label = encoded(pill_label(), "PNG")
            status, body = await upload(server.url, caller.pc_id, label)
            assert status == 200, body
            asked = len(fake.requests)
            await say_and_listen(caller, speak, "Can you read the label on this bottle?")
            first, headers = fake.requests[asked], fake.headers[asked]
            (block,) = fake.image_blocks(first)
            source = block["source"]
            assert source["type"] == "base64" and source["media_type"] == "image/png"
            sent = base64.b64decode(source["data"], validate=True)
            model_copy = prepare(label, source="upload", max_side=640)  # Echo's downscale
            assert sent == model_copy.data
            with Image.open(io.BytesIO(sent)) as img:
                assert img.format == "PNG" and max(img.size) == 640
            assert headers["x-api-key"] == KEY and headers.get("anthropic-version")
            assert first["model"] == server.settings.vision_anthropic_model
            assert "read_image" in [t["name"] for t in first["tools"]]
            assert first["tool_choice"] == {"type": "auto", "disable_parallel_tool_use": True}
            assert "read_image" in json.dumps(first["system"])  # Echo's vision prompt

            asked = len(fake.requests)
            await say_and_listen(caller, speak, "And what about the second line?")
            follow_up = fake.requests[asked]
            assert fake.image_blocks(follow_up) == [block]  # the same image, kept in context
            roles = [m["role"] for m in follow_up["messages"]]
            assert roles.count("assistant") >= 2  # greeting and the first answer came back
        finally:
            await caller.close()
        assert caller.received.first_voiced(0.0) is not None
        spoken = await wait_until(lambda: "Metformin" in spoken_turns(server), timeout=20)
        assert spoken, "Claude's streamed answer was not spoken"
    _, logged = capfd.readouterr()
    assert KEY not in logged  # the key is never logged
    assert "iVBOR" not in logged  # nor the image bytes (base64 PNG)


@pytest.mark.slow
async def test_claude_tool_use_reads_the_upload_and_speaks_the_result(settings, speak):
    fake = FakeAnthropic(mode="tool")
    with fake, LiveServer(claude_settings(settings, fake)) as server:
        caller = EchoCaller(server.url, pipeline="vision")
        try:
            await caller.connect()
            assert await caller.wait_for_voice(since=0.0, timeout=30), "no greeting"
            await caller.wait_for_silence(quiet=1.2, timeout=30)
            status, body = await upload(server.url, caller.pc_id, encoded(pill_label(), "WEBP"))
            assert status == 200 and body["image"]["mime"] == "image/webp"
            asked = len(fake.requests)
            await say_and_listen(caller, speak, "What does this label say?")
        finally:
            await caller.close()

        def answered():
            for body in fake.requests[asked:]:
                for m in body["messages"]:
                    for b in blocks_of(m):
                        if b["type"] == "tool_result":
                            return body, b
            return None

        found = await wait_until(answered, timeout=30)
        assert found, "the read_image result never went back to Claude"
        body, result = found
        # The call Claude streamed came back as its tool_use block, the result after it.
        uses = [b for m in body["messages"] for b in blocks_of(m) if b["type"] == "tool_use"]
        assert uses[-1]["id"] == result["tool_use_id"] and uses[-1]["name"] == "read_image"
        assert isinstance(uses[-1]["input"]["question"], str)  # streamed JSON, reassembled
        reading = json.loads(result["content"])
        assert reading["ok"] and reading["source"] == "upload"
        assert "metformin" in reading["answer"].lower()
        (image,) = fake.image_blocks(body)  # a WebP upload reaches Claude as JPEG
        assert image["source"]["media_type"] == "image/jpeg"
        with Image.open(io.BytesIO(base64.b64decode(image["source"]["data"]))) as img:
            assert img.format == "JPEG"
        spoken = await wait_until(lambda: "metformin" in spoken_turns(server).lower(), 20)
        assert spoken, "the tool result Claude answered with was not spoken"


def test_look_command_asks_claude(tmp_path, capsys, monkeypatch):
    from cli import main as cli_main

    image = tmp_path / "label.png"
    image.write_bytes(encoded(pill_label(), "PNG"))
    with FakeAnthropic(reply="The label reads Metformin.") as fake:
        monkeypatch.setenv("ANTHROPIC_API_KEY", KEY)
        monkeypatch.setenv("ANTHROPIC_BASE_URL", fake.url)
        assert cli_main(["look", str(image), "--question", "What is this?"]) == 0
        (body,) = fake.requests
    out = capsys.readouterr().out
    assert "answer (anthropic): The label reads Metformin." in out
    assert "METFORMIN HCL 500 MG TABLETS" in out  # what the local reader saw, beside it
    (block,) = fake.image_blocks(body)
    assert block["source"]["media_type"] == "image/png"
    assert KEY not in out
