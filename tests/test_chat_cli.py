"""`echo-agent chat`: the voice pipeline's brain, tools and audit trail, typed."""

import json

from audit import open_store
from audit.chain import verify_chain
from clinic.cli_chat import run_chat_session
from clinic.store import ClinicStore
from config import EchoSettings


async def test_chat_books_and_every_write_is_audited(tmp_path):
    settings = EchoSettings(_env_file=None, data_dir=tmp_path / "data")
    lines = iter(
        [
            "Hello",
            "I'd like to see whoever is free first thing tomorrow morning",
            "the first one",
            "yes please",
            "quit",
        ]
    )
    said: list[str] = []
    await run_chat_session(settings, input_fn=lambda prompt: next(lines), output_fn=said.append)
    assert all(line.startswith("Echo: ") for line in said) and len(said) == 5
    assert "booked" in said[-1]

    audit = open_store(settings)
    records = list(audit.iter_records())
    audit.close()
    assert verify_chain(records).ok
    start = next(r.body for r in records if r.kind == "session_start")
    assert start["variant"] == "chat" and start["transport"] == "text"
    (booking,) = [r.body for r in records if r.kind == "tool_call"]
    assert booking["name"] == "book_appointment" and booking["result"]["ok"]
    chat = [r.body for r in records if r.kind == "chat_turn"]
    assert [c["role"] for c in chat][:3] == ["assistant", "user", "assistant"]
    assert any(r.kind == "session_end" for r in records)

    store = ClinicStore(settings.resolved_clinic_db())
    (appointment,) = store.appointments_for(start["patient_id"])
    assert appointment.id in json.dumps(booking["result"])
