"""Scripted WebSocket callers: a Twilio Media Streams phone and a protobuf client.

Used by the tests and the telephony bench. Like ``transports.webrtc_client.EchoCaller``
they stream PCM in real time (silence in between, as a live line does), timestamp every
received audio chunk and offer ``say`` / ``wait_for_voice`` / ``wait_for_silence``.

:class:`TwilioCaller` plays Twilio's part end to end: it posts the voice webhook (signed
with the auth token when given), follows the TwiML ``<Connect><Stream>`` to the media
WebSocket, sends ``connected`` and ``start`` (with the TwiML's ``<Parameter>`` values), then
20 ms ``media`` events of base64 8 kHz μ-law, ``dtmf`` on request and ``stop`` to hang up;
``mark`` events it receives are echoed once the audio before them would have played.

:class:`ProtobufCaller` speaks Pipecat's ``frames.proto`` to ``/ws``: binary ``audio``
frames in, ``audio`` frames out.
"""

from __future__ import annotations

import asyncio
import audioop
import base64
import json
import time
import uuid
import xml.etree.ElementTree as ET
from urllib.parse import urlencode

import aiohttp
import numpy as np

from transports.webrtc_client import ReceivedAudio

PTIME = 0.02


def resample(pcm: np.ndarray, rate: int, target: int) -> np.ndarray:
    """Resample int16 mono PCM (soxr, high quality)."""
    if rate == target:
        return pcm.astype(np.int16)
    import soxr

    out = soxr.resample(pcm.astype(np.float32) / 32768.0, rate, target)
    return np.clip(out * 32768.0, -32768, 32767).astype(np.int16)


def to_ulaw(pcm: np.ndarray, rate: int) -> bytes:
    """int16 mono PCM at ``rate`` → 8 kHz μ-law bytes (what a phone network carries)."""
    return audioop.lin2ulaw(resample(pcm, rate, 8000).tobytes(), 2)


def from_ulaw(data: bytes) -> np.ndarray:
    """8 kHz μ-law bytes → int16 PCM."""
    return np.frombuffer(audioop.ulaw2lin(data, 2), dtype=np.int16)


class _StreamingCaller:
    """Real-time paced sending and timestamped receiving over one WebSocket."""

    rate = 16000  # rate of the PCM queue this caller sends from

    def __init__(self):
        self.received = ReceivedAudio()
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self.closed = asyncio.Event()
        self.close_code: int | None = None
        self._http: aiohttp.ClientSession | None = None
        self._pending = np.zeros(0, dtype=np.int16)
        self._marks: list[tuple[int, asyncio.Future]] = []
        self._sent = 0
        self._tasks: list[asyncio.Task] = []
        self._played_until = 0.0

    async def _send_chunk(self, chunk: np.ndarray) -> None:
        raise NotImplementedError

    async def _on_message(self, message: aiohttp.WSMessage) -> None:
        raise NotImplementedError

    def _start_streaming(self) -> None:
        self._tasks = [asyncio.create_task(self._pace()), asyncio.create_task(self._read())]

    async def _pace(self) -> None:
        samples = int(self.rate * PTIME)
        start = time.monotonic()
        try:
            while not self.closed.is_set():
                delay = start + self._sent / self.rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                chunk, self._pending = self._pending[:samples], self._pending[samples:]
                if len(chunk) < samples:
                    chunk = np.concatenate([chunk, np.zeros(samples - len(chunk), np.int16)])
                try:
                    await self._send_chunk(chunk)
                except (ConnectionError, RuntimeError):
                    return
                self._sent += samples
                self._resolve_marks(lambda index: index <= self._sent)
        finally:  # the line is gone: nobody waits forever for speech that was never sent
            self._resolve_marks(lambda index: True)

    def _resolve_marks(self, due) -> None:
        now = time.monotonic()
        while self._marks and due(self._marks[0][0]):
            if not (fut := self._marks.pop(0)[1]).done():
                fut.set_result(now)

    async def _read(self) -> None:
        assert self.ws is not None
        async for message in self.ws:
            if message.type in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                await self._on_message(message)
        self.close_code = self.ws.close_code
        self.closed.set()
        self._resolve_marks(lambda index: True)

    def say(self, pcm: np.ndarray, sample_rate: int) -> asyncio.Future:
        """Queue speech; the future resolves with the monotonic time its last sample went."""
        samples = resample(pcm, sample_rate, self.rate)
        self._pending = np.concatenate([self._pending, samples])
        done = asyncio.get_running_loop().create_future()
        self._marks.append((self._sent + len(self._pending), done))
        if self.closed.is_set():  # nothing will send it
            self._resolve_marks(lambda index: True)
        return done

    async def wait_for_voice(self, since: float, timeout: float, threshold: int = 500):
        """Arrival time of the first voiced bot audio after ``since``, or None on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (t := self.received.first_voiced(since, threshold)) is not None:
                return t
            await asyncio.sleep(0.01)
        return None

    def _receive(self, pcm: np.ndarray, rate: int) -> float:
        """Keep a received chunk; it plays after what was already queued for playback."""
        now = time.monotonic()
        self.received.chunks.append((now, pcm))
        self._played_until = max(self._played_until, now) + len(pcm) / rate
        return now

    async def wait_for_silence(self, quiet: float = 0.8, timeout: float = 30.0) -> None:
        """Wait until the bot's audio has finished playing and ``quiet`` seconds passed.

        The server sends audio faster than real time (Pipecat paces it at twice the
        playback rate), so this follows the playback clock, not the arrival times.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if time.monotonic() >= self._played_until + quiet:
                return
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        """Close the socket and stop the tasks."""
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self.ws is not None and not self.ws.closed:
            await self.ws.close()
        if self._http is not None:
            await self._http.close()
        self.closed.set()


