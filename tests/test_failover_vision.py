"""The vision variant's cloud LLM fails over to the local brain and the local reader.

The vision model is a local server speaking OpenAI's streaming chat completions
(``tests/fake_openai.py``, with the faults of ``tests/test_failover.py``). It greets; then
the caller uploads a pill label and asks about it while the model accepts the request and
never answers: after ``ECHO_PROVIDER_TIMEOUT_SECS`` the caller hears one apology and the
local brain answers that turn by reading the image with the local reader. The
``failover`` record is in the audit trail and the chain verifies.
"""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from audit import open_store
from audit.chain import verify_chain
from config import EchoSettings
from pipelines.failover import APOLOGY
from tests.conftest import LiveServer, wait_until
from tests.test_conversation import say_and_listen
from tests.test_failover import ClinicFakeOpenAI
from tests.test_vision_webrtc import upload
from tests.vision_drawings import encoded, pill_label
from transports.webrtc_client import EchoCaller

pytestmark = pytest.mark.slow


async def test_vision_model_fails_over_to_the_local_reader(tmp_path, speak):
    with ClinicFakeOpenAI() as fake:
        settings = EchoSettings(
            _env_file=None,
            data_dir=tmp_path / "data",
            provider_timeout_secs=1.5,
            vision_base_url=fake.url,
            vision_api_key=SecretStr("sk-test-vision-123"),
        )
        with LiveServer(settings) as server:
            caller = EchoCaller(server.url, pipeline="vision")
            try:
                await caller.connect()
                assert await caller.wait_for_voice(since=0.0, timeout=30), "no greeting"
                await caller.wait_for_silence(quiet=1.2, timeout=30)
                status, _ = await upload(server.url, caller.pc_id, encoded(pill_label(), "PNG"))
                assert status == 200
                fake.fault = "silent"
                await say_and_listen(caller, speak, "Can you read the label on this bottle?")
                # The apology, then the local reader's answer: wait through the gap.
                await caller.wait_for_silence(quiet=4.0, timeout=40)
            finally:
                await caller.close()
            audit = open_store(server.settings)
            await wait_until(lambda: any(r.kind == "session_end" for r in audit.iter_records()), 20)
            records = list(audit.iter_records())
            audit.close()

    assert verify_chain(records).ok
    assert fake.requests, "the vision model greeted"
    switches = [r.body for r in records if r.kind == "failover"]
    assert switches == [
        {
            "stage": "llm",
            "from": "openai_compatible",
            "to": "local",
            "reason": "timeout",
            "turn_in_progress": True,
        }
    ]
    turns = [r.body for r in records if r.kind == "turn"]
    spoken = " ".join(t["bot"]["spoken_text"] for t in turns)
    assert spoken.count(APOLOGY) == 1
    # The local brain read the upload with the local reader and said what it found.
    calls = [c["name"] for t in turns for c in t["tool_calls"]]
    assert "read_image" in calls, calls
    images = [r.body for r in records if r.kind == "image" and r.body.get("event") == "read"]
    assert images and images[-1]["produced"]["kind"]
