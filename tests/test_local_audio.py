"""``echo-agent talk`` for real: PortAudio against a virtual PulseAudio microphone/speaker.

The test starts a private PulseAudio daemon with two null sinks: ``echo_mic`` (what is
played into it comes out of its monitor, Echo's default microphone) and ``echo_speaker``
(Echo's default speaker; the test records its monitor). ``echo-agent talk`` runs as a
subprocess on that daemon through PortAudio's ALSA ``pulse`` device, unchanged.
"""

import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from audit import open_store
from cli import main as cli_main
from tests.conftest import write_wav

pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parents[1]
RATE = 16000


@pytest.fixture
def pulse():
    """A private PulseAudio daemon with a virtual microphone and speaker; yields its env."""
    if not shutil.which("pulseaudio") or not shutil.which("pactl"):
        pytest.skip("PulseAudio is not installed (make system-deps installs it)")
    runtime = Path(tempfile.mkdtemp(prefix="echo-pulse-"))  # short: a socket path
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(runtime),
        "XDG_RUNTIME_DIR": str(runtime),
        "PULSE_SERVER": f"unix:{runtime}/pulse/native",
    }
    daemon = subprocess.Popen(
        [
            "pulseaudio",
            "-n",
            "--daemonize=no",
            "--exit-idle-time=-1",
            "--load=module-native-protocol-unix",
            "--load=module-null-sink sink_name=echo_mic",
            "--load=module-null-sink sink_name=echo_speaker",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 20
        while subprocess.run(["pactl", "info"], env=env, capture_output=True).returncode:
            assert daemon.poll() is None, "pulseaudio exited"
            assert time.monotonic() < deadline, "pulseaudio did not start"
            time.sleep(0.1)
        for args in (
            ["set-default-sink", "echo_speaker"],
            ["set-default-source", "echo_mic.monitor"],
        ):
            subprocess.run(["pactl", *args], env=env, check=True)
        yield env
    finally:
        daemon.terminate()
        daemon.wait(timeout=10)
        shutil.rmtree(runtime, ignore_errors=True)


class Speaker:
    """Records the virtual speaker's monitor in 20 ms chunks, with arrival times."""

    def __init__(self, env):
        self.chunks: list[tuple[float, np.ndarray]] = []
        self.proc = subprocess.Popen(
            ["parec", "--device=echo_speaker.monitor", f"--rate={RATE}", "--channels=1"]
            + ["--format=s16le", "--latency-msec=20"],
            env=env,
            stdout=subprocess.PIPE,
        )
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self):
        while data := self.proc.stdout.read(640):
            self.chunks.append((time.monotonic(), np.frombuffer(data, dtype=np.int16)))

    def first_voiced(self, since: float, threshold: int = 1000) -> float | None:
        for t, c in list(self.chunks):
            if t >= since and len(c) and np.abs(c).max() > threshold:
                return t
        return None

    def wait_voice(self, since: float, timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if (t := self.first_voiced(since)) is not None:
                return t
            time.sleep(0.05)
        return None

    def wait_quiet(self, quiet: float, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            now = time.monotonic()
            if self.first_voiced(now - quiet) is None and self.chunks:
                return
            time.sleep(0.05)

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def test_talk_answers_through_a_virtual_microphone(pulse, speak, tmp_path):
    data_dir = tmp_path / "data"
    env = {**pulse, "ECHO_DATA_DIR": str(data_dir), "PYTHONUNBUFFERED": "1"}
    log = tmp_path / "talk.log"
    speaker = Speaker(pulse)
    with open(log, "wb") as out:
        talk = subprocess.Popen(
            [sys.executable, "-c", "import sys, cli; sys.exit(cli.main(['talk']))"],
            cwd=PROJECT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 180
        while b"Echo is live" not in log.read_bytes():
            assert talk.poll() is None, log.read_text(errors="replace")[-2000:]
            assert time.monotonic() < deadline, "talk did not start"
            time.sleep(0.2)
        live = time.monotonic()
        assert speaker.wait_voice(since=live, timeout=30), "no greeting from the speaker"
        speaker.wait_quiet(quiet=1.0, timeout=30)

        request = np.concatenate([speak("Which doctors do dermatology?"), np.zeros(8000, np.int16)])
        wav = write_wav(tmp_path / "request.wav", request, RATE)
        subprocess.run(["paplay", "--device=echo_mic", str(wav)], env=pulse, check=True)
        played = time.monotonic()
        answer = speaker.wait_voice(since=played - 0.4, timeout=30)
        assert answer is not None, "no spoken answer from the speaker"
        speaker.wait_quiet(quiet=1.0, timeout=40)
    finally:
        talk.terminate()
        talk.wait(timeout=30)
        speaker.stop()

    audit = open_store_for(data_dir)
    records = list(audit.iter_records())
    start = next(r for r in records if r.kind == "session_start")
    assert start.body["transport"] == "local"
    assert any(r.kind == "turn" and r.body["trigger"] == "user" for r in records)
    audit.close()


def open_store_for(data_dir: Path):
    from config import EchoSettings

    return open_store(EchoSettings(_env_file=None, data_dir=data_dir))


def test_talk_without_a_usable_device_says_so(capsys):
    assert cli_main(["talk", "--input-device", "99"]) == 2
    err = capsys.readouterr().err
    assert "audio input device" in err and "#99" in err and "--input-device" in err
