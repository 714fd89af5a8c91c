"""An offline, OpenAI-Realtime-compatible WebSocket server on Echo's local models.

It speaks the GA Realtime protocol subset Pipecat's ``OpenAIRealtimeLLMService`` uses, so the
speech-native pipeline can be developed and tested with no cloud account: point the service's
``base_url`` here instead of ``wss://api.openai.com/v1/realtime``.

It is *cascaded inside*: server VAD is Silero on the input resampled to 16 kHz, the "model" is
faster-whisper → Echo's clinic brain → Piper, audio out is Piper resampled to 24 kHz. The
protocol, the event order and the timings it reports are real; the speech-to-speech model is
not. Every model call runs in a worker thread (``asyncio.to_thread``).

Every server event it sends validates strictly against the official ``openai`` SDK's GA
event models (``tests/test_realtime_strict.py``). Beta clients (``OpenAI-Beta: realtime=v1``)
are refused with one ``error`` event; beta field names get an error naming the GA field.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hmac
import json
import socket
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
from loguru import logger
from websockets.exceptions import ConnectionClosed

from realtime.engine import InputResampler, LocalEngine, VoiceScorer
from realtime.images import READ_IMAGE, ImageReadings, tool_exchange
from realtime.protocol import (
    BETA_RESPONSE_FIELDS,
    BYTES_PER_MS,
    SAMPLE_RATE,
    ProtocolError,
    WordTiming,
    apply_session_update,
    check_beta_fields,
    check_item,
    check_tools,
    decode_audio,
    default_session,
    error_event,
    heard_transcript,
    known_model,
    messages_for_brain,
    new_id,
    parse_client_event,
    server_event,
    split_sentences,
    word_timings,
)
from realtime.turns import (
    SEMANTIC_CHECK_MS,
    SEMANTIC_MAX_WAIT_MS,
    VAD_RATE,
    WINDOW,
    TurnDetector,
)

DEFAULT_PATH = "/v1/realtime"
DEFAULT_MODEL = "gpt-realtime"
AUDIO_CHUNK_MS = 100  # size of each response.output_audio.delta
MIN_COMMIT_MS = 100  # the API refuses to commit less
MAX_BUFFER_MS = 10 * 60 * 1000  # input buffer cap without a commit
UNSUPPORTED_TOOL_REPLY = "Sorry, I can't do that on this line."
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
                body = json.dumps(
                    {
                        "error": {
                            "type": "invalid_request_error",
                            "code": "invalid_api_key",
                            "message": "Incorrect API key provided.",
                        }
                    }
                )
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
            await self._refuse(
                ws,
                ProtocolError(
                    "beta_protocol_not_supported",
                    "This server speaks only the GA Realtime protocol, not the beta one "
                    "('OpenAI-Beta: realtime=v1'). Connect without that header (openai SDK: "
                    "client.realtime.connect, not client.beta.realtime.connect) and use the GA "
                    "session fields (output_modalities, audio.input.*, audio.output.*).",
                ),
            )
            return
        if not known_model(model, self.extra_models):
            await self._refuse(
                ws,
                ProtocolError(
                    "model_not_found",
                    f"The model '{model}' does not exist: this server accepts the "
                    "Realtime models (gpt-realtime, gpt-realtime-mini, "
                    "gpt-4o-realtime-preview, ...).",
                    param="model",
                ),
            )
            return
        conn = RealtimeConnection(self, ws, model)
        self.connections.add(conn)
        try:
            await conn.run()
        finally:
            self.connections.discard(conn)


class _Response:
    """One response in progress."""

    def __init__(
        self,
        response_id: str,
        props: dict[str, Any],
        session: dict[str, Any],
        event_id: str | None = None,
    ):
        self.id = response_id
        self.event_id = event_id  # the response.create that asked for it (None: server VAD)
        self.tools_param = "response.tools" if "tools" in props else "session.tools"
        self.output_modalities = props.get("output_modalities") or session["output_modalities"]
        self.instructions = props.get("instructions") or session["instructions"]
        self.tools = props.get("tools", session["tools"])
        self.tool_choice = props.get("tool_choice") or session["tool_choice"]
        self.output: list[dict[str, Any]] = []
        self.task: asyncio.Task | None = None
        self.created = False  # response.created sent
        self.status_details: dict[str, Any] | None = None
        self.prelude: list[dict[str, Any]] = []  # work done out of the client's sight


class RealtimeConnection:
    """One client session: its configuration, conversation, input buffer and responses."""

    def __init__(self, server: RealtimeServer, ws, model: str):
        self.server = server
        self.engine = server.engine
        self.ws = ws
        self.id = new_id("sess")
        self.session = default_session(model)
        self.items: list[dict[str, Any]] = []
        self.words: dict[str, list[WordTiming]] = {}  # assistant audio item → word timings
        self.audio_ms: dict[str, int] = {}  # assistant audio item → audio length
        self.transcripts: dict[str, asyncio.Task] = {}  # user audio item → transcription
        self.response: _Response | None = None
        self.response_owed = False  # a turn ended while a response was speaking
        self._send_lock = asyncio.Lock()
        self._brain: Any = None
        self.images = ImageReadings(self.engine.read)  # input_image parts, read locally
        # input audio
        self.buffer = bytearray()  # 24 kHz PCM16 since the last commit/clear
        self.buffer_start_ms = 0  # session audio time of buffer[0]
        self.total_samples = 0  # 24 kHz samples appended in the session
        self._resampler: InputResampler | None = None
        self._scorer: VoiceScorer | None = None
        self._vad_pending = b""
        self.detector: TurnDetector | None = None
        self.turn_item_id: str | None = None
        self.speech_start_ms = 0
        self.awaiting_until: int | None = None  # semantic VAD: waiting for more speech
        self.pending_stop_ms = 0

    # --- plumbing --------------------------------------------------------------------------

    @property
    def now_ms(self) -> int:
        """Session audio time: ms of input audio appended so far."""
        return self.total_samples * 1000 // SAMPLE_RATE

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
        if self._scorer is not None:
            await self._scorer.close()

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

    def _error(self, code: str, message: str, event: dict, param: str | None = None):
        return ProtocolError(code, message, param=param, event_id=event.get("event_id"))

    @property
    def turn_detection(self) -> dict[str, Any] | None:
        """The session's turn detection config (None: the client commits)."""
        return self.session["audio"]["input"]["turn_detection"]

    def _find(self, item_id: str) -> int | None:
        for i, item in enumerate(self.items):
            if item["id"] == item_id:
                return i
        return None

    def _public(self, item: dict[str, Any]) -> dict[str, Any]:
        """An item as sent to the client (no base64 audio or image echoed back)."""
        out = {k: v for k, v in item.items() if not k.startswith("_")}
        if "content" in out:
            out["content"] = [
                {k: v for k, v in p.items() if k not in ("audio", "image_url")}
                for p in out["content"]
            ]
        return out

    def _previous_id(self) -> str | None:
        return self.items[-1]["id"] if self.items else None

    # --- session ---------------------------------------------------------------------------

    async def on_session_update(self, event: dict[str, Any]) -> None:
        """Validate and apply a ``session.update``; reply ``session.updated``."""
        self.session = apply_session_update(
            self.session, event.get("session"), event, models=self.server.extra_models
        )
        td = self.turn_detection
        if td is None:
            self.detector = None
        else:
            silence = td["silence_duration_ms"] if td["type"] == "server_vad" else SEMANTIC_CHECK_MS
            threshold = td.get("threshold", 0.5)
            if self.detector is None:
                self.detector = TurnDetector(threshold=threshold, silence_ms=silence)
            else:
                self.detector.reconfigure(threshold=threshold, silence_ms=silence)
        await self.emit("session.updated", session=self.session)

    # --- input audio -----------------------------------------------------------------------

    async def on_append(self, event: dict[str, Any]) -> None:
        """Append audio; with server VAD, detect speech start/stop and commit turns."""
        pcm = decode_audio(event)
        if len(self.buffer) + len(pcm) > MAX_BUFFER_MS * BYTES_PER_MS:
            raise self._error(
                "input_audio_buffer_too_large",
                "the input audio buffer holds at most 10 minutes: commit or clear it",
                event,
            )
        self.buffer += pcm
        self.total_samples += len(pcm) // 2
        if self.turn_detection is None:
            return
        if self.detector is None:
            td = self.turn_detection
            self.detector = TurnDetector(
                threshold=td.get("threshold", 0.5),
                silence_ms=td.get("silence_duration_ms", SEMANTIC_CHECK_MS),
            )
        await self._detect(pcm)

    async def _detect(self, pcm: bytes) -> None:
        if self._resampler is None:
            self._resampler = InputResampler()
            self._scorer = VoiceScorer()
        self._vad_pending += self._resampler(pcm).tobytes()
        n = len(self._vad_pending) // (WINDOW * 2)
        if n:
            windows = [self._vad_pending[i * WINDOW * 2 : (i + 1) * WINDOW * 2] for i in range(n)]
            self._vad_pending = self._vad_pending[n * WINDOW * 2 :]
            scores = await asyncio.to_thread(self._scorer.score, windows)
            for score in scores:
                turn = self.detector.push(score)
                if turn is not None and turn.kind == "start":
                    await self._speech_started(turn.at_ms)
                elif turn is not None:
                    await self._speech_stopped(turn.at_ms)
        if (
            self.awaiting_until is not None
            and not self.detector.speaking
            and self.now_ms >= self.awaiting_until
        ):
            await self._end_turn(self.pending_stop_ms)
        if not self.detector.speaking and self.awaiting_until is None:
            self._trim_buffer()

    def _trim_buffer(self) -> None:
        """While nobody speaks, keep only the prefix padding (plus a margin)."""
        keep_ms = self.turn_detection.get("prefix_padding_ms", 300) + 200
        excess = len(self.buffer) - keep_ms * BYTES_PER_MS
        if excess > 0:
            # whole milliseconds only: buffer_start_ms must stay exact, or the turn's audio
            # slice drifts a little on every trim (tens of ms per second of silence)
            excess -= excess % BYTES_PER_MS
            del self.buffer[:excess]
            self.buffer_start_ms += excess // BYTES_PER_MS

    async def _speech_started(self, at_ms: int) -> None:
        if self.awaiting_until is not None:  # semantic VAD: the same turn goes on
            self.awaiting_until = None
            return
        self.turn_item_id = new_id("item")
        self.speech_start_ms = at_ms
        await self.emit(
            "input_audio_buffer.speech_started", audio_start_ms=at_ms, item_id=self.turn_item_id
        )
        if self.response is not None and self.turn_detection.get("interrupt_response", True):
            await self._cancel_response("turn_detected")

    async def _speech_stopped(self, at_ms: int) -> None:
        td = self.turn_detection
        if td["type"] == "semantic_vad":
            audio = self._buffer_16k(self._turn_start_ms(), at_ms)
            if not await asyncio.to_thread(self.engine.turn_complete, audio):
                self.pending_stop_ms = at_ms
                self.awaiting_until = at_ms + SEMANTIC_MAX_WAIT_MS[td.get("eagerness", "auto")]
                return
        await self._end_turn(at_ms)

    def _turn_start_ms(self) -> int:
        prefix = self.turn_detection.get("prefix_padding_ms", 300) if self.turn_detection else 0
        return max(self.buffer_start_ms, self.speech_start_ms - prefix)

    def _buffer_16k(self, start_ms: int, end_ms: int) -> np.ndarray:
        from realtime.engine import resample

        a = max(0, (start_ms - self.buffer_start_ms) * BYTES_PER_MS)
        b = max(a, (end_ms - self.buffer_start_ms) * BYTES_PER_MS)
        pcm = np.frombuffer(bytes(self.buffer[a:b]), dtype=np.int16)
        return resample(pcm, SAMPLE_RATE, VAD_RATE)

    async def _end_turn(self, at_ms: int) -> None:
        self.awaiting_until = None
        item_id = self.turn_item_id or new_id("item")
        await self.emit("input_audio_buffer.speech_stopped", audio_end_ms=at_ms, item_id=item_id)
        start_ms = self._turn_start_ms()
        a = (start_ms - self.buffer_start_ms) * BYTES_PER_MS
        b = max(a, (at_ms - self.buffer_start_ms) * BYTES_PER_MS)
        audio = bytes(self.buffer[a:b])
        buffered_ms = len(self.buffer) // BYTES_PER_MS
        logger.debug(
            f"realtime {self.id}: turn {start_ms}–{at_ms} ms (speech from {self.speech_start_ms}),"
            f" buffer {self.buffer_start_ms}–{self.buffer_start_ms + buffered_ms} ms,"
            f" now {self.now_ms} ms"
        )
        del self.buffer[:b]
        self.buffer_start_ms += b // BYTES_PER_MS
        self.turn_item_id = None
        await self._commit(item_id, audio)
        if self.turn_detection and self.turn_detection.get("create_response", True):
            if self.response is None:
                await self._start_response({}, None)
            else:  # the bot talks on (interrupt_response off): answer once it is done
                self.response_owed = True

    async def on_commit(self, event: dict[str, Any]) -> None:
        """Commit the whole buffer as a user audio item (no response is created)."""
        if len(self.buffer) < MIN_COMMIT_MS * BYTES_PER_MS:
            raise self._error(
                "input_audio_buffer_commit_empty",
                f"buffer too small: expected at least {MIN_COMMIT_MS}ms of audio, have "
                f"{len(self.buffer) // BYTES_PER_MS}ms",
                event,
            )
        audio = bytes(self.buffer)
        self.buffer.clear()
        self.buffer_start_ms = self.now_ms
        if self.detector is not None:
            self.detector.reset()
        self.awaiting_until = None
        item_id, self.turn_item_id = self.turn_item_id or new_id("item"), None
        await self._commit(item_id, audio)

    async def on_clear(self, event: dict[str, Any]) -> None:
        """Drop the buffered input audio."""
        self.buffer.clear()
        self.buffer_start_ms = self.now_ms
        if self.detector is not None:
            self.detector.reset()
        self.awaiting_until = None
        self.turn_item_id = None
        await self.emit("input_audio_buffer.cleared")

    async def _commit(self, item_id: str, audio: bytes) -> None:
        previous = self._previous_id()
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "status": "completed",
            "role": "user",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        self.items.append(item)
        await self.emit("input_audio_buffer.committed", previous_item_id=previous, item_id=item_id)
        await self.emit("conversation.item.added", previous_item_id=previous, item=item)
        self._transcribe(item, audio)

    def _transcribe(self, item: dict[str, Any], audio24: bytes) -> None:
        """Transcribe a user audio item in the background (responses wait for it)."""
        from realtime.engine import resample

        async def run() -> None:
            pcm = resample(np.frombuffer(audio24, dtype=np.int16), SAMPLE_RATE, VAD_RATE)
            config = self.session["audio"]["input"]["transcription"] or {}
            try:
                text = await asyncio.to_thread(self.engine.transcribe, pcm, config.get("prompt"))
            except Exception as e:
                logger.warning(f"realtime {self.id}: transcription failed: {type(e).__name__}")
                item["content"][0]["transcript"] = ""
                if config:
                    await self.emit(
                        "conversation.item.input_audio_transcription.failed",
                        item_id=item["id"],
                        content_index=0,
                        error={
                            "type": "transcription_error",
                            "code": "transcription_failed",
                            "message": f"local transcription failed: {type(e).__name__}",
                        },
                    )
                return
            item["content"][0]["transcript"] = text
            logger.debug(f"realtime {self.id}: transcribed {len(pcm)} samples → {len(text)} chars")
            if config:
                # No tokens here: usage is the audio duration (the SDK's "duration" usage).
                await self.emit(
                    "conversation.item.input_audio_transcription.completed",
                    item_id=item["id"],
                    content_index=0,
                    transcript=text,
                    usage={"type": "duration", "seconds": round(len(pcm) / VAD_RATE, 3)},
                )
            await self.emit("conversation.item.done", previous_item_id=None, item=item)

        self.transcripts[item["id"]] = asyncio.create_task(run())

    # --- conversation items ------------------------------------------------------------------

    async def on_item_create(self, event: dict[str, Any]) -> None:
        """Add a message, function call or function call output to the conversation."""
        call_ids = {i["call_id"] for i in self.items if i["type"] == "function_call"}
        item = check_item(event.get("item"), event, call_ids)
        if self._find(item["id"]) is not None:
            raise self._error(
                "item_duplicate_id", f"an item with id '{item['id']}' exists", event, "item.id"
            )
        await self.images.add(item, event)  # an unusable image refuses the item
        previous = event.get("previous_item_id")
        if previous is None or previous == "root" and not self.items:
            index = len(self.items)
            previous = self._previous_id()
        elif previous == "root":
            index, previous = 0, None
        else:
            found = self._find(previous)
            if found is None:
                raise self._error(
                    "previous_item_not_found",
                    f"previous_item_id '{previous}' is not in the conversation",
                    event,
                    "previous_item_id",
                )
            index = found + 1
        self.items.insert(index, item)
        await self.emit(
            "conversation.item.added", previous_item_id=previous, item=self._public(item)
        )
        audio_parts = [p for p in item.get("content") or [] if p.get("audio")]
        if audio_parts:
            pcm = base64.b64decode(audio_parts[0]["audio"])
            self._transcribe(item, pcm)
        else:
            await self.emit(
                "conversation.item.done", previous_item_id=previous, item=self._public(item)
            )

    async def on_item_truncate(self, event: dict[str, Any]) -> None:
        """Cut an assistant audio item at ``audio_end_ms`` (what the user actually heard)."""
        item_id = event.get("item_id")
        index = self._find(item_id) if isinstance(item_id, str) else None
        if index is None or self.items[index].get("role") != "assistant":
            raise self._error(
                "item_truncate_invalid_item_id",
                f"no assistant audio item '{item_id}' to truncate",
                event,
                "item_id",
            )
        end = event.get("audio_end_ms")
        if isinstance(end, bool) or not isinstance(end, int) or end < 0:
            raise self._error(
                "invalid_value",
                "'audio_end_ms' must be a whole number of ms",
                event,
                "audio_end_ms",
            )
        item = self.items[index]
        end = min(end, self.audio_ms.get(item_id, end))
        heard = heard_transcript(self.words.get(item_id, []), end)
        for part in item.get("content") or []:
            if part.get("type") == "output_audio":
                part["transcript"] = heard
        await self.emit(
            "conversation.item.truncated",
            item_id=item_id,
            content_index=int(event.get("content_index") or 0),
            audio_end_ms=end,
        )

    async def on_item_delete(self, event: dict[str, Any]) -> None:
        """Remove an item from the conversation."""
        item_id = event.get("item_id")
        index = self._find(item_id) if isinstance(item_id, str) else None
        if index is None:
            raise self._error(
                "item_delete_invalid_item_id", f"no item '{item_id}' to delete", event, "item_id"
            )
        del self.items[index]
        await self.emit("conversation.item.deleted", item_id=item_id)

    async def on_item_retrieve(self, event: dict[str, Any]) -> None:
        """Send back one item."""
        item_id = event.get("item_id")
        index = self._find(item_id) if isinstance(item_id, str) else None
        if index is None:
            raise self._error(
                "item_retrieve_invalid_item_id", f"no item '{item_id}'", event, "item_id"
            )
        await self.emit("conversation.item.retrieved", item=self._public(self.items[index]))

    # --- responses ---------------------------------------------------------------------------

    async def on_response_create(self, event: dict[str, Any]) -> None:
        """Start a response (one at a time)."""
        if self.response is not None:
            raise self._error(
                "conversation_already_has_active_response",
                f"Conversation already has an active response in progress: {self.response.id}",
                event,
            )
        props = event.get("response") or {}
        if not isinstance(props, dict):
            raise self._error("invalid_value", "'response' must be an object", event, "response")
        check_beta_fields(props, BETA_RESPONSE_FIELDS, "response", event)
        checked: dict[str, Any] = {}
        if props.get("output_modalities") is not None:
            if props["output_modalities"] not in (["audio"], ["text"]):
                raise self._error(
                    "invalid_value",
                    "output_modalities must be ['audio'] or ['text']",
                    event,
                    "response.output_modalities",
                )
            checked["output_modalities"] = list(props["output_modalities"])
        if props.get("instructions") is not None:
            checked["instructions"] = str(props["instructions"])
        if props.get("tools") is not None:
            checked["tools"] = check_tools(props["tools"], "response.tools", event)
        if props.get("tool_choice") is not None:
            if props["tool_choice"] not in ("auto", "none", "required"):
                raise self._error(
                    "invalid_value", "tool_choice must be auto, none or required", event
                )
            checked["tool_choice"] = props["tool_choice"]
        if props.get("conversation") not in (None, "auto"):
            raise self._error(
                "invalid_value",
                "out-of-band responses (conversation='none') are not supported",
                event,
                "response.conversation",
            )
        await self._start_response(checked, event)

    async def on_response_cancel(self, event: dict[str, Any]) -> None:
        """Cancel the active response."""
        if self.response is None:
            raise self._error(
                "response_cancel_not_active", "Cancellation failed: no active response found", event
            )
        await self._cancel_response("client_cancelled")

    async def _start_response(self, props: dict[str, Any], event: dict | None) -> None:
        """Make ``props`` the active response.

        It is announced (``response.created``) once the input it answers has been
        transcribed: the model inside is a cascade and needs the text first.
        """
        event_id = event.get("event_id") if event else None
        response = _Response(new_id("resp"), props, self.session, event_id)
        self.response = response
        response.task = asyncio.create_task(self._respond(response))

    async def _announce(self, response: _Response) -> None:
        if not response.created:
            response.created = True
            await self.emit(
                "response.created", response=self._response_body(response, "in_progress")
            )

    def _response_body(self, response: _Response, status: str) -> dict[str, Any]:
        out = self.session["audio"]["output"]
        return {
            "id": response.id,
            "object": "realtime.response",
            "status": status,
            "status_details": response.status_details,
            "output": [self._public(i) for i in response.output],
            "conversation_id": f"conv_{self.id[5:]}",
            "output_modalities": response.output_modalities,
            "max_output_tokens": self.session["max_output_tokens"],
            "audio": {"output": {"format": out["format"], "voice": out["voice"]}},
            "usage": None,
        }

    async def _cancel_response(self, reason: str) -> None:
        response = self.response
        if response is None:
            return
        self.response = None
        if response.task is not None and not response.task.done():
            response.task.cancel()
            await asyncio.gather(response.task, return_exceptions=True)
        for item in response.output:
            if item["status"] == "in_progress":
                item["status"] = "incomplete"
        response.status_details = {"type": "cancelled", "reason": reason}
        await self._announce(response)
        await self.emit("response.done", response=self._response_body(response, "cancelled"))

    async def _respond(self, response: _Response) -> None:
        try:
            pending = [t for t in self.transcripts.values() if not t.done()]
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
            await self._announce(response)
            if self._brain is None:
                self._brain = await asyncio.to_thread(self.engine.brain_factory)
            # The brain looks at images only once the client has sent one.
            self._brain.vision = bool(self.images)
            messages = messages_for_brain(response.instructions, self.items)
            action = await asyncio.to_thread(self._brain.next_action, messages)
            tool_names = {t["name"] for t in response.tools}
            name = getattr(action, "name", None)
            if name == READ_IMAGE and name not in tool_names:
                # The "model" looks at the image itself (realtime.images).
                result = await self.images.answer(str(action.arguments.get("question") or ""))
                response.prelude = tool_exchange(action.arguments, result)
                messages += response.prelude
                action = await asyncio.to_thread(self._brain.next_action, messages)
                name = getattr(action, "name", None)
            if name is not None and response.tool_choice != "none" and name in tool_names:
                await self._emit_function_call(response, name, action.arguments)
            else:
                if name is not None and name not in tool_names:
                    await self._undeclared_tool(response, name)
                text = getattr(action, "text", None) or UNSUPPORTED_TOOL_REPLY
                await self._emit_message(response, text)
        except asyncio.CancelledError:
            raise
        except Exception as e:
            logger.exception(f"realtime {self.id}: response failed")
            if self.response is response:
                self.response = None
                response.status_details = {
                    "type": "failed",
                    "error": {"type": "server_error", "message": f"local model failed: {e}"},
                }
                await self._announce(response)
                await self.emit("response.done", response=self._response_body(response, "failed"))
            return
        if self.response is response:
            self.response = None
            await self.emit("response.done", response=self._response_body(response, "completed"))
            if self.response_owed and self.response is None:
                self.response_owed = False
                # After a function call the client asks for the next response itself.
                if not any(i["type"] == "function_call" for i in response.output):
                    await self._start_response({}, None)

    async def _undeclared_tool(self, response: _Response, name: str) -> None:
        """The reply needs a tool the client did not declare: say so with an ``error`` event.

        The response still completes with a spoken (or text) apology, so a caller hears
        something; the error tells the client which tool to declare.
        """
        logger.warning(f"realtime {self.id}: brain wanted undeclared tool {name}")
        await self.send(
            error_event(
                ProtocolError(
                    "tool_not_declared",
                    f"This reply needs the function tool '{name}', which this session did not "
                    f"declare in '{response.tools_param}': declare Echo's clinic tools to let "
                    "the model use it. The response goes on with an apology instead.",
                    param=response.tools_param,
                    event_id=response.event_id,
                )
            )
        )

    async def _add_output_item(self, response: _Response, item: dict[str, Any]) -> int:
        index = len(response.output)
        previous = self._previous_id()
        if not response.output and response.prelude:
            item["_prelude"] = response.prelude  # kept for the brain, never sent
        response.output.append(item)
        self.items.append(item)
        public = self._public(item)
        await self.emit(
            "response.output_item.added", response_id=response.id, output_index=index, item=public
        )
        await self.emit("conversation.item.added", previous_item_id=previous, item=public)
        return index

    async def _finish_output_item(self, response: _Response, index: int, item: dict) -> None:
        item["status"] = "completed"
        public = self._public(item)
        await self.emit(
            "response.output_item.done", response_id=response.id, output_index=index, item=public
        )
        await self.emit("conversation.item.done", previous_item_id=None, item=public)

    async def _emit_function_call(self, response: _Response, name: str, arguments: dict) -> None:
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

    async def _emit_message(self, response: _Response, text: str) -> None:
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

    async def _speak(self, item: dict, part: dict, text: str, ids: dict) -> None:
        """Synthesize sentence by sentence, interleaving word transcript deltas with the audio.

        A client that plays in order then sees each word just before its audio.
        """
        speed = self.session["audio"]["output"].get("speed") or 1.0
        item_id = item["id"]
        self.words[item_id] = words_so_far = []
        offset_ms = 0
        chunk = AUDIO_CHUNK_MS * BYTES_PER_MS
        for n, sentence in enumerate(split_sentences(text)):
            pcm = (await asyncio.to_thread(self.engine.synthesize, sentence, speed)).tobytes()
            duration = len(pcm) // BYTES_PER_MS
            words = word_timings(sentence, offset_ms, duration, first=(n == 0))
            w = 0
            for start in range(0, len(pcm), chunk):
                end_ms = offset_ms + (start + chunk) // BYTES_PER_MS
                while w < len(words) and words[w].start_ms < end_ms:
                    words_so_far.append(words[w])
                    part["transcript"] += words[w].text
                    await self.emit(
                        "response.output_audio_transcript.delta", **ids, delta=words[w].text
                    )
                    w += 1
                delta = base64.b64encode(pcm[start : start + chunk]).decode("ascii")
                await self.emit("response.output_audio.delta", **ids, delta=delta)
            for word in words[w:]:
                words_so_far.append(word)
                part["transcript"] += word.text
                await self.emit("response.output_audio_transcript.delta", **ids, delta=word.text)
            offset_ms += duration
            self.audio_ms[item_id] = offset_ms
