"""Local Piper TTS: first-clause split, phrase cache, fixed-phrase warm-up (real Piper voice)."""

import threading
import time

import numpy as np
import pytest
from pipecat.frames.frames import TTSAudioRawFrame, TTSSpeakFrame
from pipecat.tests.utils import SleepFrame, run_test

from clinic.wording.phrases import GREETING, fixed_phrases
from providers.local import (
    LocalModels,
    LocalPiperTTSService,
    PhraseCache,
    trim_silence,
)
from providers.phrasing import speakable, split_first_clause


def test_split_first_clause():
    assert split_first_clause("Doctor Patel has openings today, at 9 AM and 2 PM.") == [
        "Doctor Patel has openings today,",
        "at 9 AM and 2 PM.",
    ]
    # too short a head or tail: left whole
    assert split_first_clause("Yes, please book it.") == ["Yes, please book it."]
    assert split_first_clause("Okay, thanks.") == ["Okay, thanks."]
    assert split_first_clause("What time is it?") == ["What time is it?"]
    # the first usable boundary, a colon or dash counts; the words are all kept
    text = "Great, which one: Tuesday at 9 AM, or Friday at noon?"
    pieces = split_first_clause(text)
    assert pieces == ["Great, which one:", "Tuesday at 9 AM, or Friday at noon?"]
    assert " ".join(pieces) == text
    assert split_first_clause("One thing - it is at the main clinic today.") == [
        "One thing -",
        "it is at the main clinic today.",
    ]


def test_a_long_first_clause_is_cut_at_a_phrase_start():
    # sentences in no bench or test set: the caller waits for a 3-5 word piece, not the clause
    assert split_first_clause("Your prescription was renewed for another ninety days.") == [
        "Your prescription was renewed",
        "for another ninety days.",
    ]
    text = "We moved the physiotherapy session to Thursday, right after lunch."
    assert split_first_clause(text) == [
        "We moved the physiotherapy session to Thursday,",
        "right after lunch.",
    ]
    text = "Your physiotherapy session starts at noon on Thursday, right after lunch."
    assert split_first_clause(text) == [
        "Your physiotherapy session starts at noon",
        "on Thursday, right after lunch.",
    ]
    # a name is never split from its title; no phrase start, no cut; short tails stay
    assert split_first_clause("Doctor Abernathy Winslow Kowalczyk sees children only.") == [
        "Doctor Abernathy Winslow Kowalczyk sees children only."
    ]
    assert split_first_clause("Please arrive fifteen minutes early for paperwork.") == [
        "Please arrive fifteen minutes early for paperwork."
    ]
    assert split_first_clause("The lab results usually come back within two days.") == [
        "The lab results usually come back within two days."
    ]
    # "to" starts a phrase before a verb, not inside a range of days
    assert split_first_clause("I will ask the pharmacist to call you this evening.") == [
        "I will ask the pharmacist",
        "to call you this evening.",
    ]
    assert split_first_clause("Walk-ins run Tuesday to Saturday most weeks.") == [
        "Walk-ins run Tuesday to Saturday most weeks."
    ]
    for text in ("Your prescription was renewed for another ninety days.",):
        assert " ".join(split_first_clause(text)) == text


def test_a_piece_cut_mid_sentence_is_spoken_as_a_phrase_that_goes_on():
    assert speakable("Your prescription was renewed") == "Your prescription was renewed,"
    assert speakable("for another ninety days.") == "for another ninety days."
    assert speakable("Great, which one:") == "Great, which one:"


