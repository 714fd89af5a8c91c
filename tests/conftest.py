"""Shared fixtures: settings in a temp dir, real speech audio, a live Echo server."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from config import DEFAULT_VOCABULARY, EchoSettings

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
KEY_VARS = (
    "OPENAI_API_KEY",
    "DEEPGRAM_API_KEY",
    "CARTESIA_API_KEY",
    "GOOGLE_API_KEY",
    "DATABASE_URL",
    "OPENAI_BASE_URL",
    "TWILIO_AUTH_TOKEN",
    "TWILIO_ACCOUNT_SID",
    "DAILY_API_KEY",
    "ECHO_PATIENT_TOKEN_SECRET",
    "ECHO_VISION_BASE_URL",
    "ECHO_VISION_API_KEY",
    "ANTHROPIC_API_KEY",
    "ANTHROPIC_BASE_URL",
)


@pytest.fixture(autouse=True, scope="session")
def scrubbed_debug_logs():
    """Log at DEBUG through Echo's scrubbing set-up, as ``echo-agent -v`` does."""
    import logs

    logs.configure(verbose=True)


@pytest.fixture(autouse=True)
def no_cloud_keys(monkeypatch):
    """Tests run on the embedded local defaults unless a test sets a key itself."""
    for var in KEY_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(Path(__file__).resolve().parents[1])


@pytest.fixture
def settings(tmp_path) -> EchoSettings:
    """Local-default settings writing into a temp data dir."""
    return EchoSettings(_env_file=None, data_dir=tmp_path / "data")


@pytest.fixture(scope="module")
def lexicon():
    """The clinic's vocabulary (providers, medications, specialties, procedures)."""
    from vocabulary import Lexicon

    return Lexicon.load(DEFAULT_VOCABULARY)


@pytest.fixture(scope="module")
def large():
    """The case study's larger vocabulary (a superset of the clinic's)."""
    from vocabulary import Lexicon
    from vocabulary.casestudy import CASE_STUDY_VOCABULARY

    return Lexicon.load(CASE_STUDY_VOCABULARY)


@pytest.fixture(scope="session")
def piper_voice():
    """The bundled Piper voice, loaded once."""
    from piper import PiperVoice

    from models import piper_voice_dir

    return PiperVoice.load(piper_voice_dir("en_US-joe-medium") / "en_US-joe-medium.onnx")


def synthesize(voice, text: str, rate: int = 16000) -> np.ndarray:
    """Speak ``text`` with Piper and return int16 mono PCM at ``rate``."""
    import soxr

    pcm = np.concatenate(
        [np.frombuffer(c.audio_int16_bytes, dtype=np.int16) for c in voice.synthesize(text)]
    )
    out = soxr.resample(pcm.astype(np.float32) / 32768.0, voice.config.sample_rate, rate)
    return np.clip(out * 32768.0, -32768, 32767).astype(np.int16)


def write_wav(path: Path, pcm: np.ndarray, rate: int = 16000) -> Path:
    """Write int16 mono PCM as a WAV file."""
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.astype(np.int16).tobytes())
    return path


@pytest.fixture(scope="session")
def speak(piper_voice):
    """``speak(text) -> int16 PCM at 16 kHz`` with the bundled Piper voice."""
    return lambda text, rate=16000: synthesize(piper_voice, text, rate)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """Echo's real app under uvicorn on a loopback port, in a background thread."""

    def __init__(self, settings: EchoSettings):
        import uvicorn

        from server import create_app

        self.port = free_port()
        self.settings = settings.model_copy(update={"port": self.port})
        self.app = create_app(self.settings)
        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 120
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("Echo server did not start")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=30)


@pytest.fixture
def live_server(settings):
    """A running Echo server on the local defaults."""
    with LiveServer(settings) as server:
        yield server


async def wait_until(predicate, timeout: float = 10.0, interval: float = 0.05):
    """Poll ``predicate()`` until true or time out (returns its last value)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        await asyncio.sleep(interval)
    return predicate()
