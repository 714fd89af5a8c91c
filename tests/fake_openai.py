"""A local server speaking OpenAI's streaming ``/v1/chat/completions`` (SSE), for tests.

It stands in for a cloud (or local) multimodal LLM at the one boundary the tests cannot
reach. It records every request body and answers by a simple script:

* the last message is a ``read_image`` tool result → it says the result's ``answer``;
* ``mode="tool"`` and the last message is the caller's → it calls ``read_image`` with
  their words (as a model following Echo's prompt would);
* otherwise → it says ``reply`` (default: a fixed sentence).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time

from aiohttp import web

from tests.conftest import free_port


class FakeOpenAI:
    def __init__(self, *, mode: str = "vision", reply: str = "I can see the picture you sent."):
        self.mode = mode
        self.reply = reply
        self.requests: list[dict] = []
        self.port = free_port()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._ready = threading.Event()
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_post("/v1/chat/completions", self._completions)
        self._runner = web.AppRunner(app)
        self._loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", self.port)
        self._loop.run_until_complete(site.start())
        self._ready.set()
        self._loop.run_forever()

    def __enter__(self) -> FakeOpenAI:
        self._thread.start()
        self._ready.wait(10)
        return self

    def __exit__(self, *exc) -> None:
        asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)

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
