"""transcribe / eval-vocab CLI, the STT service and the synthesis script, on real audio.

The WAVs are spoken by the bundled Piper voice (and espeak-ng) through
scripts/synth_utterances.py in the test itself; the real tiny.en model decodes them.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np
import pytest

from config import PROJECT_DIR, EchoSettings
from tests.heard import heard_like
from vocabulary import Lexicon
from vocabulary.cli import add_commands, build_transcriber
from vocabulary.evaluation import load_wav

pytestmark = pytest.mark.slow

UTTERANCES = [
    ("u1", "Can you refill my metformin prescription?", "metformin"),
    ("u2", "I need a referral to cardiology.", "cardiology"),
    ("u3", "My aunt is coming with me to the visit.", ""),
]


@pytest.fixture(scope="module")
def audio(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("vocab_audio")
    tsv = root / "utterances.tsv"
    tsv.write_text("id\ttext\tterms\n" + "".join(f"{u}\t{t}\t{k}\n" for u, t, k in UTTERANCES))
    out = root / "piper"
    subprocess.run(
        [
            sys.executable,
            str(PROJECT_DIR / "scripts" / "synth_utterances.py"),
            "--utterances",
            str(tsv),
            "--out",
            str(out),
            "--voice",
            "piper",
            "--pace",
            "1.0",
            "1.0",
            "--no-noise",
        ],
        check=True,
        capture_output=True,
    )
    return tsv, out


@pytest.fixture()
def settings(tmp_path) -> EchoSettings:
    return EchoSettings(data_dir=tmp_path)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="echo-agent")
    add_commands(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def test_synth_script_writes_16k_mono_pcm(audio):
    _, out = audio
    for uid, _, _ in UTTERANCES:
        with wave.open(str(out / f"{uid}.wav")) as wav:
            assert (wav.getframerate(), wav.getnchannels(), wav.getsampwidth()) == (16000, 1, 2)
            assert wav.getnframes() > 16000  # more than a second of speech
    assert (out / "manifest.tsv").read_text().startswith("id\tpace\tduration")


def test_synth_script_espeak_voice(tmp_path):
    tsv = tmp_path / "u.tsv"
    tsv.write_text("id\ttext\tterms\nx1\tI take lisinopril.\tlisinopril\n")
    script = PROJECT_DIR / "scripts" / "synth_utterances.py"
    subprocess.run(
        [sys.executable, str(script), "--utterances", str(tsv), "--out", str(tmp_path / "e")]
        + ["--voice", "espeak"],
        check=True,
        capture_output=True,
    )
    samples = load_wav(tmp_path / "e" / "x1.wav")
    assert samples.dtype == np.float32 and len(samples) > 8000


def test_transcribe_prints_one_json_object_per_file(audio, settings, capsys):
    _, out = audio
    wavs = [str(out / f"{uid}.wav") for uid, _, _ in UTTERANCES]
    args = parse(["transcribe", *wavs])
    assert args.func(args, settings) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    records = [json.loads(line) for line in lines]
    for record, wav in zip(records, wavs, strict=True):
        assert set(record) == {"file", "raw", "text", "corrections"}
        assert record["file"] == wav
    assert "metformin" in records[0]["text"].lower()
    assert "cardiology" in records[1]["text"].lower()
    assert "aunt" in records[2]["text"].lower()
    assert records[2]["corrections"] == []
    for record in records:
        for change in record["corrections"]:
            assert record["raw"][change["start"] : change["end"]] == change["raw"]


def test_transcribe_no_correction_and_bad_file(audio, settings, tmp_path, capsys):
    _, out = audio
    bad = tmp_path / "bad.wav"
    bad.write_text("not audio")
    args = parse(["transcribe", "--no-correction", "--details", str(bad), str(out / "u1.wav")])
    assert args.func(args, settings) == 1
    captured = capsys.readouterr()
    assert "bad.wav" in captured.err
    [line] = captured.out.strip().splitlines()
    record = json.loads(line)
    assert record["text"] == record["raw"]
    assert record["corrections"] == []
    assert set(record["timings_ms"]) >= {"encode", "decode1", "stt", "total"}


def test_transcribe_bad_vocabulary(audio, settings, tmp_path, capsys):
    _, out = audio
    vocab = tmp_path / "v.json"
    vocab.write_text("{broken")
    args = parse(["transcribe", "--vocabulary", str(vocab), str(out / "u1.wav")])
    assert args.func(args, settings) == 2
    assert "cannot parse" in capsys.readouterr().err


def test_eval_vocab_writes_report(audio, settings, tmp_path, capsys):
    tsv, out = audio
    report_path = tmp_path / "report.json"
    args = parse(
        ["eval-vocab", "--utterances", str(tsv), "--audio-dir", str(out)]
        + ["--report", str(report_path), "--no-progress"]
    )
    assert args.func(args, settings) == 0
    printed = capsys.readouterr().out
    assert "corrected (text)" in printed and "WER" in printed
    report = json.loads(report_path.read_text())
    for stage in ("baseline", "raw", "text"):
        summary = report["summary"][stage]
        assert summary["terms_said"] == 2
        assert summary["utterances"] == 3
        assert 0.0 <= summary["wer"] <= 1.0
    assert report["summary"]["text"]["term_accuracy"] == 1.0
    assert report["summary"]["text"]["false_terms"] == 0
    assert [row["id"] for row in report["rows"]] == ["u1", "u2", "u3"]
    assert report["ordinary_text"]["changed"] == 0


def test_eval_vocab_missing_audio(audio, settings, tmp_path, capsys):
    tsv, _ = audio
    args = parse(["eval-vocab", "--utterances", str(tsv), "--audio-dir", str(tmp_path)])
    assert args.func(args, settings) == 2
    assert "missing" in capsys.readouterr().err


def words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


async def test_stt_service_emits_transcription_with_stage_metadata(audio, settings):
    from pipecat.frames.frames import TranscriptionFrame

    from speech.service import FIRST_PASS_KEY, HOTWORDS_KEY, EchoWhisperSTTService

    _, out = audio
    lexicon = Lexicon.load(settings.vocabulary_path)
    service = EchoWhisperSTTService.from_settings(settings, lexicon=lexicon)
    pcm = (load_wav(out / "u1.wav") * 32767).astype(np.int16).tobytes()
    frames = [frame async for frame in service.run_stt(pcm)]
    [frame] = [f for f in frames if isinstance(f, TranscriptionFrame)]
    assert heard_like(frame.text, "Can you refill my metformin prescription?")
    assert FIRST_PASS_KEY in frame.metadata and HOTWORDS_KEY in frame.metadata
    # The service and the CLI share one transcription path, configured alike.
    shared = build_transcriber(settings, lexicon, correction=False)
    mine = service.transcriber
    assert type(shared) is type(mine)
    for option in ("pad_seconds", "biasing", "correction", "beam_size", "first_pass_beam"):
        assert getattr(shared, option) == getattr(mine, option), option
    # Fed exactly the samples the service decoded (the int16 round trip changes the audio
    # slightly, enough to flip "metformin" into "met from in"), both give the same words.
    samples = np.frombuffer(pcm, dtype=np.int16).astype(np.float32) / 32768.0
    again = shared.transcribe(samples)
    assert words(again.raw) == words(frame.text)
    assert again.first_pass == frame.metadata[FIRST_PASS_KEY]
