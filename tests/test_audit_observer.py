"""AuditObserver on a real Pipecat pipeline with a real output transport and a real store."""

from __future__ import annotations

import asyncio
import hashlib
import json

import pytest
from loguru import logger
from pipecat.frames.frames import (
    ErrorFrame,
    FunctionCallInProgressFrame,
    FunctionCallResultFrame,
    InputAudioRawFrame,
    InterruptionFrame,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
    LLMTextFrame,
    TranscriptionFrame,
    TTSAudioRawFrame,
    TTSStartedFrame,
    TTSStoppedFrame,
    TTSTextFrame,
    UserImageRawFrame,
    UserStartedSpeakingFrame,
    UserStoppedSpeakingFrame,
)
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor
from pipecat.tests.utils import SleepFrame, run_test
from pipecat.transports.base_output import BaseOutputTransport
from pipecat.transports.base_transport import TransportParams

from audit.chain import canonical, verify_chain
from audit.recorder import AuditRecorder
from audit.store import SQLiteAuditStore
from observers.audit import AuditObserver
from processors.vocabulary_correction import CORRECTIONS_KEY, RAW_TEXT_KEY

RATE = 16000


class PacedOutput(BaseOutputTransport):
    """An output transport whose 'device' plays audio in real time (the audio boundary)."""

    def __init__(self, **kwargs):
        super().__init__(
            TransportParams(
                audio_out_enabled=True, audio_out_sample_rate=RATE, audio_out_end_silence_secs=0
            ),
            **kwargs,
        )
        self.played = bytearray()

    async def start(self, frame):
        await super().start(frame)
        await self.set_transport_ready(frame)

    async def write_audio_frame(self, frame) -> bool:
        self.played += frame.audio
        await asyncio.sleep(len(frame.audio) / (frame.sample_rate * frame.num_channels * 2))
        return True


class StampCorrection(FrameProcessor):
    """Stands where the vocabulary corrector runs: edits the transcript in place."""

    async def process_frame(self, frame, direction: FrameDirection):
        await super().process_frame(frame, direction)
        if isinstance(frame, TranscriptionFrame):
            frame.metadata[RAW_TEXT_KEY] = frame.text
            frame.metadata[CORRECTIONS_KEY] = [
                {"raw": "doctor o'conco", "term": "Dr. Okonkwo", "score": 0.91}
            ]
            frame.text = frame.text.replace("doctor o'conco", "Dr. Okonkwo")
        await self.push_frame(frame, direction)


def tone(secs: float, value: int) -> bytes:
    return (value.to_bytes(2, "little", signed=True)) * int(RATE * secs)


def user_audio(n: int) -> list[InputAudioRawFrame]:
    return [
        InputAudioRawFrame(audio=tone(0.02, 100 + i), sample_rate=RATE, num_channels=1)
        for i in range(n)
    ]


def tts_sentence(text: str, secs: float, value: int) -> list:
    chunks = [
        TTSAudioRawFrame(audio=tone(0.1, value), sample_rate=RATE, num_channels=1)
        for _ in range(int(secs / 0.1))
    ]
    return [*chunks, TTSTextFrame(text, text_type="sentence")]


@pytest.fixture
def store(tmp_path):
    s = SQLiteAuditStore(tmp_path / "audit.db")
    yield s
    s.close()


async def run_session(store, frames, *, processors=None, played_by=None, keep_audio=False):
    recorder = AuditRecorder(store, session_id="call-1", variant="cascaded", config_hash="abc")
    await recorder.start()
    observer = AuditObserver(recorder=recorder, played_by=played_by, keep_audio=keep_audio)
    output = PacedOutput()
    from pipecat.pipeline.pipeline import Pipeline

    pipeline = Pipeline([*(processors or []), output])
    await run_test(pipeline, frames_to_send=frames, observers=[observer])
    observer.flush()
    await recorder.close()
    turns = [r.body for r in store.iter_records("call-1", kinds=["turn"])]
    return turns, output