def test_trim_silence_keeps_the_speech_and_a_little_silence():
    rate = 22050
    tone = (3000 * np.sin(np.arange(int(rate * 0.3)) * 0.2)).astype(np.int16)
    pcm = np.concatenate(
        [np.zeros(int(rate * 0.06), np.int16), tone, np.zeros(rate // 4, np.int16)]
    )
    out = np.frombuffer(trim_silence(pcm.tobytes(), rate), np.int16)
    first = int(np.flatnonzero(np.abs(out) > 100)[0])
    assert abs(first - rate * 0.01) <= 2  # 10 ms kept before the speech
    assert abs(len(out) - int(rate * 0.46)) <= 3  # 10 ms + 300 ms + 150 ms
    assert trim_silence(bytes(400), rate) == bytes(400)  # all silence: left alone


def test_phrase_cache_is_a_bounded_lru():
    cache = PhraseCache(max_entries=2, max_chars=20)
    cache.put("Okay.", b"\x01\x00")
    cache.put("Sure.", b"\x02\x00")
    assert cache.get("  Okay. ") == b"\x01\x00"  # whitespace-insensitive; Okay is now recent
    cache.put("Hi!", b"\x03\x00")  # evicts Sure., the least recently used
    assert cache.get("Sure.") is None and cache.get("Hi!") == b"\x03\x00"
    cache.put("This sentence is much too long to cache.", b"\x04\x00")
    assert len(cache) == 2
    assert (cache.hits, cache.misses) == (2, 1)


def test_fixed_phrases_are_whole_sentences_from_the_brain():
    phrases = fixed_phrases()
    assert "Is there anything else I can help with?" in phrases
    assert "Hi, this is Echo, the clinic's appointment line." in phrases
    assert all(p in GREETING for p in phrases if "Echo" in p)
    assert all(p[0].isupper() and p[-1] in ".?!" for p in phrases)
    assert not any("{" in p for p in phrases)


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    from config import EchoSettings

    return LocalModels(EchoSettings(data_dir=tmp_path_factory.mktemp("tts")))


async def speak(models, text: str, *, split: bool = True) -> bytes:
    tts = LocalPiperTTSService(
        voice=models.piper(), voice_name="joe", phrases=models.phrases, split_clauses=split
    )
    down, _ = await run_test(tts, frames_to_send=[TTSSpeakFrame(text), SleepFrame(0.5)])
    return b"".join(f.audio for f in down if isinstance(f, TTSAudioRawFrame))


async def test_cached_phrase_plays_the_same_audio(models):
    text = "Okay, your appointment stays as it is."
    before = models.phrases.hits
    first = await speak(models, text)
    second = await speak(models, text)
    assert models.phrases.hits > before
    assert first == second
    samples = np.frombuffer(first, np.int16)
    assert np.abs(samples).max() > 2000
    # Piper's ~50 ms of leading silence is cut to 10 ms (+ the output resampler's few ms)
    assert np.flatnonzero(np.abs(samples) > 100)[0] < 24000 * 0.025


async def test_split_sentence_keeps_every_word_audible(models):
    text = "Doctor Patel has openings on Tuesday, at nine and at two in the afternoon."
    whole = np.frombuffer(await speak(models, text, split=False), np.int16)
    split = np.frombuffer(await speak(models, text), np.int16)
    # both halves are spoken: as long as the whole sentence, give or take the clause pause
    assert abs(len(split) - len(whole)) / len(whole) < 0.25
    assert np.abs(split).max() > 2000


def test_warm_phrases_fills_the_cache(models):
    count = models.warm_phrases(["Sure, what can I do for you?", "Okay."])
    assert count >= 2
    assert models.phrases.get("Sure, what can I do for you?") is not None


def test_warm_phrases_wait_while_a_call_is_live_and_stop_when_told(models):
    phrases = ["Your visit is confirmed for the morning.", "Please hold the line."]
    live, stop = threading.Event(), threading.Event()
    live.set()
    done = []
    worker = threading.Thread(
        target=lambda: done.append(
            models.warm_phrases(phrases, stop=stop, pause=live.is_set, poll_secs=0.01)
        )
    )
    worker.start()
    time.sleep(0.5)
    # Nothing is synthesized while a call is live: Piper would take its CPU.
    pieces = [piece for p in phrases for piece in split_first_clause(p)]
    assert worker.is_alive() and all(models.phrases.get(p) is None for p in pieces)
    live.clear()
    worker.join(timeout=60)
    assert done and all(models.phrases.get(p) is not None for p in pieces)

    # Told to stop while paused: returns at once, synthesizes nothing more.
    live.set()
    stop.set()
    started = time.monotonic()
    models.warm_phrases(["One more phrase to say."], stop=stop, pause=live.is_set)
    assert time.monotonic() - started < 1.0
    assert models.phrases.get("One more phrase to say.") is None
