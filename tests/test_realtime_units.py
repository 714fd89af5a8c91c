"""The offline Realtime server's pure rules: protocol validation, turn detection, timings."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pipecat.adapters.llm.services.open_ai_realtime_adapter import OpenAIRealtimeLLMAdapter
from pipecat.processors.aggregators.llm_context import LLMContext

from clinic.wording.phrases import sentences
from realtime.protocol import (
    ProtocolError,
    apply_session_update,
    check_item,
    default_session,
    heard_transcript,
    known_model,
    messages_for_brain,
    parse_client_event,
    unpack_saved_conversation,
    word_timings,
)
from realtime.turns import WINDOW_MS, TurnDetector

# --- client events ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("nope", "invalid_json"),
        ("[]", "invalid_json"),
        (b"\xff\xfe", "invalid_json"),
        ("{}", "missing_required_parameter"),
        ('{"type": 3}', "missing_required_parameter"),
        ('{"type": "session.create"}', "unknown_event_type"),
    ],
)
def test_bad_client_events_are_refused_with_a_code(raw, code):
    with pytest.raises(ProtocolError) as refused:
        parse_client_event(raw)
    assert refused.value.code == code


def test_refusal_carries_the_client_event_id():
    with pytest.raises(ProtocolError) as refused:
        parse_client_event('{"type": "bogus", "event_id": "evt_7"}')
    assert refused.value.event_id == "evt_7" and refused.value.param == "type"


def test_known_models():
    assert known_model("gpt-realtime")
    assert known_model("gpt-4o-realtime-preview-2024-12-17")
    assert known_model("gpt-realtime-2.1")
    assert not known_model("gpt-4o")
    assert not known_model("gpt-realtime-x")
    assert known_model("my-model", extra=("my-model",))


# --- session.update ---------------------------------------------------------------------------


def test_session_update_merges_and_validates():
    session = default_session("gpt-realtime")
    event = {"type": "session.update"}
    updated = apply_session_update(
        session,
        {
            "type": "realtime",
            "model": "gpt-realtime",
            "instructions": "Be brief.",
            "audio": {
                "input": {
                    "format": {"type": "audio/pcm", "rate": 24000},
                    "transcription": {"model": "whisper-1"},
                    "turn_detection": {"type": "server_vad", "silence_duration_ms": 800},
                },
                "output": {"voice": "marin"},
            },
        },
        event,
    )
    assert updated["instructions"] == "Be brief."
    assert updated["audio"]["output"]["voice"] == "marin"
    td = updated["audio"]["input"]["turn_detection"]
    assert td["silence_duration_ms"] == 800 and td["threshold"] == 0.5  # untouched default kept
    assert updated["audio"]["input"]["transcription"]["model"] == "whisper-1"
    assert session["instructions"] == ""  # the input is not changed


@pytest.mark.parametrize(
    ("update", "code", "param"),
    [
        ({"audio": {"output": {"voice": "zeus"}}}, "invalid_value", "session.audio.output.voice"),
        ({"model": "gpt-9"}, "model_not_found", "session.model"),
        ({"model": "gpt-realtime-mini"}, "invalid_value", "session.model"),
        (
            {"audio": {"input": {"format": {"type": "audio/pcm", "rate": 16000}}}},
            "invalid_value",
            None,
        ),
        ({"audio": {"input": {"turn_detection": {"type": "magic"}}}}, "invalid_value", None),
        ({"audio": {"input": {"turn_detection": {"threshold": 1.5}}}}, "invalid_value", None),
        ({"audio": {"input": {"transcription": {"model": "x"}}}}, "invalid_value", None),
        ({"output_modalities": ["audio", "text"]}, "invalid_value", None),
        ({"tools": [{"type": "function"}]}, "invalid_value", None),
        ({"temperature": 0.2}, "unknown_parameter", "session.temperature"),
    ],
)
def test_session_update_refusals(update, code, param):
    session = default_session("gpt-realtime")
    with pytest.raises(ProtocolError) as refused:
        apply_session_update(session, update, {"event_id": "e1"})
    assert refused.value.code == code
    assert refused.value.event_id == "e1"
    if param:
        assert refused.value.param == param


def test_turn_detection_can_switch_and_turn_off():
    session = default_session("gpt-realtime")
    semantic = apply_session_update(
        session, {"audio": {"input": {"turn_detection": {"type": "semantic_vad"}}}}, {}
    )
    assert semantic["audio"]["input"]["turn_detection"] == {
        "type": "semantic_vad",
        "eagerness": "auto",
        "create_response": True,
        "interrupt_response": True,
    }
    off = apply_session_update(semantic, {"audio": {"input": {"turn_detection": None}}}, {})
    assert off["audio"]["input"]["turn_detection"] is None


# --- conversation items -----------------------------------------------------------------------


def test_function_call_output_needs_a_known_call():
    item = {"type": "function_call_output", "call_id": "c1", "output": "{}"}
    assert check_item(item, {}, {"c1"})["call_id"] == "c1"
    with pytest.raises(ProtocolError, match="no function_call"):
        check_item(item, {}, set())


def test_message_content_types_follow_the_role():
    user = {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "hi"}]}
    assert check_item(user, {}, set())["content"] == [{"type": "input_text", "text": "hi"}]
    bad = {"type": "message", "role": "user", "content": [{"type": "output_audio"}]}
    with pytest.raises(ProtocolError):
        check_item(bad, {}, set())
    with pytest.raises(ProtocolError):
        check_item({"type": "message", "role": "user", "content": []}, {}, set())


def test_history_packed_by_pipecat_is_unpacked_for_the_brain():
    context = LLMContext(
        messages=[
            {"role": "assistant", "content": "Hi, this is Echo."},
            {"role": "user", "content": "Book Doctor Patel."},
        ]
    )
    adapter = OpenAIRealtimeLLMAdapter()
    [packed] = adapter._from_universal_context_messages(adapter.get_messages(context)).messages
    item = {"type": "message", "role": "user", "content": [packed.content[0].model_dump()]}
    assert unpack_saved_conversation(packed.content[0].text) is not None
    messages = messages_for_brain("Sys.", [item])
    assert messages == [
        {"role": "system", "content": "Sys."},
        {"role": "assistant", "content": "Hi, this is Echo."},
        {"role": "user", "content": "Book Doctor Patel."},
    ]


def test_tool_calls_become_chat_messages():
    items = [
        {"type": "function_call", "call_id": "c9", "name": "book_appointment", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c9", "output": json.dumps({"ok": True})},
    ]
    call, result = messages_for_brain("", items)
    assert call["tool_calls"][0]["id"] == "c9" and result["tool_call_id"] == "c9"


# --- spoken output timings --------------------------------------------------------------------


def test_replies_are_spoken_sentence_by_sentence():
    assert sentences("Hi there. How are you?  Fine!") == ["Hi there.", "How are you?", "Fine!"]
    assert sentences("  ") == []


def test_word_timings_spread_over_the_audio():
    words = word_timings("one two three", 1000, 1300, first=True)
    assert [w.text for w in words] == ["one", " two", " three"]
    # Each word gets audio in proportion to its length plus a space: 4/14, 4/14, 6/14.
    assert [w.start_ms for w in words] == [1000, 1000 + 1300 * 4 // 14, 1000 + 1300 * 8 // 14]
    assert heard_transcript(words, 1000) == ""
    assert heard_transcript(words, 1001) == "one"
    assert heard_transcript(words, 1500) == "one two"
    assert heard_transcript(words, 99999) == "one two three"


@given(
    st.lists(st.text(alphabet="abcdefgh", min_size=1, max_size=8), min_size=1, max_size=20),
    st.integers(min_value=0, max_value=20000),
    st.integers(min_value=1, max_value=10000),
)
def test_heard_transcript_is_always_a_word_prefix(words, end_ms, duration):
    sentence = " ".join(words)
    timings = word_timings(sentence, 0, duration, first=True)
    heard = heard_transcript(timings, end_ms)
    assert sentence.startswith(heard)
    assert heard == "" or heard == sentence or sentence[len(heard)] == " "


# --- turn detection ---------------------------------------------------------------------------


def feed(detector: TurnDetector, confidences):
    return [(i, e.kind, e.at_ms) for i, c in enumerate(confidences) if (e := detector.push(c))]


def test_speech_start_and_stop_in_audio_time():
    d = TurnDetector(threshold=0.5, silence_ms=500, start_ms=64)
    silence_windows = int(500 / WINDOW_MS) + 1
    events = feed(d, [0.0] * 10 + [0.9] * 30 + [0.1] * silence_windows)
    (i1, k1, start), (i2, k2, stop) = events
    assert (k1, k2) == ("start", "stop")
    assert start == round(10 * WINDOW_MS)  # the first speech window, not the confirmation
    assert stop == round(40 * WINDOW_MS)  # the end of the last speech window
    assert i2 - 39 >= 500 / WINDOW_MS  # decided only after the silence


def test_clicks_and_short_pauses_do_not_make_turns():
    d = TurnDetector(threshold=0.5, silence_ms=500)
    assert feed(d, [0.0, 0.9, 0.0, 0.0, 0.9, 0.0]) == []  # single windows: clicks
    d = TurnDetector(threshold=0.5, silence_ms=500)
    pause = [0.1] * 5  # 160 ms
    events = feed(d, [0.9] * 10 + pause + [0.9] * 10 + [0.0] * 20)
    assert [k for _, k, _ in events] == ["start", "stop"]


def test_threshold_is_inclusive_and_reset_forgets_speech():
    d = TurnDetector(threshold=0.5, silence_ms=100)
    assert [k for _, k, _ in feed(d, [0.5, 0.5, 0.5])] == ["start"]
    d.reset()
    assert not d.speaking
    assert feed(d, [0.0] * 10) == []