def booking_turn_frames(messages):
    audio = user_audio(10)
    return [
        UserStartedSpeakingFrame(),
        *audio,
        UserStoppedSpeakingFrame(),
        SleepFrame(0.05),
        TranscriptionFrame(
            "I need to see doctor o'conco on Tuesday", "patient", "2026-01-01T10:00:00Z"
        ),
        LLMContextFrame(LLMContext(messages=messages)),
        LLMFullResponseStartFrame(),
        FunctionCallInProgressFrame(
            "book_appointment", "call-7", {"doctor": "Dr. Okonkwo", "day": "Tuesday"}
        ),
        FunctionCallResultFrame(
            "book_appointment",
            "call-7",
            {"doctor": "Dr. Okonkwo", "day": "Tuesday"},
            {"booking_id": "B-42"},
        ),
        LLMTextFrame("You're booked "),
        LLMTextFrame("with Dr. Okonkwo."),
        LLMFullResponseEndFrame(),
        TTSStartedFrame(),
        *tts_sentence("You're booked with Dr. Okonkwo.", 0.5, 7),
        TTSStoppedFrame(),
        SleepFrame(0.9),
    ], audio


async def test_full_turn_is_recorded_with_content(store):
    messages = [
        {"role": "system", "content": "You are the clinic's receptionist."},
        {"role": "user", "content": "I need to see Dr. Okonkwo on Tuesday"},
    ]
    frames, audio = booking_turn_frames(messages)
    turns, output = await run_session(store, frames, processors=[StampCorrection()])
    assert len(turns) == 1
    t = turns[0]
    assert t["turn"] == 1 and t["trigger"] == "user"
    assert t["variant"] == "cascaded" and t["config_hash"] == "abc"
    user = t["user"]
    assert user["raw_transcript"] == "I need to see doctor o'conco on Tuesday"
    assert user["final_transcript"] == "I need to see Dr. Okonkwo on Tuesday"
    assert user["corrections"] == [{"raw": "doctor o'conco", "term": "Dr. Okonkwo", "score": 0.91}]
    expected_user = hashlib.sha256(b"".join(f.audio for f in audio)).hexdigest()
    assert user["audio"]["sha256"] == expected_user
    assert user["audio"]["bytes"] == sum(len(f.audio) for f in audio)

    assert (
        t["llm"]["inputs"][0]["messages_sha256"] == hashlib.sha256(canonical(messages)).hexdigest()
    )
    assert t["llm"]["inputs"][0]["message_count"] == 2
    assert t["llm"]["text"] == "You're booked with Dr. Okonkwo."

    (call,) = t["tool_calls"]
    assert call["name"] == "book_appointment" and call["tool_call_id"] == "call-7"
    assert call["arguments"] == {"doctor": "Dr. Okonkwo", "day": "Tuesday"}
    assert call["result"] == {"booking_id": "B-42"} and call["error"] is None

    bot = t["bot"]
    assert bot["status"] == "complete"
    assert bot["spoken_text"] == "You're booked with Dr. Okonkwo."
    assert bot["audio"]["sha256"] == hashlib.sha256(bytes(output.played)).hexdigest()
    # 0.5 s of 16-bit mono, the last 40 ms chunk padded by the transport.
    assert bot["audio"]["bytes"] == len(output.played) == 13 * 1280

    ts = t["timestamps"]
    order = [
        "user_started",
        "user_stopped",
        "transcript",
        "llm_input",
        "llm_started",
        "llm_first_text",
        "bot_started",
        "bot_stopped",
    ]
    assert all(stage in ts for stage in order), ts
    assert [ts[s] for s in order] == sorted(ts[s] for s in order)
    assert all(v.endswith("Z") and v.startswith("20") for v in ts.values())
    lat = t["latency_ms"]
    assert lat["voice_to_voice"] > 0 and lat["bot_speaking"] >= 400
    assert verify_chain(store.iter_records()).ok


