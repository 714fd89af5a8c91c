"""The audio jitter buffer setting on real aiortc peer connections (transports.__init__)."""

import asyncio
from types import SimpleNamespace

import numpy as np
from aiortc import RTCConfiguration, RTCPeerConnection

from transports import AIORTC_AUDIO_PREFETCH, set_audio_jitter_prefetch
from transports.webrtc_client import ScriptedMicrophone


async def connected_pair(prefetch: int):
    sender = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    receiver = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    mic = ScriptedMicrophone()
    sender.addTrack(mic)
    got = []

    @receiver.on("track")
    def on_track(track):
        async def read():
            while True:
                frame = await track.recv()
                got.append(frame.to_ndarray().reshape(-1))

        asyncio.ensure_future(read())

    await sender.setLocalDescription(await sender.createOffer())
    await receiver.setRemoteDescription(sender.localDescription)
    changed = set_audio_jitter_prefetch(SimpleNamespace(pc=receiver), prefetch)
    await receiver.setLocalDescription(await receiver.createAnswer())
    await sender.setRemoteDescription(receiver.localDescription)
    return sender, receiver, mic, got, changed


async def test_prefetch_is_set_and_audio_flows():
    sender, receiver, mic, got, changed = await connected_pair(1)
    try:
        assert changed == 1
        (transceiver,) = receiver.getTransceivers()
        buffer = transceiver.receiver._RTCRtpReceiver__jitter_buffer
        assert buffer._prefetch == 1 and buffer.capacity == 16
        tone = (8000 * np.sin(np.linspace(0, 2 * np.pi * 440, 48000))).astype(np.int16)
        await mic.play(tone, 48000)
        for _ in range(100):
            if sum(len(c) for c in got) >= 24000:
                break
            await asyncio.sleep(0.05)
        audio = np.concatenate(got)
        assert np.abs(audio).max() > 4000, "the tone came through the one-packet buffer"
    finally:
        await sender.close()
        await receiver.close()


async def test_constant_matches_aiortcs_own_default():
    pc = RTCPeerConnection(RTCConfiguration(iceServers=[]))
    try:
        transceiver = pc.addTransceiver("audio")
        buffer = transceiver.receiver._RTCRtpReceiver__jitter_buffer
        assert buffer._prefetch == AIORTC_AUDIO_PREFETCH
    finally:
        await pc.close()
