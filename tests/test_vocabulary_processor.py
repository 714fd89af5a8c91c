"""VocabularyCorrectionProcessor through Pipecat's run_test."""

from __future__ import annotations

from pipecat.frames.frames import InterimTranscriptionFrame, TextFrame, TranscriptionFrame
from pipecat.tests.utils import run_test

from processors.vocabulary_correction import (
    CORRECTIONS_KEY,
    RAW_TEXT_KEY,
    VocabularyCorrectionProcessor,
)


async def test_corrects_transcription_in_place_with_audit_record(lexicon):
    frame = TranscriptionFrame(
        "Can you refill my met for men prescription?", "caller-7", "2025-01-01T10:00:00Z"
    )
    frame_id = frame.id
    down, up = await run_test(
        VocabularyCorrectionProcessor(lexicon=lexicon),
        frames_to_send=[frame],
        expected_down_frames=[TranscriptionFrame],
    )
    [out] = down
    assert out.id == frame_id  # the same frame, edited in place
    assert out.text == "Can you refill my metformin prescription?"
    assert out.user_id == "caller-7"
    assert out.timestamp == "2025-01-01T10:00:00Z"
    assert out.metadata[RAW_TEXT_KEY] == "Can you refill my met for men prescription?"
    [record] = out.metadata[CORRECTIONS_KEY]
    assert record["raw"] == "met for men"
    assert record["replacement"] == "metformin"
    assert record["term"] == "metformin"
    assert record["category"] == "medication"
    assert record["score"] > 0.74
    assert "refill" in record["reason"]
    assert up == []


async def test_ordinary_speech_passes_unchanged_with_empty_record(lexicon):
    frame = TranscriptionFrame("My aunt is coming with me to the visit.", "u", "t")
    down, _ = await run_test(
        VocabularyCorrectionProcessor(lexicon=lexicon),
        frames_to_send=[frame],
        expected_down_frames=[TranscriptionFrame],
    )
    assert down[0].text == "My aunt is coming with me to the visit."
    assert down[0].metadata[RAW_TEXT_KEY] == "My aunt is coming with me to the visit."
    assert down[0].metadata[CORRECTIONS_KEY] == []


async def test_other_frames_pass_through_untouched_and_in_order(lexicon):
    interim = InterimTranscriptionFrame("refill my met for", "u", "t")
    text = TextFrame("Doctor Petal")
    final = TranscriptionFrame("Is Doctor Petal in today?", "u", "t")
    down, _ = await run_test(
        VocabularyCorrectionProcessor(lexicon=lexicon),
        frames_to_send=[interim, text, final],
        expected_down_frames=[InterimTranscriptionFrame, TextFrame, TranscriptionFrame],
    )
    assert down[0].text == "refill my met for"
    assert RAW_TEXT_KEY not in down[0].metadata
    assert down[1].text == "Doctor Petal"
    assert down[2].text == "Is Doctor Patel in today?"


async def test_already_corrected_frame_is_not_corrected_twice(lexicon):
    frame = TranscriptionFrame("Is Doctor Petal in today?", "u", "t")
    frame.metadata[RAW_TEXT_KEY] = "Is Doctor Petal in today?"
    down, _ = await run_test(
        VocabularyCorrectionProcessor(lexicon=lexicon),
        frames_to_send=[frame],
        expected_down_frames=[TranscriptionFrame],
    )
    assert down[0].text == "Is Doctor Petal in today?"
    assert CORRECTIONS_KEY not in down[0].metadata


async def test_threshold_is_applied(lexicon):
    frame = TranscriptionFrame("Do I need to keep taking lost art in?", "u", "t")
    down, _ = await run_test(
        VocabularyCorrectionProcessor(lexicon=lexicon, threshold=1.5),
        frames_to_send=[frame],
        expected_down_frames=[TranscriptionFrame],
    )
    assert down[0].text == "Do I need to keep taking lost art in?"
    assert down[0].metadata[CORRECTIONS_KEY] == []
