"""Frustration cues: audio measures against the caller's own baseline, text cues, the
processor's metadata, and the brain's answer to a frustrated caller. Audio is synthesized
tones (known pitch and level); sentences are in no evaluation set."""

from datetime import date

import numpy as np
import pytest
from pipecat.frames.frames import InputAudioRawFrame, TranscriptionFrame
from pipecat.tests.utils import run_test

from clinic.dialogue.actions import Say
from clinic.dialogue.brain import ClinicBrain
from processors.caller_cues import CUES_KEY, CallerCuesProcessor, judge, measure, pitch_hz
from processors.filler import needs_filler

RATE = 16000


def voice(f0: float, level: float, seconds: float = 1.5) -> np.ndarray:
    """A buzzy periodic 'voice' at f0 with harmonics, between two bits of quiet."""
    t = np.arange(int(RATE * seconds)) / RATE
    tone = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 5))
    tone = level * tone / np.abs(tone).max()
    quiet = np.random.default_rng(0).normal(0, 0.001, RATE // 2)
    return np.concatenate([quiet, tone, quiet]).astype(np.float32)


def test_pitch_of_a_periodic_frame():
    frame = voice(140.0, 0.3)[RATE // 2 : RATE // 2 + 640]
    assert abs(pitch_hz(frame, RATE) - 140.0) < 6


def test_measure_gives_loudness_pitch_and_rate():
    m = measure(voice(180.0, 0.25), RATE, words=6)
    assert -20 < m["loudness_db"] < -8 and abs(m["pitch_hz"] - 180) < 8
    assert 3.0 < m["rate_wps"] < 5.0  # 6 words over ~1.5 voiced seconds


def test_a_raised_voice_counts_only_with_negative_words():
    calm = [measure(voice(120.0, 0.05), RATE, 6) for _ in range(3)]
    shout = measure(voice(170.0, 0.5), RATE, 6)
    loud_only = judge(shout, calm, negativity=0.0, repeated=False)
    assert loud_only["raised_voice"] and not loud_only["frustrated"]
    assert judge(shout, calm, negativity=0.3, repeated=False)["frustrated"]
    assert not judge(measure(voice(125.0, 0.06), RATE, 6), calm, negativity=0.3, repeated=False)[
        "raised_voice"
    ]


def test_text_cues_alone():
    assert judge(None, [], negativity=0.7, repeated=False)["frustrated"]
    assert judge(None, [], negativity=0.0, repeated=True)["frustrated"]
    assert not judge(None, [], negativity=0.1, repeated=False)["frustrated"]


async def test_processor_adds_cues_and_tells_the_listener():
    heard = []
    pcm = (voice(150.0, 0.2) * 32767).astype(np.int16).tobytes()
    audio = [
        InputAudioRawFrame(audio=pcm[i : i + 640], sample_rate=RATE, num_channels=1)
        for i in range(0, len(pcm), 640)
    ]
    text = "this is the third time I have asked you for my appointment"
    first = TranscriptionFrame(text=text, user_id="u", timestamp="t")
    again = TranscriptionFrame(text=text, user_id="u", timestamp="t")
    down, _ = await run_test(
        CallerCuesProcessor(on_cues=lambda t, cues: heard.append((t, cues))),
        frames_to_send=[*audio, first, again],
        expected_down_frames=[InputAudioRawFrame] * len(audio) + [TranscriptionFrame] * 2,
    )
    cues = [f.metadata[CUES_KEY] for f in down if isinstance(f, TranscriptionFrame)]
    assert cues[0]["pitch_hz"] > 0 and not cues[0]["repeated"]
    assert cues[1]["repeated"] and cues[1]["frustrated"]
    assert [t for t, _ in heard] == [text, text]


def test_the_brain_acknowledges_a_frustrated_caller():
    brain = ClinicBrain(
        provider_names=["Dr. Patel"], specialties=["cardiology"], today=date(2025, 12, 1)
    )
    said = "I keep telling you the same thing over and over"
    brain.note_cue(said, {"frustrated": True})
    reply = brain.next_action(
        [{"role": "assistant", "content": "Hi."}, {"role": "user", "content": said}]
    )
    assert (
        isinstance(reply, Say) and "sorry" in reply.text.lower() and "call you back" in reply.text
    )


@pytest.mark.parametrize(
    ("names", "slow", "expected"),
    [
        (["find_provider"], frozenset({"read_image"}), False),
        (["read_image"], frozenset({"read_image"}), True),
        (["find_provider"], None, True),
        ([], None, False),
    ],
)
def test_filler_only_for_slow_calls(names, slow, expected):
    assert needs_filler(names, slow) is expected
