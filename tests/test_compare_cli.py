"""compare-stt / compare-tts on real clips, real models and real Pipecat pipelines.

The clips are spoken by the bundled Piper voice in the test; Deepgram and Cartesia are
local servers speaking their real wire protocols (Deepgram's prerecorded REST response,
Cartesia's TTS WebSocket messages).
"""

from __future__ import annotations

import argparse
import csv
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest
from PIL import Image

from config import EchoSettings
from speech.cli import add_commands
from speech.compare import STT_COLUMNS, parse_snrs
from speech.compare_tts import SENTENCE_TEMPLATES, TTS_COLUMNS, default_sentences
from speech.noise import mix_noise, speech_power
from tests.conftest import write_wav
from tests.fake_cartesia import FakeCartesia
from vocabulary import Lexicon
from vocabulary.evaluation import DATA_DIR

pytestmark = pytest.mark.slow

UTTERANCES = [
    ("c1", "Please refill my metformin today.", "metformin"),
    ("c2", "I would like to see Doctor Patel on Monday.", "Dr. Patel"),
]
SENTENCES = ["Your lisinopril refill is ready.", "Doctor Nguyen will call you tomorrow."]


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="echo-agent")
    add_commands(parser.add_subparsers(dest="command", required=True))
    return parser.parse_args(argv)


def read_csv(path: Path) -> tuple[list[str], list[dict]]:
    with path.open(newline="") as handle:
        reader = csv.DictReader(handle)
        return list(reader.fieldnames or []), list(reader)


def assert_png(path: Path) -> None:
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size[0] > 200 and image.size[1] > 100


@pytest.fixture(scope="module")
def clips(tmp_path_factory, speak) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("compare_clips")
    tsv = root / "utterances.tsv"
    tsv.write_text("id\ttext\tterms\n" + "".join(f"{u}\t{t}\t{k}\n" for u, t, k in UTTERANCES))
    audio = root / "audio"
    audio.mkdir()
    silence = np.zeros(3200, dtype=np.int16)
    for uid, text, _ in UTTERANCES:
        write_wav(audio / f"{uid}.wav", np.concatenate([silence, speak(text), silence]))
    return tsv, audio


# --- pure parts ----------------------------------------------------------------------------


def test_parse_snrs():
    assert parse_snrs("none,20,10") == [None, 20.0, 10.0]
    assert parse_snrs("clean, 15dB, 15") == [None, 15.0]
    with pytest.raises(ValueError, match="bad SNR"):
        parse_snrs("loud")


@pytest.mark.parametrize("color", ["white", "pink"])
def test_mix_noise_hits_the_requested_snr(color):
    rng = np.random.default_rng(1)
    speech = (0.3 * np.sin(np.arange(32000) * 0.07)).astype(np.float32)
    audio = np.concatenate([np.zeros(8000, np.float32), speech, np.zeros(8000, np.float32)])
    mixed = mix_noise(audio, 10.0, rng, color=color)
    noise = mixed - audio
    snr = 10 * np.log10(speech_power(audio) / np.mean(noise.astype(np.float64) ** 2))
    assert abs(snr - 10.0) < 0.5
    with pytest.raises(ValueError, match="noise color"):
        mix_noise(audio, 10.0, rng, color="brown")


def test_default_sentences_use_vocabulary_terms_and_no_evaluation_sentence():
    lexicon = Lexicon.load(EchoSettings(_env_file=None).vocabulary_path)
    sentences = default_sentences(lexicon)
    assert len(sentences) == len(SENTENCE_TEMPLATES)
    evaluation = " ".join(p.read_text().lower() for p in DATA_DIR.glob("*.tsv"))
    evaluation += " ".join(p.read_text().lower() for p in DATA_DIR.glob("*sentences*.txt"))
    for sentence in sentences:
        assert sentence.terms and all(t in sentence.text for t in sentence.terms)
        assert sentence.text.lower() not in evaluation
    assert len({t for s in sentences for t in s.terms}) >= 8  # spread, not one name again


# --- compare-stt ---------------------------------------------------------------------------


