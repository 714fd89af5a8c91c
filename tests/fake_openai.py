"""A local server speaking OpenAI's streaming ``/v1/chat/completions`` (SSE), for tests.

It stands in for a cloud (or local) multimodal LLM at the one boundary the tests cannot
reach. It records every request body and answers by a simple script:

* the last message is a ``read_image`` tool result → it says the result's ``answer``;
* ``mode="tool"`` and the last message is the caller's → it calls ``read_image`` with
  their words (as a model following Echo's prompt would);
* otherwise → it says ``reply`` (default: a fixed sentence).
"""

from __future__ import annotations

import json
import time

from aiohttp import web

from tests.fake_server import LoopbackApp


class FakeOpenAI(LoopbackApp):
    client_max_size = 64 * 1024 * 1024  # images in the requests

    def __init__(self, *, mode: str = "vision", reply: str = "I can see the picture you sent."):
        super().__init__()
        self.mode = mode
        self.reply = reply
        self.requests: list[dict] = []

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def routes(self, app: web.Application) -> None:
        app.router.add_post("/v1/chat/completions", self._completions)

    def decide(self, body: dict) -> tuple[str | None, dict | None]:
        messages = body.get("messages", [])
        last = messages[-1] if messages else {}
        if last.get("role") == "tool":
            try:
                return json.loads(last.get("content") or "{}").get("answer"), None
            except ValueError:
                return "Done.", None
        tools = [t["function"]["name"] for t in body.get("tools", []) or []]
        if last.get("role") == "user" and self.mode == "tool" and "read_image" in tools:
            content = last.get("content")
            text = (
                content
                if isinstance(content, str)
                else " ".join(p.get("text", "") for p in content if p.get("type") == "text")
            )
            return None, {"name": "read_image", "arguments": json.dumps({"question": text})}
        if not any(m.get("role") == "user" for m in messages):
            return "Hello, this is Echo.", None
        return self.reply, None

    async def _completions(self, request: web.Request) -> web.StreamResponse:
        body = await request.json()
        self.requests.append(body)
        text, call = self.decide(body)
        res = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await res.prepare(request)

        async def send(delta: dict, finish: str | None = None) -> None:
            chunk = {
                "id": "chatcmpl-test",
                "object": "chat.completion.chunk",
                "created": int(time.time()),
                "model": body.get("model", "test"),
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            await res.write(f"data: {json.dumps(chunk)}\n\n".encode())

        await send({"role": "assistant", "content": ""})
        if call is not None:
            tool_call = {
                "index": 0,
                "id": f"call_{len(self.requests)}",
                "type": "function",
                "function": {"name": call["name"], "arguments": call["arguments"]},
            }
            await send({"tool_calls": [tool_call]})
            await send({}, "tool_calls")
        else:
            for word in (text or "").split(" "):
                await send({"content": word + " "})
            await send({}, "stop")
        await res.write(b"data: [DONE]\n\n")
        return res

    def image_parts(self, body: dict) -> list[dict]:
        out = []
        for m in body.get("messages", []):
            content = m.get("content")
            if isinstance(content, list):
                out += [p for p in content if p.get("type") == "image_url"]
        return out
