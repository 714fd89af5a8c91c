"""Voice-to-voice latency of vision turns over WebRTC loopback (a command printing figures).

An aiortc caller shares a camera showing a drawn picture (an error dialog, then a pill label,
alternating so every turn reads a new image) and asks "What does the screen say?"; the gap
from the last sample of the question to the first voiced bot audio is measured per turn,
for each camera mode (``prefetch``, ``request``, ``latest``; see ``vision_camera_mode``).

The LLM: the local brain when it handles images (``ClinicBrain.for_store(..., vision=True)``),
else a scripted OpenAI-compatible server on loopback (``tests/fake_openai.py``) that calls
``read_image`` and speaks its answer, which is what the local brain does. Either way the
image is read by the local reader (OCR) inside the server. The first bot audio is the
answer, or the filler ("One moment, let me check.") when the reading was not ready 0.4 s
into the tool call; the ``read_image`` time (call → result) says which::

    python benchmarks/vision_v2v.py [--turns 6] [--modes prefetch,request,latest]
"""

from __future__ import annotations

import argparse
import asyncio
import inspect
import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

QUESTION = "What does the screen say?"


def brain_handles_images() -> bool:
    """Whether the local brain takes ``vision=True`` (then it calls ``read_image`` itself)."""
    from clinic.dialogue.brain import ClinicBrain

    return "vision" in inspect.signature(ClinicBrain.for_store).parameters


async def run_mode(mode: str, turns: int, speak, pictures) -> tuple[list[float], list[float]]:
    """First-audio gaps and ``read_image`` times (ms) of ``turns`` turns in ``mode``."""
    from contextlib import ExitStack

    from pydantic import SecretStr

    from config import EchoSettings
    from tests.conftest import LiveServer
    from tests.fake_openai import FakeOpenAI
    from tests.test_vision_webrtc import CameraCaller

    gaps = []
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        update = {"data_dir": Path(tmp), "vision_camera_mode": mode}
        if not brain_handles_images():
            fake = stack.enter_context(FakeOpenAI(mode="tool"))
            update |= {"openai_api_key": SecretStr("bench"), "openai_base_url": fake.url}
        settings = EchoSettings(_env_file=None).model_copy(update=update)
        server = stack.enter_context(LiveServer(settings))
        caller = CameraCaller(server.url, pipeline="vision", picture=pictures[0])
        await caller.connect()
        try:
            await caller.wait_for_voice(since=0.0, timeout=30)
            await caller.wait_for_silence(quiet=1.2, timeout=30)
            pcm = np.concatenate([speak(QUESTION), np.zeros(8000, dtype=np.int16)])
            for turn in range(turns):
                caller.camera.pixels = np.asarray(pictures[turn % len(pictures)])
                await asyncio.sleep(1.0)  # the new picture is on camera before the question
                sent = await caller.say(pcm, 16000)
                question_end = sent - 0.5  # 0.5 s of trailing silence was sent after it
                first = await caller.wait_for_voice(since=question_end, timeout=30)
                if first is not None:
                    gaps.append((first - question_end) * 1000)
                await caller.wait_for_silence(quiet=1.2, timeout=40)
            session = server.app.state.runtime.pc_sessions[caller.pc_id]
            tool_ms = list(session.vision.tool_ms)
        finally:
            await caller.close()
    return gaps, tool_ms


def main(argv: list[str] | None = None) -> int:
    """Run the modes and print p50/p90 per mode."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--turns", type=int, default=6)
    parser.add_argument("--modes", default="prefetch,request,latest")
    args = parser.parse_args(argv)

    from piper import PiperVoice

    from models import piper_voice_dir
    from tests.conftest import synthesize
    from tests.vision_drawings import error_dialog, pill_label

    voice = PiperVoice.load(piper_voice_dir("en_US-joe-medium") / "en_US-joe-medium.onnx")
    pictures = [error_dialog(size=(960, 540)), pill_label(size=(960, 540))]
    llm = "local brain" if brain_handles_images() else "scripted OpenAI-compatible server"
    print(f"vision turns over WebRTC loopback; LLM: {llm}; reader: local OCR")
    for mode in args.modes.split(","):
        speak = lambda t: synthesize(voice, t)  # noqa: E731
        gaps, tool_ms = asyncio.run(run_mode(mode, args.turns, speak, pictures))
        if not gaps:
            print(f"{mode:9s}: no answers")
            continue
        print(
            f"{mode:9s}: first bot audio p50 {np.percentile(gaps, 50):.0f} ms, "
            f"p90 {np.percentile(gaps, 90):.0f} ms over {len(gaps)} turns "
            f"({', '.join(f'{g:.0f}' for g in gaps)}); read_image call → result p50 "
            f"{np.percentile(tool_ms, 50):.0f} ms ({', '.join(f'{t:.0f}' for t in tool_ms)})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
