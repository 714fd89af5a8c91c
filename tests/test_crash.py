"""kill -9 of a live server mid-conversation: committed turns survive, the chain verifies,
and the next start closes the interrupted session as incomplete."""

import asyncio
import os
import signal
import subprocess
import sys
import time

import aiohttp
import numpy as np
import pytest

from audit import open_store
from audit.chain import verify_chain
from tests.conftest import free_port, wait_until
from transports.webrtc_client import EchoCaller

pytestmark = pytest.mark.slow


def start_server(data_dir, port):
    env = {**os.environ, "ECHO_DATA_DIR": str(data_dir)}
    return subprocess.Popen(
        [sys.executable, "-m", "cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def wait_healthy(url, proc, timeout=120):
    deadline = time.monotonic() + timeout
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            assert proc.poll() is None, "server exited"
            try:
                async with http.get(url + "/healthz") as res:
                    if res.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise TimeoutError("server did not become healthy")


async def test_sigkill_mid_turn_loses_no_committed_turn(tmp_path, speak):
    data_dir = tmp_path / "data"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = start_server(data_dir, port)
    try:
        await wait_healthy(url, proc)
        caller = EchoCaller(url, pipeline="cascaded")
        await caller.connect()
        assert await caller.wait_for_voice(since=0.0, timeout=30)
        await caller.wait_for_silence(quiet=1.2, timeout=30)
        pcm = np.concatenate([speak("Which doctors do dermatology?"), np.zeros(8000, np.int16)])
        sent = await caller.say(pcm, 16000)
        assert await caller.wait_for_voice(since=sent - 0.3, timeout=30)
        await caller.wait_for_silence(quiet=1.2, timeout=30)

        store = open_store_for(data_dir)
        committed = await wait_until(lambda: count_turns(store) >= 2, timeout=15)
        assert committed, "the first turns were not committed"
        before = [r for r in store.iter_records()]
        store.close()

        # Start a new turn and kill the server while the user is still talking.
        caller.mic.play(speak("I'd like to book an appointment with Doctor Patel."), 16000)
        await asyncio.sleep(1.0)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        await caller.close()
    finally:
        if proc.poll() is None:
            proc.kill()

    store = open_store_for(data_dir)
    after = list(store.iter_records())
    assert verify_chain(after).ok
    assert [r.hash for r in after[: len(before)]] == [r.hash for r in before]
    session_id = before[0].session_id
    assert not any(r.kind == "session_end" for r in after)
    store.close()

    # Restart: the orphaned session is closed as incomplete, the chain still verifies.
    proc = start_server(data_dir, port)
    try:
        await wait_healthy(url, proc)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    store = open_store_for(data_dir)
    records = list(store.iter_records())
    assert verify_chain(records).ok
    ends = [r for r in records if r.kind == "session_end" and r.session_id == session_id]
    assert len(ends) == 1 and ends[0].body["status"] == "incomplete"
    store.close()


def open_store_for(data_dir):
    from config import EchoSettings

    return open_store(EchoSettings(_env_file=None, data_dir=data_dir))


def count_turns(store):
    return sum(1 for r in store.iter_records() if r.kind == "turn")
