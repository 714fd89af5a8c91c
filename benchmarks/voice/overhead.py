"""What the LatencyObserver costs per frame, measured on a realistic frame mix.

A call is mostly audio: 50 input frames a second while anyone speaks or not, bot audio while
the bot speaks, and a handful of control frames per turn. :func:`measure` replays such a
mix for ``turns`` turns through ``LatencyObserver.on_push_frame`` and times each call.
"""

from __future__ import annotations

import asyncio
import time

from pipecat.frames.frames import (
    BotStartedSpeakingFrame,
    BotStoppedSpeakingFrame,
    InputAudioRawFrame,
    LLMTextFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
    VADUserStartedSpeakingFrame,
    VADUserStoppedSpeakingFrame,
)
from pipecat.observers.base_observer import FramePushed
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from observers.latency import LatencyObserver
from observers.latency_record import percentile


def turn_frames() -> list:
    """The frames of one turn: 3 s of user audio, control frames, 2 s of bot audio."""
    silence = b"\x00\x00" * 320
    frames: list = [VADUserStartedSpeakingFrame(), UserStartedSpeakingFrame()]
    frames += [InputAudioRawFrame(audio=silence, sample_rate=16000, num_channels=1)] * 150
    frames += [VADUserStoppedSpeakingFrame(stop_secs=0.2)]
    frames += [TranscriptionFrame(text="What is the capital of France?", user_id="", timestamp="")]
    frames += [UserStoppedSpeakingFrame(), LLMTextFrame(text="Paris.")]
    frames += [TTSAudioRawFrame(audio=b"\x01\x00" * 480, sample_rate=24000, num_channels=1)] * 100
    frames += [BotStartedSpeakingFrame(), BotStoppedSpeakingFrame()]
    return frames


async def _measure(turns: int) -> dict[str, float]:
    observer = LatencyObserver(session_id="overhead")
    source, sink = FrameProcessor(name="a"), FrameProcessor(name="b")
    costs: list[float] = []
    for _ in range(turns):
        for frame in turn_frames():
            data = FramePushed(
                source=source,
                destination=sink,
                frame=frame,
                direction=FrameDirection.DOWNSTREAM,
                timestamp=0,
            )
            t = time.perf_counter()
            await observer.on_push_frame(data)
            costs.append(time.perf_counter() - t)
    return {
        "frames": len(costs),
        "turns": len(observer.records),
        "mean_us": sum(costs) / len(costs) * 1e6,
        "p99_us": percentile(costs, 99) * 1e6,
        "max_us": max(costs) * 1e6,
    }


def measure(turns: int = 50) -> dict[str, float]:
    """Per-frame cost of the observer (µs): mean, p99, max, over ``turns`` synthetic turns."""
    return asyncio.run(_measure(turns))