async def test_voice_to_voice_runs_from_the_end_of_speech_not_the_turn_decision(store):
    """The end-of-turn wait is part of what the caller waits, however fast the reply."""
    from pipecat.frames.frames import VADUserStartedSpeakingFrame, VADUserStoppedSpeakingFrame

    messages = [{"role": "user", "content": "What time do you open?"}]
    frames = [
        VADUserStartedSpeakingFrame(),
        UserStartedSpeakingFrame(),
        *user_audio(10),
        VADUserStoppedSpeakingFrame(stop_secs=0.2),
        TranscriptionFrame("What time do you open?", "patient", "2026-01-01T10:00:00Z"),
        SleepFrame(0.4),  # the end-of-turn decision holds
        UserStoppedSpeakingFrame(),
        LLMContextFrame(LLMContext(messages=messages)),  # a reply ready at once
        LLMFullResponseStartFrame(),
        LLMTextFrame("We open at eight."),
        LLMFullResponseEndFrame(),
        TTSStartedFrame(),
        *tts_sentence("We open at eight.", 0.3, 4),
        TTSStoppedFrame(),
        SleepFrame(0.6),
    ]
    turns, _ = await run_session(store, frames)
    lat = turns[0]["latency_ms"]
    # speech ended 0.2 s before the VAD stop; the decision came 0.4 s after it
    assert lat["end_of_turn_wait"] >= 550
    assert lat["voice_to_voice"] >= lat["end_of_turn_wait"] + lat["after_turn_end"] - 1
    assert lat["voice_to_voice"] >= 550 and lat["stt_after_speech_end"] >= 150
    assert all(v >= 0 for k, v in lat.items() if k != "stt_after_user_stopped")


async def test_interrupted_turn_keeps_words_played_so_far(store):
    first = "Dr. Okonkwo has openings on Tuesday."
    second = "The first one is at nine in the morning and the last one is at four."
    frames = [
        UserStartedSpeakingFrame(),
        *user_audio(5),
        UserStoppedSpeakingFrame(),
        SleepFrame(0.05),
        TranscriptionFrame("when is doctor Okonkwo free", "patient", "t"),
        LLMFullResponseStartFrame(),
        LLMTextFrame(first + " "),
        LLMTextFrame(second),
        LLMFullResponseEndFrame(),
        TTSStartedFrame(),
        *tts_sentence(first, 0.6, 3),
        *tts_sentence(second, 1.0, 4),
        TTSStoppedFrame(),
        SleepFrame(1.1),  # first sentence played, second about half way
        UserStartedSpeakingFrame(),
        InterruptionFrame(),
        *user_audio(5),
        # As Pipecat's user aggregator orders them: the transcript, then the end of turn.
        TranscriptionFrame("sorry, Wednesday instead", "patient", "t"),
        UserStoppedSpeakingFrame(),
        SleepFrame(0.2),
    ]
    turns, _ = await run_session(store, frames)
    assert [t["turn"] for t in turns] == [1, 2]
    cut = turns[0]["bot"]
    assert cut["status"] == "interrupted"
    assert cut["interrupted_by"] == "user_started_speaking"
    assert cut["spoken_text"].startswith(first)
    heard = cut["cut_segment"]["heard_words"]
    n_words = len(second.split())
    assert 0 < heard < n_words, cut["cut_segment"]
    assert cut["spoken_text"] == f"{first} {' '.join(second.split()[:heard])}"
    assert cut["generated_text"] == f"{first} {second}"
    assert "interrupted" in turns[0]["timestamps"]
    nxt = turns[1]
    assert nxt["user"]["final_transcript"] == "sorry, Wednesday instead"
    # Nothing was generated for this turn. (Under heavy load a last word of the cut
    # sentence can still play before the interruption reaches the output; the observer
    # then files it here — a documented limit — so the status is not asserted.)
    assert nxt["bot"]["generated_text"] == ""


