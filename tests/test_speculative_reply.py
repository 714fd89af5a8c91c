"""Speculative replies: the likely answer's first audio is ready before the turn ends."""

from __future__ import annotations

import asyncio
import json
import threading
from datetime import date

import pytest

from clinic.cli_chat import respond
from clinic.dialogue.brain import ClinicBrain
from clinic.store import ClinicStore
from clinic.tools import ClinicTools
from config import DEFAULT_VOCABULARY
from pipelines.speculative_reply import ReplyPreparer, first_piece, speculative_reply
from providers.local import PhraseCache

MONDAY = date(2025, 12, 1)
VOCABULARY = json.loads(DEFAULT_VOCABULARY.read_text())


@pytest.fixture
def parts(tmp_path):
    store = ClinicStore(tmp_path / "clinic.db")
    store.seed(VOCABULARY, start=MONDAY, days=14)
    brain = ClinicBrain.for_store(store, today=MONDAY, medications=VOCABULARY["medications"])
    tools = ClinicTools(store, today=MONDAY, patient_id="patient-call-1")
    return brain, tools, store


def test_first_piece_is_what_the_tts_synthesizes_first():
    assert first_piece("We open at 8 AM on weekdays. Anything else?") == (
        "We open at 8 AM on weekdays."
    )
    assert first_piece("Doctor Ito has openings on Friday, at 9 AM and 2 PM.") == (
        "Doctor Ito has openings"
    )
    assert first_piece("") == ""


def test_phrase_cache_claims_waits_and_releases():
    cache = PhraseCache()
    assert cache.begin("Hello there.") and not cache.begin("Hello there.")
    assert cache.inflight("Hello there.")
    got = []
    waiter = threading.Thread(target=lambda: got.append(cache.wait("Hello there.", 5.0)))
    waiter.start()
    cache.put("Hello there.", b"\x01\x02")
    waiter.join(5)
    assert got == [b"\x01\x02"] and not cache.inflight("Hello there.")
    assert not cache.begin("Hello there.")  # cached now
    assert cache.begin("Other.")
    cache.drop("Other.")  # a failed synthesis: nobody waits for it
    assert cache.wait("Other.", 0.1) is None and cache.begin("Other.")
    assert not cache.begin("x" * 500)  # too long to cache


async def test_speculative_reply_equals_the_real_reply_and_changes_nothing(parts):
    """Paraphrases in no set: the read-only answer is computed ahead; writes are not."""
    brain, tools, store = parts
    greeting = [{"role": "assistant", "content": "Hi, how can I help?"}]
    for text in ("Are you folks open on Saturday mornings?", "Where do I park when I come in?"):
        ahead = await speculative_reply(brain, tools, list(greeting), text)
        real = await respond(brain, tools, [*greeting, {"role": "user", "content": text}])
        assert ahead is not None and ahead == real
    before = store.appointments_for("patient-call-1")
    history = list(greeting)
    assert await speculative_reply(brain, tools, history, "Book me with Doctor Patel.") in (
        None,
        await respond(
            brain, tools, [*greeting, {"role": "user", "content": "Book me with Doctor Patel."}]
        ),
    )
    assert history == greeting  # the conversation is not changed
    assert store.appointments_for("patient-call-1") == before  # nothing was written


async def test_preparer_synthesizes_the_first_piece_into_the_cache(parts):
    from piper import PiperVoice

    from models import piper_voice_dir

    brain, tools, _ = parts
    greeting = [{"role": "assistant", "content": "Hi, how can I help?"}]

    class Context:
        def get_messages(self):
            return list(greeting)

    name = "en_US-joe-medium"
    voice = PiperVoice.load(piper_voice_dir(name) / f"{name}.onnx")
    cache = PhraseCache()
    preparer = ReplyPreparer(
        brain=brain, tools=tools, context=Context(), phrases=cache, voice=voice
    )
    text = "Are you folks open on Saturday mornings?"
    preparer.on_speculative_transcript(text)
    for _ in range(300):
        await asyncio.sleep(0.02)
        if preparer.prepared:
            break
    real = await respond(brain, tools, [*greeting, {"role": "user", "content": text}])
    pcm = cache.get(first_piece(real))
    assert preparer.prepared == 1 and pcm is not None and len(pcm) > 16000  # > 0.4 s of audio