def test_compare_stt_writes_table_csv_png_and_skips_deepgram(clips, settings, tmp_path, capsys):
    tsv, audio = clips
    out = tmp_path / "out"
    args = parse(
        ["compare-stt", "--utterances", str(tsv), "--audio-dir", str(audio), "--plain"]
        + ["--stt", "tiny.en,deepgram", "--noise-snr", "none,10", "--noise-color", "pink"]
        + ["--out", str(out)]
    )
    assert args.func(args, settings) == 0
    printed = capsys.readouterr().out
    assert "term_accuracy" in printed and "skipped" in printed
    columns, rows = read_csv(out / "compare-stt.csv")
    assert columns == list(STT_COLUMNS)
    measured = [r for r in rows if r["status"] == "ok"]
    assert [(r["stt"], r["noise"]) for r in measured] == [
        ("tiny.en", "none"),
        ("tiny.en", "10 dB pink"),
        ("tiny.en plain", "none"),
        ("tiny.en plain", "10 dB pink"),
    ]
    for row in measured:
        assert row["clips"] == "2" and row["terms_said"] == "2"
        assert 0.0 <= float(row["wer"]) <= 1.5
        assert 0.0 <= float(row["term_accuracy"]) <= 1.0
        assert int(row["invented_terms"]) >= 0
        assert 0 < float(row["time_p50_ms"]) <= float(row["time_p95_ms"])
    skipped = [r for r in rows if r["stt"].startswith("deepgram")]
    assert len(skipped) == 2
    assert all("skipped" in r["status"] and "DEEPGRAM_API_KEY" in r["status"] for r in skipped)
    assert_png(out / "compare-stt.png")


def test_compare_stt_named_clips_and_bad_input(clips, settings, tmp_path, capsys):
    tsv, audio = clips
    out = tmp_path / "named"
    args = parse(
        ["compare-stt", str(audio / "c2.wav"), "--utterances", str(tsv), "--stt", "tiny.en"]
        + ["--noise-snr", "none", "--out", str(out)]
    )
    assert args.func(args, settings) == 0
    _, rows = read_csv(out / "compare-stt.csv")
    assert [(r["stt"], r["clips"], r["terms_said"]) for r in rows] == [("tiny.en", "1", "1")]

    stray = tmp_path / "zz9.wav"
    write_wav(stray, np.zeros(1600, dtype=np.int16))
    for argv, message in [
        (["--audio-dir", str(tmp_path / "nowhere")], "missing"),
        ([str(stray)], "no utterance with id 'zz9'"),
        (["--audio-dir", str(audio), "--noise-snr", "loud"], "bad SNR"),
    ]:
        args = parse(["compare-stt", "--utterances", str(tsv), "--out", str(out), *argv])
        assert args.func(args, settings) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err


class FakeDeepgram(BaseHTTPRequestHandler):
    """Deepgram's prerecorded endpoint: POST /v1/listen, the real response shape."""

    requests: list[dict] = []

    def do_POST(self):  # noqa: N802 (http.server's name)
        url = urlparse(self.path)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.requests.append(
            {
                "path": url.path,
                "query": parse_qs(url.query),
                "auth": self.headers.get("Authorization"),
                "riff": body[:4] == b"RIFF",
            }
        )
        if self.headers.get("Authorization") != "Token dg-test-key":
            self._send(401, {"err_code": "INVALID_AUTH", "err_msg": "Invalid credentials."})
            return
        words = "I would like to see Dr. Patel on Monday."
        self._send(
            200,
            {
                "metadata": {
                    "transaction_key": "deprecated",
                    "request_id": "8c8ebea9-dbeb-4f9b-a8a4-7ea6e9b4c8e1",
                    "sha256": "0" * 64,
                    "created": "2026-12-06T10:00:00.000Z",
                    "duration": 2.5,
                    "channels": 1,
                    "models": ["30089e05-99d1-4376-b32e-c263170674af"],
                    "model_info": {
                        "30089e05-99d1-4376-b32e-c263170674af": {
                            "name": "general-nova-3",
                            "version": "2024-12-20.0",
                            "arch": "nova-3",
                        }
                    },
                },
                "results": {
                    "channels": [
                        {
                            "alternatives": [
                                {
                                    "transcript": words,
                                    "confidence": 0.99,
                                    "words": [
                                        {
                                            "word": w.strip(".").lower(),
                                            "start": 0.1 * i,
                                            "end": 0.1 * i + 0.1,
                                            "confidence": 0.99,
                                            "punctuated_word": w,
                                        }
                                        for i, w in enumerate(words.split())
                                    ],
                                }
                            ]
                        }
                    ]
                },
            },
        )

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def deepgram_server():
    FakeDeepgram.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeDeepgram)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("key", ["dg-test-key", "wrong-key"])
