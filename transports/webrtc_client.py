"""A scripted WebRTC caller (aiortc): plays audio like a microphone, records what comes back.

Used by the loopback tests and the latency bench. It speaks to Echo's real ``/api/offer``
endpoint, streams PCM in real time at 48 kHz (as a browser would), and timestamps every
received audio frame so the gap "end of the user's speech as sent → first voiced bot audio
received" can be measured on the client side.
"""

from __future__ import annotations

import asyncio
import fractions
import json
import time
from dataclasses import dataclass, field

import aiohttp
import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection, RTCSessionDescription
from aiortc.mediastreams import MediaStreamError, MediaStreamTrack
from av import AudioFrame

from transports import set_audio_jitter_prefetch

RATE = 48000
PTIME = 0.02
SAMPLES = int(RATE * PTIME)


def to_48k(pcm: np.ndarray, sample_rate: int) -> np.ndarray:
    """Resample int16 mono PCM to 48 kHz."""
    if sample_rate == RATE:
        return pcm.astype(np.int16)
    import soxr

    out = soxr.resample(pcm.astype(np.float32) / 32768.0, sample_rate, RATE)
    return np.clip(out * 32768.0, -32768, 32767).astype(np.int16)


class ScriptedMicrophone(MediaStreamTrack):
    """An audio track that sends queued PCM in real time, and silence otherwise."""

    kind = "audio"

    def __init__(self):
        super().__init__()
        self._pending = np.zeros(0, dtype=np.int16)
        self._marks: list[tuple[int, asyncio.Future]] = []  # (sample index, future)
        self._sent = 0
        self._start: float | None = None

    def play(self, pcm: np.ndarray, sample_rate: int) -> asyncio.Future:
        """Queue audio; the future resolves with ``time.monotonic()`` of its last sample."""
        samples = to_48k(pcm, sample_rate)
        end_index = self._sent + len(self._pending) + len(samples)
        self._pending = np.concatenate([self._pending, samples])
        done = asyncio.get_running_loop().create_future()
        self._marks.append((end_index, done))
        return done

    @property
    def idle(self) -> bool:
        """Nothing left to send."""
        return len(self._pending) == 0

    async def recv(self) -> AudioFrame:
        """Next 20 ms frame, paced to real time."""
        if self._start is None:
            self._start = time.monotonic()
        delay = self._start + self._sent / RATE - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        chunk = self._pending[:SAMPLES]
        self._pending = self._pending[SAMPLES:]
        if len(chunk) < SAMPLES:
            chunk = np.concatenate([chunk, np.zeros(SAMPLES - len(chunk), dtype=np.int16)])
        frame = AudioFrame(format="s16", layout="mono", samples=SAMPLES)
        frame.planes[0].update(chunk.tobytes())
        frame.sample_rate = RATE
        frame.pts = self._sent
        frame.time_base = fractions.Fraction(1, RATE)
        self._sent += SAMPLES
        now = time.monotonic()
        while self._marks and self._marks[0][0] <= self._sent:
            _, fut = self._marks.pop(0)
            if not fut.done():
                fut.set_result(now)
        return frame


@dataclass
class ReceivedAudio:
    """Bot audio as received: 48 kHz mono int16 chunks with their arrival times."""

    chunks: list[tuple[float, np.ndarray]] = field(default_factory=list)

    def pcm(self, since: float = 0.0) -> np.ndarray:
        """All samples received at or after ``since`` (monotonic seconds)."""
        parts = [c for t, c in self.chunks if t >= since]
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)

    def first_voiced(self, since: float, threshold: int = 500) -> float | None:
        """Arrival time of the first chunk after ``since`` whose peak exceeds ``threshold``."""
        for t, chunk in self.chunks:
            if t >= since and len(chunk) and int(np.abs(chunk).max()) > threshold:
                return t
        return None


