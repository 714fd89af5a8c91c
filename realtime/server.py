"""An offline, OpenAI-Realtime-compatible WebSocket server on Echo's local models.

It speaks the GA Realtime protocol subset Pipecat's ``OpenAIRealtimeLLMService`` uses, so the
speech-native pipeline can be developed and tested with no cloud account: point the service's
``base_url`` here instead of ``wss://api.openai.com/v1/realtime``.

It is *cascaded inside*, built from the cascaded pipeline's own pieces
(:mod:`realtime.engine`): server VAD is Silero on the input resampled to 16 kHz, the "model"
is Echo's Whisper transcription path → the clinic brain → Piper, audio out is Piper resampled
to 24 kHz. The protocol, the event order and the timings it reports are real; the
speech-to-speech model is not. Every model call runs in a worker thread.

This module holds the server (listening, handshake) and one connection's event loop and
output items; the connection's other parts are :mod:`realtime.audio_in` (input buffer, VAD,
transcripts), :mod:`realtime.conversation` (items), :mod:`realtime.responses` (the response
life cycle and the cascade) and :mod:`realtime.audio_out` (speech); the pure protocol rules
are :mod:`realtime.protocol`.

Every server event it sends validates strictly against the official ``openai`` SDK's GA
event models (``tests/test_realtime_strict.py``). Beta clients (``OpenAI-Beta: realtime=v1``)
are refused with one ``error`` event; beta field names get an error naming the GA field.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
import socket
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from loguru import logger
from websockets.exceptions import ConnectionClosed

from realtime.audio_in import InputAudio
from realtime.audio_out import SpokenOutput
from realtime.conversation import Conversation
from realtime.engine import LocalEngine
from realtime.images import ImageReadings
from realtime.protocol.events import (
    INVALID_API_KEY,
    ProtocolError,
    beta_protocol_error,
    error_event,
    known_model,
    new_id,
    parse_client_event,
    server_event,
    unknown_model_error,
)
from realtime.protocol.items import public_item
from realtime.protocol.session import apply_session_update, default_session
from realtime.protocol.spoken import WordTiming
from realtime.responses import Response, Responses

DEFAULT_PATH = "/v1/realtime"
DEFAULT_MODEL = "gpt-realtime"
BETA_HEADER = "OpenAI-Beta"  # "realtime=v1" asks for the beta protocol, which is not spoken here


def content_part(part: dict[str, Any]) -> dict[str, Any]:
    """An item's content part as ``response.content_part.*`` events carry it.

    Items say ``output_audio`` / ``output_text``; these events' ``part`` says ``audio`` /
    ``text`` (the GA event models allow only those two).
    """
    return {**part, "type": part["type"].removeprefix("output_")}


class RealtimeServer:
    """The WebSocket server; lazily started, one per process (owned by its creator).

    Args:
        engine: The local models.
        host: Interface to listen on (loopback by default).
        port: Port; 0 picks a free one when bound.
        api_key: When set, connections must send ``Authorization: Bearer <api_key>``.
        path: The WebSocket path (``/v1/realtime`` like the API).
        extra_models: Model names accepted besides the Realtime families.

    """

    def __init__(
        self,
        engine: LocalEngine,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        api_key: str | None = None,
        path: str = DEFAULT_PATH,
        extra_models: tuple[str, ...] = (),
    ):
        self.engine = engine
        self.host = host
        self.port = port
        self.path = path
        self.extra_models = tuple(extra_models)
        self._api_key = api_key
        self._sock: socket.socket | None = None
        self._server: Any = None
        self._start_lock: asyncio.Lock | None = None
        self.connections: set[RealtimeConnection] = set()

    # --- lifecycle -----------------------------------------------------------------------

    def bind(self) -> int:
        """Reserve the listening socket now (so the URL is known before serving); the port."""
        if self._sock is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((self.host, self.port))
            sock.listen(16)
            sock.setblocking(False)
            self._sock = sock
            self.port = sock.getsockname()[1]
        return self.port

    @property
    def url(self) -> str:
        """The ``ws://`` base URL to give a Realtime client (binds the socket if needed)."""
        self.bind()
        return f"ws://{self.host}:{self.port}{self.path}"

    @property
    def started(self) -> bool:
        """Whether the server is accepting connections."""
        return self._server is not None

    async def start(self) -> str:
        """Start serving (idempotent); returns the URL."""
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self._server is None:
                from websockets.asyncio.server import serve

                self.bind()
                self._server = await serve(
                    self._handle,
                    sock=self._sock,
                    process_request=self._check_request,
                    max_size=16 * 1024 * 1024,
                    compression=None,
                )
                logger.info(f"Realtime server (local models) listening on {self.url}")
        return self.url

    async def close(self) -> None:
        """Stop serving and close every connection."""
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), timeout=5)
            self._server = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    async def serve_forever(self) -> None:
        """Start and serve until cancelled."""
        await self.start()
        try:
            await asyncio.Future()
        finally:
            await self.close()

    # --- handshake -----------------------------------------------------------------------

    def _check_request(self, connection, request):
        url = urlsplit(request.path)
        if url.path.rstrip("/") != self.path.rstrip("/"):
            return connection.respond(HTTPStatus.NOT_FOUND, f"no Realtime endpoint at {url.path}\n")
        if self._api_key is not None:
            header = request.headers.get("Authorization", "")
            expected = f"Bearer {self._api_key}"
            if not hmac.compare_digest(header.encode(), expected.encode()):
                body = json.dumps(INVALID_API_KEY)
                return connection.respond(HTTPStatus.UNAUTHORIZED, body + "\n")
        return None

    async def _refuse(self, ws, error: ProtocolError) -> None:
        """Send one ``error`` event and close the socket (policy violation)."""
        await ws.send(json.dumps(error_event(error)))
        await ws.close(code=1008, reason=error.code)

    async def _handle(self, ws) -> None:
        query = parse_qs(urlsplit(ws.request.path).query)
        model = (query.get("model") or [DEFAULT_MODEL])[0]
        if "realtime=v1" in ws.request.headers.get(BETA_HEADER, ""):
            # A beta client would misread every GA event that follows: refuse it up front,
            # with an error event the beta and GA clients both parse.
            await self._refuse(ws, beta_protocol_error())
            return
        if not known_model(model, self.extra_models):
            await self._refuse(ws, unknown_model_error(model))
            return
        conn = RealtimeConnection(self, ws, model)
        self.connections.add(conn)
        try:
            await conn.run()
        finally:
            self.connections.discard(conn)


