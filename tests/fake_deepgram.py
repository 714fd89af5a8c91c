"""A local server speaking Deepgram's live ``/v1/listen`` WebSocket, for tests.

It stands in for Deepgram at the one boundary the tests cannot reach, and it really
transcribes: the audio it receives (``linear16`` at the ``sample_rate`` of the query) is
given to ``transcribe`` (the test passes Echo's local Whisper). It answers the protocol
Pipecat's ``DeepgramSTTService`` speaks: binary audio, ``KeepAlive``, ``Finalize`` (a
``Results`` message with ``is_final``, ``speech_final`` and ``from_finalize``, words and
metadata) and ``CloseStream`` (a ``Metadata`` message, then a normal close).

Faults (``mode``, changeable while a call runs):

* ``"ok"`` — answers every ``Finalize``;
* ``"refuse"`` — the handshake gets HTTP 401 with a ``dg-error`` header, as Deepgram
  refuses an invalid key;
* ``"silent"`` — accepts the socket and audio and never answers;
* ``"drop"`` — drops the TCP connection (no close frame) once half a second of speech has
  arrived, i.e. in the middle of the caller's turn (once; then it serves again).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime

import numpy as np
from aiohttp import WSMsgType, web

from tests.fake_server import LoopbackApp

MODEL_INFO = {"name": "nova-3-general", "version": "2025-01-01.0", "arch": "nova-3"}
_VOICED = 500  # int16 amplitude counted as speech


def voiced_span(pcm: np.ndarray, rate: int, pad_secs: float = 0.3) -> np.ndarray:
    """The part of ``pcm`` from just before its first voiced sample to just after its last."""
    voiced = np.flatnonzero(np.abs(pcm) > _VOICED)
    if not len(voiced):
        return pcm[:0]
    pad = int(pad_secs * rate)
    return pcm[max(0, voiced[0] - pad) : voiced[-1] + pad]


def results_message(
    transcript: str, *, start: float, duration: float, request_id: str, from_finalize: bool
) -> dict:
    """A final ``Results`` message as Deepgram's live API sends it."""
    words = transcript.split()
    step = duration / max(1, len(words))
    return {
        "type": "Results",
        "channel_index": [0, 1],
        "duration": round(duration, 3),
        "start": round(start, 3),
        "is_final": True,
        "speech_final": True,
        "from_finalize": from_finalize,
        "channel": {
            "alternatives": [
                {
                    "transcript": transcript,
                    "confidence": 0.97 if words else 0.0,
                    "words": [
                        {
                            "word": w.strip(".,?!").lower(),
                            "start": round(start + i * step, 3),
                            "end": round(start + (i + 1) * step, 3),
                            "confidence": 0.97,
                            "punctuated_word": w,
                        }
                        for i, w in enumerate(words)
                    ],
                }
            ]
        },
        "metadata": {
            "request_id": request_id,
            "model_info": MODEL_INFO,
            "model_uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, MODEL_INFO["name"])),
        },
    }


class FakeDeepgram(LoopbackApp):
    """Deepgram's live transcription WebSocket on a loopback port.

    Args:
        transcribe: ``(int16 PCM at 16 kHz) -> text``.
        mode: ``ok``, ``refuse``, ``silent`` or ``drop`` (see the module docstring).
    """

    def __init__(self, *, transcribe: Callable[[np.ndarray], str], mode: str = "ok"):
        super().__init__()
        self.transcribe = transcribe
        self.mode = mode
        self.connections = 0
        self.refused = 0
        self.dropped = 0
        self.finals: list[str] = []  # transcripts sent (the tests assert effects, not words)
        self.queries: list[dict] = []
        self.keys: list[str] = []  # the Authorization header of each handshake

    @property
    def url(self) -> str:
        """The base URL to give ``ECHO_DEEPGRAM_BASE_URL``."""
        return f"ws://127.0.0.1:{self.port}"

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/v1/listen", self._listen)

    async def _listen(self, request: web.Request) -> web.StreamResponse:
        self.keys.append(request.headers.get("Authorization", ""))
        self.queries.append(dict(request.query))
        if self.mode == "refuse":
            self.refused += 1
            return web.json_response(
                {"err_code": "INVALID_AUTH", "err_msg": "Invalid credentials."},
                status=401,
                headers={"dg-error": "Invalid credentials."},
            )
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.connections += 1
        rate = int(request.query.get("sample_rate", "16000"))
        request_id = str(uuid.uuid4())
        audio = bytearray()  # since the last final
        offset = 0.0  # seconds of audio before ``audio``
        total = 0.0
        voiced_secs = 0.0
        started = time.time()
        async for msg in ws:
            if msg.type == WSMsgType.BINARY:
                chunk = np.frombuffer(msg.data, dtype=np.int16)
                audio += msg.data
                total += len(chunk) / rate
                if len(chunk) and np.abs(chunk).max() > _VOICED:
                    voiced_secs += len(chunk) / rate
                if self.mode == "drop" and voiced_secs >= 0.5:
                    self.dropped += 1
                    self.mode = "ok"  # one drop; a later connection is served
                    request.transport.abort()  # no close frame: the stream just dies
                    return ws
                continue
            if msg.type != WSMsgType.TEXT:
                break
            kind = json.loads(msg.data).get("type")
            if kind == "Finalize" and self.mode == "ok":
                pcm = np.frombuffer(bytes(audio), dtype=np.int16)
                duration = len(pcm) / rate
                text = await asyncio.to_thread(self._transcribe, pcm, rate)
                self.finals.append(text)
                await ws.send_str(
                    json.dumps(
                        results_message(
                            text,
                            start=offset,
                            duration=duration,
                            request_id=request_id,
                            from_finalize=True,
                        )
                    )
                )
                audio.clear()
                offset += duration
                voiced_secs = 0.0
            elif kind == "CloseStream":
                await ws.send_str(json.dumps(self._metadata(request_id, total, started)))
                await ws.close()
                break
        return ws

    def _transcribe(self, pcm: np.ndarray, rate: int) -> str:
        span = voiced_span(pcm, rate)
        if len(span) < rate * 0.2:
            return ""
        if rate != 16000:
            import soxr

            span = soxr.resample(span, rate, 16000)
        return self.transcribe(span.astype(np.int16)).strip()

    @staticmethod
    def _metadata(request_id: str, duration: float, started: float) -> dict:
        return {
            "type": "Metadata",
            "transaction_key": "deprecated",
            "request_id": request_id,
            "sha256": hashlib.sha256(request_id.encode()).hexdigest(),
            "created": datetime.fromtimestamp(started, UTC).isoformat(),
            "duration": round(duration, 3),
            "channels": 1,
            "models": [MODEL_INFO["name"]],
            "model_info": {MODEL_INFO["name"]: MODEL_INFO},
        }
