"""What a spawned Echo server holds, for the load benchmarks (offer flood, soak).

:func:`echo_server` starts Echo's real server as a subprocess (``benchmarks.voice.servers``:
``python -m benchmarks.voice.serve``, waiting for ``/readyz``) and stops it afterwards.
:func:`process_usage` reads the process from ``/proc/<pid>`` (RSS, open file descriptors,
UDP sockets, threads) and :func:`server_health` asks ``/healthz`` (live sessions, asyncio
tasks). Linux only (``/proc``).
"""

from __future__ import annotations

import json
import os
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Usage:
    """One look at a process in ``/proc``."""

    rss_mb: float
    fds: int
    udp_sockets: int
    threads: int


def udp_inodes(pid: int) -> set[str]:
    """Inodes of every UDP socket in the process's network namespace (IPv4 and IPv6)."""
    inodes: set[str] = set()
    for table in ("udp", "udp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if len(fields) > 9:
                inodes.add(fields[9])
    return inodes


def process_usage(pid: int) -> Usage:
    """RSS, open file descriptors, open UDP sockets and threads of process ``pid``."""
    rss_kb = threads = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss_kb = int(line.split()[1])
        elif line.startswith("Threads:"):
            threads = int(line.split()[1])
    udp = udp_inodes(pid)
    fds = udp_count = 0
    for fd in os.listdir(f"/proc/{pid}/fd"):
        fds += 1
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:[") and target[8:-1] in udp:
            udp_count += 1
    return Usage(rss_kb / 1024, fds, udp_count, threads)


def server_health(url: str) -> dict[str, Any]:
    """``/healthz``'s body: live ``sessions`` (and asyncio ``tasks`` where it counts them)."""
    with urllib.request.urlopen(f"{url}/healthz", timeout=5) as res:
        return json.load(res)


def live_sessions(url: str) -> int:
    """``/healthz``'s count of live sessions."""
    return int(server_health(url)["sessions"])


def require_proc() -> None:
    """Stop with a clear message where there is no ``/proc`` (not Linux)."""
    if not Path("/proc/self/fd").is_dir():
        raise SystemExit("this benchmark reads /proc: Linux only")


@contextmanager
def echo_server(overrides: dict[str, Any], out: Path) -> Iterator[Any]:
    """Echo's server as a subprocess, ready; its ``ServerProcess`` (``url``, ``proc.pid``).

    Args:
        overrides: ``EchoSettings`` fields for the server.
        out: Where its log (``echo.log``) and data directory go.
    """
    from benchmarks.voice.servers import ECHO, ServerProcess, System

    server = ServerProcess(System("echo", ECHO, overrides), out)
    server.start()
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()