class TwilioCaller(_StreamingCaller):
    """A phone call as Twilio places it: voice webhook, then a Media Streams WebSocket."""

    rate = 8000

    def __init__(
        self,
        base_url: str,
        *,
        pipeline: str | None = None,
        caller: str = "+15550100001",
        called: str = "+15550100999",
        auth_token: str | None = None,
    ):
        """Prepare the call.

        Args:
            base_url: Echo's server, e.g. ``http://127.0.0.1:7860``.
            pipeline: ``?pipeline=`` for the webhook (default: the server's choice).
            caller: The ``From`` number.
            called: The ``To`` number.
            auth_token: Sign the webhook and stream requests as Twilio does.
        """
        super().__init__()
        self.base_url = base_url.rstrip("/")
        self.pipeline = pipeline
        self.caller = caller
        self.called = called
        self.auth_token = auth_token
        self.call_sid = "CA" + uuid.uuid4().hex
        self.account_sid = "AC" + uuid.uuid4().hex
        self.stream_sid = "MZ" + uuid.uuid4().hex
        self.twiml = ""
        self.stream_url = ""
        self.parameters: dict[str, str] = {}
        self.marks_echoed: list[str] = []
        self.clears: list[float] = []
        self._sequence = 0
        self._chunk = 0

    def _signature(self, url: str, params: dict[str, str]) -> dict[str, str]:
        if not self.auth_token:
            return {}
        from transports.twilio import SIGNATURE_HEADER, twilio_signature

        return {SIGNATURE_HEADER: twilio_signature(self.auth_token, url, params.items())}

    async def webhook(self) -> aiohttp.ClientResponse:
        """Post the voice webhook; keeps the TwiML's stream URL and parameters."""
        url = f"{self.base_url}/telephony/twilio"
        if self.pipeline:
            url += "?" + urlencode({"pipeline": self.pipeline})
        form = {
            "AccountSid": self.account_sid,
            "CallSid": self.call_sid,
            "CallStatus": "ringing",
            "Direction": "inbound",
            "From": self.caller,
            "To": self.called,
        }
        self._http = self._http or aiohttp.ClientSession()
        async with self._http.post(url, data=form, headers=self._signature(url, form)) as res:
            self.twiml = await res.text()
            if res.status == 200 and "<Stream" in self.twiml:
                stream = ET.fromstring(self.twiml).find("./Connect/Stream")
                self.stream_url = stream.get("url")
                self.parameters = {p.get("name"): p.get("value") for p in stream}
            return res

    async def dial(self) -> None:
        """Webhook, then open the media stream and send ``connected`` and ``start``."""
        res = await self.webhook()
        if not self.stream_url:
            raise RuntimeError(f"webhook refused ({res.status}): {self.twiml}")
        await self.open_stream()

    async def open_stream(self, *, signature: str | None = None) -> None:
        """Connect to the TwiML's stream URL and send ``connected`` and ``start``."""
        headers = self._signature(self.stream_url, {})
        if signature is not None:
            headers = {"X-Twilio-Signature": signature}
        self._http = self._http or aiohttp.ClientSession()
        self.ws = await self._http.ws_connect(self.stream_url, headers=headers)
        await self._event("connected", protocol="Call", version="1.0.0")
        await self._event(
            "start",
            start={
                "accountSid": self.account_sid,
                "streamSid": self.stream_sid,
                "callSid": self.call_sid,
                "tracks": ["inbound"],
                "customParameters": self.parameters,
                "mediaFormat": {"encoding": "audio/x-mulaw", "sampleRate": 8000, "channels": 1},
            },
        )
        self._start_streaming()

    async def _event(self, event: str, **body) -> None:
        self._sequence += 1
        message = {"event": event, "sequenceNumber": str(self._sequence), **body}
        if event != "connected":
            message["streamSid"] = self.stream_sid
        await self.ws.send_str(json.dumps(message))

    async def _send_chunk(self, chunk: np.ndarray) -> None:
        self._chunk += 1
        payload = base64.b64encode(audioop.lin2ulaw(chunk.tobytes(), 2)).decode()
        media = {
            "track": "inbound",
            "chunk": str(self._chunk),
            "timestamp": str(int(self._sent / 8)),
            "payload": payload,
        }
        await self._event("media", media=media)

    async def _on_message(self, message: aiohttp.WSMessage) -> None:
        data = json.loads(message.data)
        now = time.monotonic()
        if data.get("event") == "media":
            self._receive(from_ulaw(base64.b64decode(data["media"]["payload"])), 8000)
        elif data.get("event") == "mark":
            name = data["mark"]["name"]
            asyncio.get_running_loop().call_later(
                max(0.0, self._played_until - now), self._echo_mark, name
            )
        elif data.get("event") == "clear":
            self.clears.append(now)
            self._played_until = now

    def _echo_mark(self, name: str) -> None:
        if self.ws is not None and not self.ws.closed:
            self.marks_echoed.append(name)
            asyncio.ensure_future(self._event("mark", mark={"name": name}))

    async def press(self, digit: str) -> None:
        """Send a DTMF key press."""
        await self._event("dtmf", dtmf={"track": "inbound_track", "digit": digit})

    async def send_raw(self, text: str) -> None:
        """Send any text message (for malformed-input tests)."""
        await self.ws.send_str(text)

    async def hang_up(self) -> float:
        """Send ``stop`` as Twilio does when the caller hangs up; returns when it was sent."""
        for task in self._tasks[:1]:  # the media pacer: no media after stop
            task.cancel()
        await self._event("stop", stop={"accountSid": self.account_sid, "callSid": self.call_sid})
        return time.monotonic()