def test_compare_stt_deepgram_over_its_rest_api(
    clips, tmp_path, monkeypatch, deepgram_server, key, capsys
):
    monkeypatch.setenv("DEEPGRAM_API_KEY", key)
    settings = EchoSettings(_env_file=None, data_dir=tmp_path / "data")
    tsv, audio = clips
    out = tmp_path / "dg"
    args = parse(
        ["compare-stt", "--utterances", str(tsv), "--audio-dir", str(audio), "--plain"]
        + ["--stt", "deepgram", "--noise-snr", "none", "--out", str(out)]
        + ["--deepgram-url", deepgram_server]
    )
    assert args.func(args, settings) == 0
    assert key not in capsys.readouterr().out
    _, rows = read_csv(out / "compare-stt.csv")
    assert [r["stt"] for r in rows] == ["deepgram", "deepgram plain"]
    requests = FakeDeepgram.requests
    assert requests and all(r["path"] == "/v1/listen" and r["riff"] for r in requests)
    assert all(r["auth"] == f"Token {key}" for r in requests)  # the WAV is sniffed
    assert all(r["query"]["model"] == ["nova-3"] for r in requests)
    if key != "dg-test-key":  # a rejected key: reported per row, the command goes on
        assert all(r["status"].startswith("failed") and "401" in r["status"] for r in rows)
        return
    assert all(r["status"] == "ok" and r["clips"] == "2" for r in rows)
    boosted = [r for r in requests if "keyterm" in r["query"]]
    assert boosted and "metformin" in boosted[0]["query"]["keyterm"]
    assert any("keyterm" not in r["query"] for r in requests)  # the plain run
    # the fake always says c2's sentence: c1's term is missed, c2's found
    assert all(r["terms_found"] == "1" and r["terms_said"] == "2" for r in rows)


# --- compare-tts ---------------------------------------------------------------------------


def test_compare_tts_piper_espeak_and_skips(settings, tmp_path, capsys):
    sentences = tmp_path / "sentences.txt"
    sentences.write_text("# two lines\n" + "\n".join(SENTENCES) + "\n")
    out = tmp_path / "tts"
    args = parse(
        ["compare-tts", "--sentences", str(sentences), "--out", str(out)]
        + ["--tts", "piper,espeak,cartesia,elevenlabs"]
    )
    assert args.func(args, settings) == 0
    assert "first_audio_p50_ms" in capsys.readouterr().out
    columns, rows = read_csv(out / "compare-tts.csv")
    assert columns == list(TTS_COLUMNS)
    by_name = {r["tts"]: r for r in rows}
    assert list(by_name) == ["piper", "espeak", "cartesia", "elevenlabs"]
    for name in ("piper", "espeak"):
        row = by_name[name]
        assert row["status"] == "ok" and row["sentences"] == "2"
        assert 0 < float(row["first_audio_p50_ms"]) <= float(row["first_audio_p95_ms"])
        assert float(row["rtf_p50"]) > 0 and float(row["audio_s"]) > 1.0
        assert 0.0 <= float(row["wer"]) <= 1.5 and row["terms_said"] == "2"
        assert len(list((out / "audio" / name).glob("*.wav"))) == 2
    assert "CARTESIA_API_KEY" in by_name["cartesia"]["status"]
    assert "ELEVENLABS_API_KEY" in by_name["elevenlabs"]["status"]
    assert all(by_name[n]["status"].startswith("skipped") for n in ("cartesia", "elevenlabs"))
    assert_png(out / "compare-tts.png")


def test_compare_tts_cartesia_over_its_websocket(piper_voice, tmp_path, monkeypatch):
    monkeypatch.setenv("CARTESIA_API_KEY", "ca-test-key")
    sentences = tmp_path / "sentences.txt"
    sentences.write_text("\n".join(SENTENCES) + "\n")
    out = tmp_path / "cartesia"
    with FakeCartesia(voice=piper_voice) as fake:
        monkeypatch.setenv("ECHO_CARTESIA_BASE_URL", fake.url)
        settings = EchoSettings(_env_file=None, data_dir=tmp_path / "data")
        args = parse(
            ["compare-tts", "--sentences", str(sentences), "--tts", "cartesia"]
            + ["--out", str(out)]
        )
        assert args.func(args, settings) == 0
    assert fake.keys and set(fake.keys) == {"ca-test-key"}
    spoken = [m["transcript"].strip() for m in fake.requests if m.get("transcript", "").strip()]
    assert spoken[-2:] == SENTENCES  # after the untimed warm-up sentence
    assert all(
        m["voice"] == {"mode": "id", "id": settings.cartesia_voice}
        for m in fake.requests
        if "transcript" in m
    )
    _, [row] = read_csv(out / "compare-tts.csv")
    assert row["tts"] == "cartesia" and row["status"] == "ok" and row["sentences"] == "2"
    assert float(row["audio_s"]) > 1.0 and row["terms_said"] == "2"
    assert_png(out / "compare-tts.png")
