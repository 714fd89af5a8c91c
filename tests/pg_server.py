"""A throwaway real PostgreSQL server for the tests (Debian's postgresql package).

``postgres_server`` (session scope) runs ``initdb`` + ``pg_ctl start`` on a free
loopback port with its data and socket directories in a temp dir, and stops it
at the end. As root the server runs as the ``postgres`` user (PostgreSQL refuses
to run as root). ``pg_url`` gives each test a fresh, empty database.

With ``ECHO_TEST_DATABASE_URL`` set (e.g. a CI service container), that server is
used instead. Tests are skipped, with the reason, only when neither is available.

Import the fixtures into a test module with
``from tests.pg_server import pg_url, postgres_server  # noqa: F401``.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest


@dataclass
class PostgresServer:
    """A running server: ``url`` reaches its maintenance database ``postgres``."""

    host: str
    port: int
    user: str
    bin_dir: Path | None = None
    data_dir: Path | None = None
    run_as: str | None = None
    log_file: Path | None = None
    base_url: str | None = None

    def url(self, dbname: str = "postgres") -> str:
        """URL of one database on this server."""
        if self.base_url:
            head, _, _ = self.base_url.rpartition("/")
            return f"{head}/{dbname}"
        return f"postgresql://{self.user}@{self.host}:{self.port}/{dbname}"

    def _cmd(self, *args: str) -> list[str]:
        return ["runuser", "-u", self.run_as, "--", *args] if self.run_as else list(args)

    def pg_ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        """Run ``pg_ctl`` on this server's data dir (start/stop for outage tests)."""
        if self.bin_dir is None or self.data_dir is None:
            raise RuntimeError("server not started by the tests; cannot control it")
        cmd = self._cmd(str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), *args)
        return subprocess.run(cmd, check=check, capture_output=True, text=True, timeout=60)

    def stop(self, mode: str = "fast") -> None:
        """Stop the server."""
        self.pg_ctl("-m", mode, "-w", "stop")

    def start(self) -> None:
        """Start the (initialised) server."""
        assert self.log_file is not None
        opts = (
            f"-p {self.port} -k {self.data_dir.parent / 'sock'} "
            f"-c listen_addresses={self.host} -c fsync=off -c full_page_writes=off"
        )
        self.pg_ctl("-o", opts, "-l", str(self.log_file), "-w", "-t", "60", "start")

    def create_database(self) -> str:
        """Create an empty database and return its URL."""
        import psycopg

        name = f"echo_test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def find_pg_bin() -> Path | None:
    """Folder holding initdb and pg_ctl (newest Debian version first), or None."""
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin"),
        key=lambda p: int(Path(p).parent.name) if Path(p).parent.name.isdigit() else 0,
        reverse=True,
    )
    which = shutil.which("initdb")
    if which:
        candidates.insert(0, str(Path(which).parent))
    for cand in candidates:
        if (Path(cand) / "initdb").exists() and (Path(cand) / "pg_ctl").exists():
            return Path(cand)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_server():
    """A real PostgreSQL server on loopback for the whole test session."""
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed (pip install 'psycopg[binary]')")

    external = os.environ.get("ECHO_TEST_DATABASE_URL")
    if external:
        yield PostgresServer(host="", port=0, user="", base_url=external)
        return

    bin_dir = find_pg_bin()
    if bin_dir is None:
        pytest.skip(
            "PostgreSQL server binaries (initdb, pg_ctl) not found: "
            "apt-get install postgresql, or set ECHO_TEST_DATABASE_URL"
        )
    run_as = None
    if os.geteuid() == 0:
        run_as = "postgres"
        try:
            import pwd

            pw = pwd.getpwnam(run_as)
        except KeyError:
            pytest.skip("running as root and there is no 'postgres' user to run the server as")
    tmp = Path(tempfile.mkdtemp(prefix="echo-pg-"))
    data_dir, sock_dir, log_file = tmp / "data", tmp / "sock", tmp / "server.log"
    sock_dir.mkdir()
    if run_as:
        for p in (tmp, sock_dir):
            os.chown(p, pw.pw_uid, pw.pw_gid)
    server = PostgresServer(
        host="127.0.0.1",
        port=_free_port(),
        user="echo",
        bin_dir=bin_dir,
        data_dir=data_dir,
        run_as=run_as,
        log_file=log_file,
    )
    init = server._cmd(
        str(bin_dir / "initdb"),
        "-D",
        str(data_dir),
        "-U",
        "echo",
        "--auth=trust",
        "-E",
        "UTF8",
        "--locale=C",
        "--no-sync",
    )
    try:
        subprocess.run(init, check=True, capture_output=True, text=True, timeout=120)
        server.start()
    except subprocess.CalledProcessError as e:
        log = log_file.read_text() if log_file.exists() else ""
        shutil.rmtree(tmp, ignore_errors=True)
        raise RuntimeError(f"could not start PostgreSQL: {e.stderr}\n{log}") from e
    try:
        yield server
    finally:
        server.pg_ctl("-m", "immediate", "stop", check=False)
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture
def pg_url(postgres_server) -> str:
    """URL of a fresh, empty database on the test server."""
    return postgres_server.create_database()