class ProtobufCaller(_StreamingCaller):
    """A custom client on ``/ws`` speaking Pipecat's protobuf frames (16 kHz PCM in)."""

    def __init__(
        self, base_url: str, *, pipeline: str | None = None, rate: int = 16000, channels: int = 1
    ):
        """Prepare the client.

        Args:
            base_url: Echo's server (``http://host:port``).
            pipeline: ``?pipeline=`` (default: the server's).
            rate: Sample rate of the audio frames sent.
            channels: 1, or 2 to send the same signal on both channels.
        """
        super().__init__()
        self.rate = rate
        self.channels = channels
        query = "?" + urlencode({"pipeline": pipeline}) if pipeline else ""
        self.url = base_url.rstrip("/").replace("http", "ws", 1) + "/ws" + query
        self.interruptions: list[float] = []

    async def connect(self) -> None:
        """Open the socket and start streaming."""
        self._http = aiohttp.ClientSession()
        self.ws = await self._http.ws_connect(self.url)
        self._start_streaming()

    async def _send_chunk(self, chunk: np.ndarray) -> None:
        import pipecat.frames.protobufs.frames_pb2 as frames_pb2

        frame = frames_pb2.Frame()
        frame.audio.audio = np.repeat(chunk, self.channels).tobytes()
        frame.audio.sample_rate = self.rate
        frame.audio.num_channels = self.channels
        await self.ws.send_bytes(frame.SerializeToString())

    async def _on_message(self, message: aiohttp.WSMessage) -> None:
        import pipecat.frames.protobufs.frames_pb2 as frames_pb2

        if message.type != aiohttp.WSMsgType.BINARY:
            return
        frame = frames_pb2.Frame.FromString(message.data)
        which = frame.WhichOneof("frame")
        if which == "audio":
            pcm = np.frombuffer(frame.audio.audio, dtype=np.int16)
            self._receive(pcm, frame.audio.sample_rate or 24000)
        elif which == "interruption":
            self.interruptions.append(time.monotonic())
            self._played_until = time.monotonic()