class RealtimeConnection(InputAudio, Conversation, Responses, SpokenOutput):
    """One client session: its configuration, conversation, input buffer and responses."""

    def __init__(self, server: RealtimeServer, ws, model: str):
        self.server = server
        self.engine = server.engine
        self.ws = ws
        self.id = new_id("sess")
        self.session = default_session(model)
        self.items: list[dict[str, Any]] = []
        self.words: dict[str, list[WordTiming]] = {}
        self.audio_ms: dict[str, int] = {}
        self.transcripts: dict[str, asyncio.Task] = {}  # user audio item → transcription
        self.response: Response | None = None
        self.response_owed = False
        self._send_lock = asyncio.Lock()
        self._brain: Any = None
        # input_image parts, checked as uploads are and read locally
        self.images = ImageReadings(self.engine.read, self.engine.image_limits)
        self._init_input_audio()

    # --- plumbing --------------------------------------------------------------------------

    async def send(self, event: dict[str, Any]) -> None:
        """Send one server event (never raises on a closed socket)."""
        async with self._send_lock:
            with contextlib.suppress(Exception):
                await self.ws.send(json.dumps(event))

    async def emit(self, type_: str, **fields: Any) -> None:
        """Build and send a server event."""
        await self.send(server_event(type_, **fields))

    async def run(self) -> None:
        """Serve this connection until the client leaves."""
        logger.info(f"realtime {self.id}: connected, model={self.session['model']}")
        await self.emit("session.created", session=self.session)
        events = 0
        try:
            async for raw in self.ws:
                events += 1
                try:
                    await self.dispatch(parse_client_event(raw))
                except ProtocolError as e:
                    logger.debug(f"realtime {self.id}: refused event: {e.code}")
                    await self.send(error_event(e))
                except Exception as e:  # a bug here must not take the session down silently
                    logger.exception(f"realtime {self.id}: internal error")
                    await self.send(
                        error_event(
                            ProtocolError(
                                "internal_error",
                                f"the local server failed on this event: {type(e).__name__}",
                                error_type="server_error",
                            )
                        )
                    )
        except ConnectionClosed as e:  # a dropped socket ends the session, never the server
            logger.info(f"realtime {self.id}: connection dropped ({type(e).__name__})")
        finally:
            await self.shutdown()
            logger.info(f"realtime {self.id}: closed after {events} client events")

    async def shutdown(self) -> None:
        """Cancel work in flight and release the per-connection models."""
        self.images.close()
        tasks = list(self.transcripts.values())
        if self.response and self.response.task:
            tasks.append(self.response.task)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.close_input_audio()

    async def dispatch(self, event: dict[str, Any]) -> None:
        """Handle one validated client event."""
        handler = {
            "session.update": self.on_session_update,
            "input_audio_buffer.append": self.on_append,
            "input_audio_buffer.commit": self.on_commit,
            "input_audio_buffer.clear": self.on_clear,
            "conversation.item.create": self.on_item_create,
            "conversation.item.truncate": self.on_item_truncate,
            "conversation.item.delete": self.on_item_delete,
            "conversation.item.retrieve": self.on_item_retrieve,
            "response.create": self.on_response_create,
            "response.cancel": self.on_response_cancel,
        }[event["type"]]
        await handler(event)

    # --- session ---------------------------------------------------------------------------

    async def on_session_update(self, event: dict[str, Any]) -> None:
        """Validate and apply a ``session.update``; reply ``session.updated``."""
        self.session = apply_session_update(
            self.session, event.get("session"), event, models=self.server.extra_models
        )
        self.configure_turns()
        await self.emit("session.updated", session=self.session)

    # --- output items ----------------------------------------------------------------------

    async def _add_output_item(self, response: Response, item: dict[str, Any]) -> int:
        index = len(response.output)
        previous = self._previous_id()
        if not response.output and response.prelude:
            item["_prelude"] = response.prelude  # kept for the brain, never sent
        response.output.append(item)
        self.items.append(item)
        public = public_item(item)
        await self.emit(
            "response.output_item.added", response_id=response.id, output_index=index, item=public
        )
        await self.emit("conversation.item.added", previous_item_id=previous, item=public)
        return index

    async def _finish_output_item(self, response: Response, index: int, item: dict) -> None:
        item["status"] = "completed"
        public = public_item(item)
        await self.emit(
            "response.output_item.done", response_id=response.id, output_index=index, item=public
        )
        await self.emit("conversation.item.done", previous_item_id=None, item=public)

    async def _emit_function_call(self, response: Response, name: str, arguments: dict) -> None:
        call_id = new_id("call")
        args = json.dumps(arguments, ensure_ascii=False)
        item = {
            "id": new_id("item"),
            "object": "realtime.item",
            "type": "function_call",
            "status": "in_progress",
            "call_id": call_id,
            "name": name,
            "arguments": "",
        }
        index = await self._add_output_item(response, item)
        ids = {"response_id": response.id, "item_id": item["id"], "output_index": index}
        await self.emit(
            "response.function_call_arguments.delta", **ids, call_id=call_id, delta=args
        )
        item["arguments"] = args
        await self.emit(
            "response.function_call_arguments.done",
            **ids,
            call_id=call_id,
            name=name,
            arguments=args,
        )
        await self._finish_output_item(response, index, item)

    async def _emit_message(self, response: Response, text: str) -> None:
        audio = response.output_modalities == ["audio"]
        part_type = "output_audio" if audio else "output_text"
        item = {
            "id": new_id("item"),
            "object": "realtime.item",
            "type": "message",
            "status": "in_progress",
            "role": "assistant",
            "content": [],
        }
        index = await self._add_output_item(response, item)
        ids = {
            "response_id": response.id,
            "item_id": item["id"],
            "output_index": index,
            "content_index": 0,
        }
        part: dict[str, Any] = (
            {"type": part_type, "transcript": ""} if audio else {"type": part_type, "text": ""}
        )
        item["content"].append(part)
        await self.emit("response.content_part.added", **ids, part=content_part(part))
        if audio:
            await self._speak(item, part, text, ids)
            await self.emit("response.output_audio.done", **ids)
            await self.emit(
                "response.output_audio_transcript.done", **ids, transcript=part["transcript"]
            )
        else:
            for i, word in enumerate(text.split()):
                delta = word if i == 0 else f" {word}"
                part["text"] += delta
                await self.emit("response.output_text.delta", **ids, delta=delta)
            await self.emit("response.output_text.done", **ids, text=part["text"])
        await self.emit("response.content_part.done", **ids, part=content_part(part))
        await self._finish_output_item(response, index, item)