async def test_bot_greeting_errors_and_images(store):
    image = bytes(range(256)) * 12
    frames = [
        LLMFullResponseStartFrame(),
        LLMTextFrame("Hello, this is the clinic."),
        LLMFullResponseEndFrame(),
        TTSStartedFrame(),
        *tts_sentence("Hello, this is the clinic.", 0.3, 2),
        TTSStoppedFrame(),
        SleepFrame(0.7),
        UserStartedSpeakingFrame(),
        UserImageRawFrame(image=image, size=(32, 32), format="RGB"),
        UserStoppedSpeakingFrame(),
        SleepFrame(0.05),
        TranscriptionFrame("here is my insurance card", "patient", "t"),
        ErrorFrame("LLM timed out"),
        SleepFrame(0.1),
    ]
    turns, _ = await run_session(store, frames)
    greet, user = turns
    assert greet["trigger"] == "bot" and greet["user"] is None
    assert greet["bot"]["status"] == "complete"
    assert greet["bot"]["spoken_text"] == "Hello, this is the clinic."
    (img,) = user["images"]
    assert img == {
        "sha256": hashlib.sha256(image).hexdigest(),
        "bytes": len(image),
        "size": [32, 32],
        "format": "RGB",
        "at": img["at"],
    }
    assert "image" not in json.dumps(user).replace('"images"', "")  # no bytes, just the digest
    assert user["errors"][0]["error"] == "LLM timed out"


async def test_unplayed_text_is_not_counted_as_spoken(store):
    """Without a transport that played it, nothing counts as spoken."""
    frames = [
        UserStartedSpeakingFrame(),
        UserStoppedSpeakingFrame(),
        SleepFrame(0.05),
        TranscriptionFrame("hello", "patient", "t"),
        LLMFullResponseStartFrame(),
        LLMTextFrame("Hi there."),
        LLMFullResponseEndFrame(),
        TTSStartedFrame(),
        *tts_sentence("Hi there.", 0.2, 1),
        TTSStoppedFrame(),
        SleepFrame(0.5),
    ]
    turns, _ = await run_session(store, frames, played_by=lambda p: False)
    (t,) = turns
    assert t["llm"]["text"] == "Hi there."
    assert t["bot"]["spoken_text"] == "" and t["bot"]["audio"] is None


async def test_transcripts_never_reach_the_logs_even_when_writes_fail(tmp_path):
    """A store outage and a dropped record are logged, with ids and counts, never text."""
    import sqlite3

    from pipecat.pipeline.pipeline import Pipeline

    path = tmp_path / "audit.db"
    store = SQLiteAuditStore(path, busy_timeout_ms=20)
    lines: list[str] = []
    ours = ("audit", "observers")  # Pipecat's own TRACE frame logging is the pipeline's concern
    sink = logger.add(
        lambda m: lines.append(str(m)), level="TRACE", filter=lambda r: r["name"].startswith(ours)
    )
    try:
        recorder = AuditRecorder(
            store,
            session_id="call-log",
            variant="v",
            config_hash="h",
            max_queue=2,
            retry_initial_secs=0.01,
            retry_max_secs=0.05,
        )
        await recorder.start()
        blocker = sqlite3.connect(path, isolation_level=None)
        blocker.execute("BEGIN EXCLUSIVE")
        observer = AuditObserver(recorder=recorder)
        frames, _ = booking_turn_frames([{"role": "user", "content": "x"}])
        second = [
            UserStartedSpeakingFrame(),
            UserStoppedSpeakingFrame(),
            SleepFrame(0.05),
            TranscriptionFrame("call me on 555-123-4567 at doctor o'conco", "patient", "t"),
            SleepFrame(0.05),
            UserStartedSpeakingFrame(),
            SleepFrame(0.05),
        ]
        pipeline = Pipeline([StampCorrection(), PacedOutput()])
        await run_test(pipeline, frames_to_send=[*frames, *second], observers=[observer])
        blocker.execute("ROLLBACK")
        blocker.close()
        observer.flush()
        await recorder.close()
    finally:
        logger.remove(sink)
    kinds = [r.kind for r in store.iter_records()]
    assert "gap" in kinds and recorder.dropped_total >= 1
    joined = "\n".join(lines)
    assert "store write failed" in joined and "dropped turn record" in joined
    for secret in ("o'conco", "Okonkwo", "Tuesday", "555-123-4567"):
        assert secret not in joined
    store.close()


