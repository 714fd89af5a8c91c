"""A care request spoken over WebRTC: the caller asks to be called back, the row exists.

Real audio (Piper) → aiortc → Echo's cascaded pipeline with the local brain → aiortc; the
call-back request lands in the clinic database and in the audit trail, and the bot answered
with voice. Nothing here asserts the words Whisper heard: only what the request did.
"""

import numpy as np
import pytest

from audit import open_store
from clinic.care import CareStore
from clinic.store import ClinicStore
from tests.conftest import wait_until
from transports.webrtc_client import EchoCaller

pytestmark = pytest.mark.slow


async def test_spoken_callback_request_is_recorded(live_server, speak):
    # A bare patient_id is never trusted: the session gets its own id.
    caller = EchoCaller(
        live_server.url, pipeline="cascaded", request_data={"patient_id": "patient-alice"}
    )
    try:
        await caller.connect()
        assert await caller.wait_for_voice(since=0.0, timeout=30), "no greeting"
        await caller.wait_for_silence(quiet=1.2, timeout=30)
        pcm = np.concatenate(
            [
                speak("Could somebody from the office call me back tomorrow morning?"),
                np.zeros(8000, np.int16),
            ]
        )
        sent = await caller.say(pcm, 16000)
        assert await caller.wait_for_voice(since=sent - 0.3, timeout=30), "no spoken answer"
        await caller.wait_for_silence(quiet=1.2, timeout=40)
    finally:
        await caller.close()

    settings = live_server.settings
    audit = open_store(settings)
    await wait_until(lambda: any(r.kind == "session_end" for r in audit.iter_records()), 20)
    records = list(audit.iter_records())
    audit.close()
    calls = [r.body for r in records if r.kind == "tool_call"]
    handoff = [c for c in calls if c["name"] == "request_handoff"]
    assert handoff and handoff[0]["result"]["ok"] is True, [c["name"] for c in calls]
    patient = next(r for r in records if r.kind == "session_start").body["patient_id"]
    assert patient != "patient-alice"
    store = ClinicStore(settings.resolved_clinic_db(), timezone=settings.clinic_timezone)
    rows = CareStore(store).requests("callback_requests", patient)
    assert len(rows) == 1 and rows[0]["id"] == handoff[0]["result"]["request_id"]
    spoken = " ".join(r.body["bot"]["spoken_text"] for r in records if r.kind == "turn")
    assert "call you back" in spoken
