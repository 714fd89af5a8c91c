"""One registry of transports: browser WebRTC (SmallWebRTC, Daily) and local mic/speaker.

Each factory takes keyword arguments specific to the transport and returns a Pipecat
``BaseTransport`` with audio in/out on. ``client_events`` says whether the transport emits
``on_client_connected`` / ``on_client_disconnected`` (the local audio device does not: it is
"connected" as soon as the pipeline starts).
"""

from __future__ import annotations

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


def _smallwebrtc(*, connection, video_in: bool = False, **_: Any):
    from pipecat.transports.smallwebrtc.transport import SmallWebRTCTransport

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
}
