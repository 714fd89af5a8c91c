"""The plain WebSocket transport's serializer: Pipecat's protobuf frames, bad input dropped.

Custom clients speak Pipecat's ``frames.proto`` (as Pipecat's own WebSocket clients do):
binary messages each holding one ``Frame`` — ``audio`` (16-bit PCM with its sample rate
and channel count; any common rate, mono or stereo: it is converted to the pipeline's 16 kHz
mono), ``text``, ``transcription`` or ``message`` (JSON). The server answers with ``audio``
frames (the bot's voice, 24 kHz mono) and ``interruption`` frames on barge-in.
"""

from __future__ import annotations

import numpy as np
from fastapi import APIRouter, WebSocket
from google.protobuf.message import DecodeError
from loguru import logger
from pipecat.audio.utils import create_stream_resampler
from pipecat.frames.frames import Frame, InputAudioRawFrame
from pipecat.processors.frame_processor import FrameProcessorSetup
from pipecat.serializers.protobuf import ProtobufFrameSerializer

MAX_CHANNELS = 2
RATES = (8000, 16000, 22050, 24000, 32000, 44100, 48000)


class LenientProtobufSerializer(ProtobufFrameSerializer):
    """Pipecat's protobuf serializer that drops a malformed message instead of the call.

    Pipecat's own raises on undecodable bytes, which ends the transport's receive loop
    (the call goes deaf). Here such a message, or an audio frame whose rate, channel count
    or length cannot be PCM, is dropped with a warning naming only its size. Audio at
    another rate or in stereo is converted to the pipeline's input rate, mono.
    """

    def __init__(self, **kwargs):
        """Create the serializer (arguments as ``ProtobufFrameSerializer``)."""
        super().__init__(**kwargs)
        self._in_rate = 0
        self._resampler = create_stream_resampler()

    async def setup(self, setup: FrameProcessorSetup):
        """Learn the pipeline's input sample rate."""
        await super().setup(setup)
        self._in_rate = setup.audio_in_sample_rate

    async def deserialize(self, data: str | bytes) -> Frame | None:
        """One client message as a frame, or None when it is not a valid one."""
        if isinstance(data, str):
            logger.warning(f"WebSocket: dropped a text message ({len(data)} chars): send binary")
            return None
        try:
            frame = await super().deserialize(data)
        except (DecodeError, TypeError, ValueError, ZeroDivisionError) as e:
            logger.warning(f"WebSocket: dropped an undecodable frame ({len(data)} bytes): {e!r}")
            return None
        if isinstance(frame, InputAudioRawFrame) and not audio_is_valid(frame):
            logger.warning(
                f"WebSocket: dropped an audio frame ({len(frame.audio)} bytes at "
                f"{frame.sample_rate} Hz, {frame.num_channels} channel(s))"
            )
            return None
        if isinstance(frame, InputAudioRawFrame):
            return await self._to_pipeline_rate(frame)
        return frame

    async def _to_pipeline_rate(self, frame: InputAudioRawFrame) -> InputAudioRawFrame:
        rate = self._in_rate or frame.sample_rate
        if frame.num_channels == 1 and frame.sample_rate == rate:
            return frame
        audio = frame.audio
        if frame.num_channels > 1:
            stereo = np.frombuffer(audio, dtype=np.int16).reshape(-1, frame.num_channels)
            audio = stereo.mean(axis=1).astype(np.int16).tobytes()
        if frame.sample_rate != rate:
            audio = await self._resampler.resample(audio, frame.sample_rate, rate)
        return InputAudioRawFrame(audio=audio, sample_rate=rate, num_channels=1)


def audio_is_valid(frame: InputAudioRawFrame) -> bool:
    """Whether an audio frame is 16-bit PCM at a usable rate and channel count."""
    return (
        frame.sample_rate in RATES
        and 1 <= frame.num_channels <= MAX_CHANNELS
        and len(frame.audio) % (2 * frame.num_channels) == 0
    )


def websocket_router(settings):
    """``WS /ws[?pipeline=NAME][&patient_id=ID]``: a conversation over protobuf frames."""
    from transports.routes import (
        BUSY,
        VariantError,
        choose_variant,
        refuse,
        run_websocket_session,
        too_many_sessions,
    )

    router = APIRouter()

    @router.websocket("/ws")
    async def plain_websocket(
        websocket: WebSocket, pipeline: str | None = None, patient_id: str | None = None
    ):
        try:
            name, variant = choose_variant(pipeline, settings)
        except VariantError as e:
            await refuse(websocket, e.status, e.detail)
            return
        if too_many_sessions(websocket.app.state.runtime):
            await refuse(websocket, 503, BUSY)
            return
        await websocket.accept()
        await run_websocket_session(
            websocket,
            transport_name="websocket",
            name=name,
            variant=variant,
            patient_id=patient_id,
        )

    return router