class EchoCaller:
    """Connects to an Echo server as a WebRTC client.

    Besides audio, the caller opens a data channel (as the browser client does) and keeps
    every JSON app message the server sends in ``messages`` as ``(monotonic time, dict)``,
    e.g. the per-turn ``echo-latency`` breakdowns.
    """

    def __init__(
        self,
        base_url: str,
        *,
        pipeline: str | None = None,
        request_data=None,
        data_channel: bool = True,
        audio_prefetch: int = 1,
    ):
        """Prepare the caller.

        Args:
            base_url: The Echo server, e.g. ``http://127.0.0.1:7860``.
            pipeline: Pipeline variant to ask for (default: the server's).
            request_data: Extra ``request_data`` for the offer.
            data_channel: Open the ``echo`` data channel.
            audio_prefetch: Packets the receiving jitter buffer holds before handing audio
                on: 1 behaves like a browser's adaptive buffer on loopback (~20 ms); aiortc's
                own default is 4 (80 ms). Received-audio times are taken after it.
        """
        self.audio_prefetch = audio_prefetch
        self.base_url = base_url.rstrip("/")
        self.pipeline = pipeline
        self.request_data = dict(request_data or {})
        self.mic = ScriptedMicrophone()
        self.received = ReceivedAudio()
        self.messages: list[tuple[float, dict]] = []
        self.pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
        self.pc_id: str | None = None
        self._reader: asyncio.Task | None = None
        self._data_channel = data_channel
        self.connected = asyncio.Event()

    def messages_of_type(self, kind: str) -> list[tuple[float, dict]]:
        """App messages whose ``type`` is ``kind``, with their arrival times."""
        return [(t, m) for t, m in self.messages if m.get("type") == kind]

    def _on_message(self, message) -> None:
        if not isinstance(message, str):
            return
        try:
            data = json.loads(message)
        except ValueError:
            return
        if isinstance(data, dict):
            self.messages.append((time.monotonic(), data))

    async def connect(self) -> dict:
        """Offer, post to ``/api/offer``, apply the answer. Returns the answer body."""
        self.pc.addTrack(self.mic)
        if self._data_channel:
            channel = self.pc.createDataChannel("echo")
            channel.on("message", self._on_message)

        @self.pc.on("track")
        def on_track(track):
            if track.kind == "audio" and self._reader is None:
                self._reader = asyncio.ensure_future(self._read(track))

        @self.pc.on("connectionstatechange")
        async def on_state():
            if self.pc.connectionState == "connected":
                self.connected.set()

        await self.pc.setLocalDescription(await self.pc.createOffer())
        set_audio_jitter_prefetch(self, self.audio_prefetch)
        body = {"sdp": self.pc.localDescription.sdp, "type": self.pc.localDescription.type}
        if self.pipeline:
            body["request_data"] = {"pipeline": self.pipeline, **self.request_data}
        elif self.request_data:
            body["request_data"] = self.request_data
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{self.base_url}/api/offer", json=body) as res:
                answer = await res.json()
                if res.status != 200:
                    raise RuntimeError(f"offer refused ({res.status}): {answer}")
        self.pc_id = answer["pc_id"]
        await self.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
        await asyncio.wait_for(self.connected.wait(), timeout=20)
        return answer

    async def _read(self, track) -> None:
        while True:
            try:
                frame = await track.recv()
            except MediaStreamError:
                return
            data = frame.to_ndarray()
            channels = len(frame.layout.channels)
            mono = data.reshape(-1, channels)[:, 0] if channels > 1 else data.reshape(-1)
            if frame.sample_rate != RATE:
                mono = to_48k(mono, frame.sample_rate)
            self.received.chunks.append((time.monotonic(), mono.astype(np.int16)))

    async def say(self, pcm: np.ndarray, sample_rate: int) -> float:
        """Speak ``pcm`` into the call; returns the monotonic time its last sample was sent."""
        return await self.mic.play(pcm, sample_rate)

    async def wait_for_voice(self, since: float, timeout: float, threshold: int = 500):
        """Arrival time of the first voiced bot audio after ``since``, or None on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            t = self.received.first_voiced(since, threshold)
            if t is not None:
                return t
            await asyncio.sleep(0.01)
        return None

    async def wait_for_silence(self, quiet: float = 0.8, timeout: float = 30.0) -> None:
        """Wait until no voiced audio has arrived for ``quiet`` seconds."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            recent = [c for t, c in self.received.chunks if t >= time.monotonic() - quiet]
            if recent and all(int(np.abs(c).max()) <= 500 for c in recent if len(c)):
                return
            await asyncio.sleep(0.05)

    async def close(self) -> None:
        """Hang up."""
        await self.pc.close()
        if self._reader:
            self._reader.cancel()