async def test_keep_audio_saves_turn_audio(store, tmp_path):
    from audit.audio import wav_pcm_sha256

    recorder = AuditRecorder(
        store, session_id="call-a", variant="v", config_hash="h", audio_dir=tmp_path / "audio"
    )
    await recorder.start()
    observer = AuditObserver(recorder=recorder, keep_audio=True)
    frames, _ = booking_turn_frames([{"role": "user", "content": "x"}])
    from pipecat.pipeline.pipeline import Pipeline

    await run_test(Pipeline([PacedOutput()]), frames_to_send=frames, observers=[observer])
    await recorder.close()
    (t,) = [r.body for r in store.iter_records("call-a", kinds=["turn"])]
    from pathlib import Path

    assert wav_pcm_sha256(Path(t["audio_files"]["user"])) == t["user"]["audio"]["sha256"]
    assert wav_pcm_sha256(Path(t["audio_files"]["bot"])) == t["bot"]["audio"]["sha256"]


async def test_real_context_aggregators_drive_one_turn(store):
    """VAD and transcript into Pipecat's own aggregators, which emit the turn frames."""
    from pipecat.frames.frames import VADUserStartedSpeakingFrame, VADUserStoppedSpeakingFrame
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.processors.aggregators.llm_response_universal import LLMContextAggregatorPair

    context = LLMContext(messages=[{"role": "system", "content": "You are the receptionist."}])
    pair = LLMContextAggregatorPair(context)
    silence = [
        InputAudioRawFrame(audio=tone(0.02, 0), sample_rate=RATE, num_channels=1) for _ in range(30)
    ]
    speech = user_audio(25)
    frames = [
        *silence,
        VADUserStartedSpeakingFrame(start_secs=0.2),
        *speech,
        TranscriptionFrame("is doctor Okonkwo in today", "patient", "t"),
        VADUserStoppedSpeakingFrame(stop_secs=0.2),
        SleepFrame(0.5),
        LLMFullResponseStartFrame(),
        LLMTextFrame("Yes, until five."),
        LLMFullResponseEndFrame(),
        TTSStartedFrame(),
        *tts_sentence("Yes, until five.", 0.3, 5),
        TTSStoppedFrame(),
        SleepFrame(0.7),
    ]
    recorder = AuditRecorder(store, session_id="agg", variant="cascaded", config_hash="abc")
    await recorder.start()
    observer = AuditObserver(recorder=recorder)
    await run_test(
        Pipeline([pair.user(), PacedOutput(), pair.assistant()]),
        frames_to_send=frames,
        observers=[observer],
    )
    await recorder.close()
    turns = [r.body for r in store.iter_records("agg", kinds=["turn"])]
    assert len(turns) == 1, [t["trigger"] for t in turns]
    (t,) = turns
    assert t["user"]["final_transcript"] == "is doctor Okonkwo in today"
    # The user's audio: the 0.2 s the VAD needed to decide, then the speech.
    expected = b"".join(f.audio for f in silence[-10:]) + b"".join(f.audio for f in speech)
    assert t["user"]["audio"]["sha256"] == hashlib.sha256(expected).hexdigest()
    (llm_input,) = t["llm"]["inputs"]
    sent = [
        {"role": "system", "content": "You are the receptionist."},
        {"role": "user", "content": "is doctor Okonkwo in today"},
    ]
    assert llm_input["messages_sha256"] == hashlib.sha256(canonical(sent)).hexdigest()
    assert t["bot"]["spoken_text"] == "Yes, until five." and t["bot"]["status"] == "complete"
    for stage in ("speech_started", "user_started", "user_stopped", "bot_started", "bot_stopped"):
        assert stage in t["timestamps"]
