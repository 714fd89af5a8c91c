"""``echo-agent realtime-server`` as a real process, reached with a plain WebSocket client."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from websockets.asyncio.client import connect

from tests.conftest import free_port

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[1]
RUN = (
    "import argparse, sys\n"
    "from config import EchoSettings\n"
    "from realtime.cli import add_commands\n"
    "parser = argparse.ArgumentParser()\n"
    "add_commands(parser.add_subparsers())\n"
    "args = parser.parse_args(sys.argv[1:-1])\n"
    "sys.exit(args.func(args, EchoSettings(_env_file=None, data_dir=sys.argv[-1])))\n"
)


def test_parser_adds_the_subcommand():
    import argparse

    from realtime.cli import add_commands, cmd_realtime_server

    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers())
    args = parser.parse_args(["realtime-server", "--host", "0.0.0.0", "--port", "9999"])
    assert (args.host, args.port, args.func) == ("0.0.0.0", 9999, cmd_realtime_server)


async def test_realtime_server_command_serves_the_protocol(tmp_path):
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    for var in ("OPENAI_API_KEY", "GOOGLE_API_KEY"):
        env.pop(var, None)
    proc = subprocess.Popen(
        [sys.executable, "-c", RUN, "realtime-server", "--port", str(port), "--no-warm-up"]
        + [str(tmp_path / "data")],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = await asyncio.wait_for(asyncio.to_thread(proc.stdout.readline), 60)
        assert f"ws://127.0.0.1:{port}/v1/realtime" in line
        assert "cascaded inside" in line and "no key required" in line
        async with connect(f"ws://127.0.0.1:{port}/v1/realtime?model=gpt-realtime") as ws:
            created = json.loads(await asyncio.wait_for(ws.recv(), 10))
            assert created["type"] == "session.created"
            assert created["session"]["model"] == "gpt-realtime"
            await ws.send(
                json.dumps({"type": "response.create", "response": {"output_modalities": ["text"]}})
            )
            events = []
            while not events or events[-1]["type"] != "response.done":
                events.append(json.loads(await asyncio.wait_for(ws.recv(), 60)))
            text = "".join(e["delta"] for e in events if e["type"] == "response.output_text.delta")
            assert text.startswith("Hi, this is Echo")
    finally:
        proc.terminate()
        proc.wait(timeout=30)
