"""One registry of transports: WebRTC, Daily, Twilio calls, plain WebSocket, local audio.

Browser WebRTC (SmallWebRTC, Daily rooms), phone calls (Twilio Media Streams over a
WebSocket), a plain WebSocket for custom clients (Pipecat protobuf frames), and this
machine's microphone and speaker. Their HTTP/WebSocket routes are in ``transports.routes``.

Each factory takes keyword arguments specific to the transport and returns a Pipecat
``BaseTransport`` with audio in/out on. ``client_events`` says whether the transport emits
``on_client_connected`` / ``on_client_disconnected`` (the local audio device does not: it is
"connected" as soon as the pipeline starts).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pipecat.transports.base_transport import TransportParams

AUDIO_IN_RATE = 16000
AUDIO_OUT_RATE = 24000


def audio_params(cls: type[TransportParams] = TransportParams, **extra: Any) -> TransportParams:
    """Transport parameters with audio in/out at the rates the local models use."""
    return cls(
        audio_in_enabled=True,
        audio_in_sample_rate=AUDIO_IN_RATE,
        audio_out_enabled=True,
        audio_out_sample_rate=AUDIO_OUT_RATE,
        **extra,
    )


# aiortc hands an audio frame on only when ``prefetch`` newer ones are queued behind it
# (RTCRtpReceiver: JitterBuffer(capacity=16, prefetch=4), i.e. 80 ms at 20 ms packets).
AIORTC_AUDIO_PREFETCH = 4


def set_audio_jitter_prefetch(connection: Any, prefetch: int, skip_after: int = 0) -> int:
    """Give the connection's audio receivers a jitter buffer of ``prefetch`` packets.

    aiortc's audio jitter buffer holds every frame until four more arrived (80 ms), sized
    for the open internet; on loopback or a LAN one is enough and saves 60 ms on every
    turn. Pipecat's SmallWebRTC connection swaps the video receiver's buffer the same way
    (``receiver._RTCRtpReceiver__jitter_buffer``). Call it before media flows (after the
    offer is answered). Returns the number of receivers changed (0 if aiortc renamed it).

    The buffer is aiortc's own, counting what it does (``transports.jitter_stats``: missing
    frames, late packets, underruns, depth); the counts are logged once when the connection
    closes (``audio jitter buffer: {...}``) and readable with :func:`audio_jitter_stats`.

    Args:
        connection: A ``SmallWebRTCConnection`` (or anything with ``.pc``).
        prefetch: Packets held back (aiortc's default: 4).
        skip_after: Give up on a missing packet once this many wait behind it (0: only
            when the buffer overflows, as aiortc does; see ``transports.jitter_stats``).
    """
    from loguru import logger

    from transports.jitter_stats import CountingJitterBuffer

    changed = 0
    for transceiver in connection.pc.getTransceivers():
        receiver = transceiver.receiver
        if transceiver.kind != "audio" or receiver is None:
            continue
        if not hasattr(receiver, "_RTCRtpReceiver__jitter_buffer"):
            logger.warning("aiortc's receiver has no jitter buffer attribute: prefetch unchanged")
            continue
        receiver._RTCRtpReceiver__jitter_buffer = CountingJitterBuffer(
            16, prefetch=prefetch, skip_after=skip_after
        )
        changed += 1
    if changed:
        pc = connection.pc

        @pc.on("connectionstatechange")
        def _log_jitter_stats():
            if pc.connectionState in ("closed", "failed"):
                for stats in audio_jitter_stats(connection):
                    logger.info(f"audio jitter buffer: {json.dumps(stats.as_dict())}")

    return changed


def audio_jitter_stats(connection: Any) -> list:
    """Counters of the audio jitter buffers :func:`set_audio_jitter_prefetch` installed."""
    out = []
    for transceiver in connection.pc.getTransceivers():
        buffer = getattr(transceiver.receiver, "_RTCRtpReceiver__jitter_buffer", None)
        if transceiver.kind == "audio" and hasattr(buffer, "stats"):
            out.append(buffer.stats)
    return out


def _smallwebrtc(
    *,
    connection,
    video_in: bool = False,
    audio_prefetch: int | None = None,
    audio_skip_after: int = 0,
    **_: Any,
):
    from pipecat.transports.smallwebrtc.transport import SmallWebRTCTransport

    if audio_prefetch is not None:  # aiortc's 4 too: the buffer that counts
        set_audio_jitter_prefetch(connection, audio_prefetch, audio_skip_after)
    return SmallWebRTCTransport(
        webrtc_connection=connection, params=audio_params(video_in_enabled=video_in)
    )


def _daily(*, room_url: str, token: str | None = None, video_in: bool = False, **_: Any):
    from pipecat.transports.daily.transport import DailyParams, DailyTransport

    return DailyTransport(
        room_url, token, "Echo", params=audio_params(DailyParams, video_in_enabled=video_in)
    )


def _local(*, input_device_index: int | None = None, output_device_index: int | None = None, **_):
    from pipecat.transports.local.audio import LocalAudioTransport, LocalAudioTransportParams

    return LocalAudioTransport(
        audio_params(
            LocalAudioTransportParams,
            input_device_index=input_device_index,
            output_device_index=output_device_index,
        )
    )


def _websocket_params(serializer, **extra: Any):
    from pipecat.transports.websocket.fastapi import FastAPIWebsocketParams

    return audio_params(
        FastAPIWebsocketParams, serializer=serializer, add_wav_header=False, **extra
    )


def _twilio(*, websocket, stream_sid: str, call_sid: str | None = None, **options: Any):
    """Twilio Media Streams: 8 kHz μ-law in JSON events (``transports.twilio``)."""
    from pipecat.transports.websocket.fastapi import FastAPIWebsocketTransport

    from transports.twilio import EchoTwilioSerializer

    serializer = EchoTwilioSerializer.for_call(stream_sid=stream_sid, call_sid=call_sid, **options)
    return FastAPIWebsocketTransport(websocket=websocket, params=_websocket_params(serializer))


def _websocket(*, websocket, **_: Any):
    """Pipecat's protobuf frames (as its own WebSocket clients send them)."""
    from pipecat.transports.websocket.fastapi import FastAPIWebsocketTransport

    from transports.websocket import LenientProtobufSerializer

    return FastAPIWebsocketTransport(
        websocket=websocket, params=_websocket_params(LenientProtobufSerializer())
    )


@dataclass(frozen=True)
class TransportSpec:
    """A transport factory and what it needs."""

    name: str
    create: Callable[..., Any]
    client_events: bool
    description: str


TRANSPORTS: dict[str, TransportSpec] = {
    "smallwebrtc": TransportSpec(
        "smallwebrtc", _smallwebrtc, True, "browser over WebRTC, peer-to-peer (aiortc)"
    ),
    "daily": TransportSpec("daily", _daily, True, "browser over a Daily room (needs room URL)"),
    "local": TransportSpec("local", _local, False, "this machine's microphone and speaker"),
    "twilio": TransportSpec(
        "twilio", _twilio, True, "phone call over Twilio Media Streams (WebSocket, 8 kHz μ-law)"
    ),
    "websocket": TransportSpec(
        "websocket", _websocket, True, "custom client over a WebSocket (Pipecat protobuf frames)"
    ),
}
