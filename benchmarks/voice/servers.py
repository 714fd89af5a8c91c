"""The bots under test: each one a server subprocess on a loopback port (or a given URL).

A :class:`System` names one bot configuration — Echo with some settings overridden, the
vanilla Pipecat bot, or an Echo server already running at a URL. :class:`ServerProcess`
starts it (``python -m benchmarks.voice.serve`` / ``python -m benchmarks.voice.vanilla``),
waits for ``/readyz`` (``/healthz`` where there is none) and stops it; its output goes to
``<out>/<name>.log``.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config import PROJECT_DIR

ECHO = "echo"
VANILLA = "vanilla"
EXTERNAL = "external"


@dataclass(frozen=True)
class System:
    """One bot configuration under test.

    Attributes:
        name: Label in the table, CSV and chart (``echo``, ``vanilla``, ``echo[vad=0.3,…]``).
        kind: ``echo`` (spawned Echo server), ``vanilla`` or ``external`` (``url``).
        overrides: ``EchoSettings`` fields for a spawned Echo server.
        pipeline: Echo pipeline variant requested in the offer.
        url: Base URL of an external server.
    """

    name: str
    kind: str
    overrides: dict[str, Any] = field(default_factory=dict)
    pipeline: str | None = None
    url: str | None = None


def free_port() -> int:
    """A free TCP port on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def healthy(url: str, timeout: float = 2.0) -> bool:
    """Whether ``GET <url>/healthz`` answers 200."""
    try:
        with urllib.request.urlopen(f"{url}/healthz", timeout=timeout) as res:
            return res.status == 200
    except OSError:
        return False


def ready(url: str, timeout: float = 2.0) -> bool:
    """Whether the server takes calls at full speed: ``/readyz`` answers 200.

    Echo answers 503 there while it pre-synthesizes its phrases at start-up (a call then
    competes with Piper for the CPU); a server without ``/readyz`` (404: the vanilla bot)
    is ready when ``/healthz`` answers.
    """
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=timeout) as res:
            return res.status == 200
    except urllib.error.HTTPError as e:
        return e.code == 404 and healthy(url, timeout)
    except OSError:
        return False


class ServerStartError(RuntimeError):
    """A bench server did not come up; the message points at its log."""


class ServerProcess:
    """A system's server as a subprocess (or nothing to start, for an external URL)."""

    def __init__(self, system: System, out_dir: Path, tag: str = ""):
        """Initialize.

        Args:
            system: The bot configuration.
            out_dir: Where its log and data directory go.
            tag: Suffix of the log and data directory names (a fresh server per cold run
                gets a fresh data directory: no phrase cache, no earlier bookings).
        """
        self.system = system
        self.out_dir = Path(out_dir)
        self.proc: subprocess.Popen | None = None
        self.port: int | None = None
        self.name = _slug(system.name) + (f"-{_slug(tag)}" if tag else "")
        self.log_path = self.out_dir / f"{self.name}.log"
        self._log = None

    @property
    def data_dir(self) -> Path:
        """The spawned server's data directory."""
        return self.out_dir / "servers" / self.name

    @property
    def audit_db(self) -> Path | None:
        """The spawned Echo server's SQLite audit trail (``None``: not an Echo we spawned)."""
        if self.system.kind != ECHO:
            return None
        return Path(self.system.overrides.get("audit_db_path") or self.data_dir / "audit.db")

    @property
    def url(self) -> str:
        """Base URL of the running server."""
        if self.system.kind == EXTERNAL:
            return self.system.url.rstrip("/")
        return f"http://127.0.0.1:{self.port}"

    def command(self) -> list[str]:
        """The subprocess command line."""
        data_dir = self.data_dir
        if self.system.kind == ECHO:
            overrides = {"data_dir": str(data_dir), **self.system.overrides}
            return [
                sys.executable,
                "-m",
                "benchmarks.voice.serve",
                "--port",
                str(self.port),
                "--settings-json",
                json.dumps(overrides),
            ]
        if self.system.kind == VANILLA:
            return [
                sys.executable,
                "-m",
                "benchmarks.voice.vanilla",
                "--port",
                str(self.port),
                "--data-dir",
                str(data_dir),
            ]
        raise ValueError(f"cannot spawn a server of kind '{self.system.kind}'")

    def start(self) -> None:
        """Spawn the server (no wait); external systems need nothing."""
        if self.system.kind == EXTERNAL:
            return
        self.port = free_port()
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "wb")
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.proc = subprocess.Popen(
            self.command(),
            cwd=PROJECT_DIR,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 300.0) -> None:
        """Block until the server is ready (:func:`ready`).

        Raises:
            ServerStartError: The process exited or did not answer in time.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready(self.url):
                return
            if self.proc is not None and self.proc.poll() is not None:
                raise ServerStartError(
                    f"{self.system.name} server exited with {self.proc.returncode}: "
                    f"see {self.log_path}"
                )
            time.sleep(0.25)
        where = f"see {self.log_path}" if self.proc else f"is {self.url} up?"
        raise ServerStartError(f"{self.system.name} server not ready after {timeout:.0f}s: {where}")

    def stop(self) -> None:
        """Stop the subprocess (SIGTERM, then SIGKILL after 15 s)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name).strip("_")
