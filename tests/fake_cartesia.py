"""A local server speaking Cartesia's TTS WebSocket (``/tts/websocket``), for tests.

It stands in for Cartesia at the one boundary the tests cannot reach and really speaks:
each ``transcript`` of a context is synthesized with Piper (the voice the test passes),
resampled to the ``output_format.sample_rate`` asked for, and sent back as ``chunk``
messages (base64 ``pcm_s16le``), ``timestamps`` messages (word starts and ends, seconds
from the context's start) and, once the client ends the context (``continue: false``),
``done``. ``{"context_id": …, "cancel": true}`` stops a context.

Faults (``mode``, changeable while a call runs):

* ``"ok"`` — answers every transcript;
* ``"refuse"`` — the handshake gets HTTP 401, as Cartesia refuses an invalid key;
* ``"silent"`` — accepts the socket and the transcripts and never answers;
* ``"drop"`` — sends the first half of a transcript's audio, then drops the TCP
  connection (no close frame); once, then it serves again.
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import Any

import numpy as np
from aiohttp import WSMsgType, web

from tests.fake_server import LoopbackApp

CHUNK_SECS = 0.04


def word_times(text: str, start: float, duration: float) -> dict[str, list]:
    """Word timestamps spread over ``duration`` by word length (Cartesia's shape)."""
    words = text.split()
    weights = np.array([len(w) + 1 for w in words], dtype=float)
    edges = np.concatenate([[0.0], np.cumsum(weights)]) / max(1.0, weights.sum()) * duration
    return {
        "words": words,
        "start": [round(start + e, 3) for e in edges[:-1]],
        "end": [round(start + e, 3) for e in edges[1:]],
    }


def timestamps_message(ctx: str, text: str, start: float, duration: float) -> dict:
    """A ``timestamps`` message for ``text`` spoken from ``start`` for ``duration``."""
    return {
        "type": "timestamps",
        "context_id": ctx,
        "status_code": 206,
        "done": False,
        "word_timestamps": word_times(text, start, duration),
    }


class FakeCartesia(LoopbackApp):
    """Cartesia's TTS WebSocket on a loopback port.

    Args:
        voice: A loaded ``piper.PiperVoice``.
        mode: ``ok``, ``refuse``, ``silent`` or ``drop`` (see the module docstring).
    """

    def __init__(self, *, voice: Any, mode: str = "ok"):
        super().__init__()
        self.voice = voice
        self.mode = mode
        self.connections = 0
        self.refused = 0
        self.dropped = 0
        self.requests: list[dict] = []  # every JSON message received
        self.keys: list[str] = []  # the X-API-Key of each handshake
        self.versions: list[str] = []  # the Cartesia-Version of each handshake

    @property
    def url(self) -> str:
        """The base URL to give ``ECHO_CARTESIA_BASE_URL``."""
        return f"ws://127.0.0.1:{self.port}"

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/tts/websocket", self._tts)

    def synthesize(self, text: str, rate: int) -> np.ndarray:
        """Piper's int16 speech for ``text`` at ``rate``."""
        import soxr

        pcm = np.concatenate(
            [np.frombuffer(c.audio_int16_bytes, np.int16) for c in self.voice.synthesize(text)]
        )
        out = soxr.resample(pcm.astype(np.float32) / 32768.0, self.voice.config.sample_rate, rate)
        return np.clip(out * 32768.0, -32768, 32767).astype(np.int16)

    async def _tts(self, request: web.Request) -> web.StreamResponse:
        self.keys.append(request.headers.get("X-API-Key", ""))
        self.versions.append(request.headers.get("Cartesia-Version", ""))
        if self.mode == "refuse":
            self.refused += 1
            return web.json_response({"error": "Invalid API key"}, status=401)
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.connections += 1
        offsets: dict[str, float] = {}  # seconds of audio sent per context
        cancelled: set[str] = set()
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                break
            body = json.loads(msg.data)
            self.requests.append(body)
            ctx = body.get("context_id", "")
            if body.get("cancel"):
                cancelled.add(ctx)
                continue
            if self.mode == "silent" or ctx in cancelled:
                continue
            if not isinstance(body.get("transcript"), str) or "output_format" not in body:
                await ws.send_str(
                    json.dumps(
                        {
                            "type": "error",
                            "context_id": ctx,
                            "status_code": 400,
                            "done": True,
                            "error": "transcript and output_format are required",
                        }
                    )
                )
                continue
            text = body["transcript"].strip()
            rate = int(body["output_format"].get("sample_rate") or 24000)
            if text:
                start = offsets.get(ctx, 0.0)
                pcm = await asyncio.to_thread(self.synthesize, text, rate)
                duration = len(pcm) / rate
                offsets[ctx] = start + duration
                step = int(rate * CHUNK_SECS)
                chunks = [pcm[i : i + step] for i in range(0, len(pcm), step)]
                for n, chunk in enumerate(chunks):
                    if self.mode == "drop" and n >= len(chunks) // 2:
                        self.dropped += 1
                        self.mode = "ok"
                        request.transport.abort()  # no close frame: the stream just dies
                        return ws
                    await ws.send_str(
                        json.dumps(
                            {
                                "type": "chunk",
                                "context_id": ctx,
                                "status_code": 206,
                                "done": False,
                                "step_time": CHUNK_SECS * 1000,
                                "data": base64.b64encode(chunk.tobytes()).decode(),
                            }
                        )
                    )
                    if n == 0 and body.get("add_timestamps"):
                        await ws.send_str(
                            json.dumps(timestamps_message(ctx, text, start, duration))
                        )
            if not body.get("continue", False):
                await ws.send_str(
                    json.dumps(
                        {"type": "done", "context_id": ctx, "status_code": 200, "done": True}
                    )
                )
        return ws
