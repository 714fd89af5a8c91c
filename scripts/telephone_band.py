"""Put 16 kHz WAV files through the telephone band, exactly as a Twilio call delivers them.

Each ``<in>/<id>.wav`` is resampled to 8 kHz and μ-law encoded (what the phone network
carries), cut into Twilio's 20 ms ``media`` events, and decoded by Echo's own Twilio
serializer (``transports.twilio.EchoTwilioSerializer``: Pipecat's μ-law decoder and
streaming resampler back to the pipeline's 16 kHz). The result, ``<out>/<id>.wav``, is what
the STT hears on a phone call; score it against the original with ``eval-vocab``:

    .venv/bin/python scripts/synth_utterances.py \\
        --utterances ../shared/data/dev_utterances.tsv --out echo_data/audio/piper_dev
    .venv/bin/python scripts/telephone_band.py \\
        --in echo_data/audio/piper_dev --out echo_data/audio/piper_dev_phone
    .venv/bin/echo-agent eval-vocab --utterances ../shared/data/dev_utterances.tsv \\
        --audio-dir echo_data/audio/piper_dev_phone
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
import wave
from pathlib import Path
from types import SimpleNamespace

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

PIPELINE_RATE = 16000
CHUNK_BYTES = 160  # 20 ms of 8 kHz μ-law, as Twilio sends it


def read_wav(path: Path) -> tuple[np.ndarray, int]:
    """int16 mono PCM and its rate."""
    with wave.open(str(path)) as w:
        if w.getsampwidth() != 2 or w.getnchannels() != 1:
            raise SystemExit(f"{path}: expected 16-bit mono PCM")
        return np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16), w.getframerate()


def write_wav(path: Path, pcm: bytes, rate: int) -> None:
    """Write int16 mono PCM bytes as a WAV file."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm)


def phone_line(pcm: np.ndarray, rate: int) -> bytes:
    """The caller's side: 8 kHz μ-law bytes."""
    from transports.ws_clients import to_ulaw

    return to_ulaw(pcm, rate)


async def through_serializer(ulaw: bytes) -> bytes:
    """Echo's side: Twilio media events decoded by the serializer the server uses."""
    from pipecat.frames.frames import InputAudioRawFrame
    from pipecat.serializers.twilio import TwilioFrameSerializer

    from transports.twilio import EchoTwilioSerializer

    serializer = EchoTwilioSerializer(
        "MZband",
        params=TwilioFrameSerializer.InputParams(auto_hang_up=False, sample_rate=PIPELINE_RATE),
    )
    # The transport calls setup() with the pipeline's input rate; only that field is read.
    await serializer.setup(SimpleNamespace(audio_in_sample_rate=PIPELINE_RATE))
    out = bytearray()
    for i in range(0, len(ulaw), CHUNK_BYTES):
        payload = base64.b64encode(ulaw[i : i + CHUNK_BYTES]).decode()
        event = json.dumps({"event": "media", "media": {"payload": payload}})
        frame = await serializer.deserialize(event)
        if isinstance(frame, InputAudioRawFrame):
            out += frame.audio
    return bytes(out)


async def convert(src: Path, dst: Path) -> int:
    """Convert every WAV in ``src``; returns how many."""
    dst.mkdir(parents=True, exist_ok=True)
    count = 0
    for path in sorted(src.glob("*.wav")):
        pcm, rate = read_wav(path)
        decoded = await through_serializer(phone_line(pcm, rate))
        write_wav(dst / path.name, decoded, PIPELINE_RATE)
        count += 1
    return count


def main(argv: list[str] | None = None) -> int:
    """Entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--in", dest="src", type=Path, required=True, help="dir of <id>.wav")
    parser.add_argument("--out", type=Path, required=True, help="output dir")
    args = parser.parse_args(argv)
    count = asyncio.run(convert(args.src, args.out))
    print(f"{count} files through 8 kHz μ-law → {args.out}")
    return 0 if count else 1


if __name__ == "__main__":
    sys.exit(main())
