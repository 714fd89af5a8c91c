"""Guards against invented terms: ambiguity, name slots, and the biased pass's audio check.

The corrector tests are pure text; the rescoring tests decode real Piper audio with the
bundled tiny.en model (marked slow).
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from config import DEFAULT_VOCABULARY, PROJECT_DIR
from speech.biasing import _heard_span
from vocabulary import Lexicon, correct
from vocabulary.evaluation import load_wav


@pytest.fixture(scope="module")
def clinic() -> Lexicon:
    return Lexicon.load(DEFAULT_VOCABULARY)


# --- corrector ----------------------------------------------------------------------------


def test_two_equally_close_names_leave_the_words_as_heard():
    both = Lexicon.from_dict({"providers": ["Dr. Hansen", "Dr. Hanson"]})
    one = Lexicon.from_dict({"providers": ["Dr. Hansen"]})
    for text in ("Can I see Dr. Hanzon today?", "Can I see Dr. Hensen today?"):
        assert correct(text, both).text == text
        assert correct(text, one).text == text.replace(text.split()[4], "Hansen")


def test_only_a_name_is_put_right_after_a_title(clinic):
    # "Madar" sounds a little like amiodarone, but a drug does not follow "Dr.".
    text = "I need to reschedule my visit with Dr. Madar Chariya."
    result = correct(text, clinic)
    assert all(change.category == "provider" for change in result.changes)
    assert "amiodarone" not in result.text


def test_seed_cases_still_hold(clinic):
    assert correct("Can you refill my met for men prescription?", clinic).text == (
        "Can you refill my metformin prescription?"
    )
    assert correct("I need a referral to aunt.", clinic).text == "I need a referral to ENT."
    assert correct("Can I see Dr. Kowal chick tomorrow?", clinic).text == (
        "Can I see Dr. Kowalczyk tomorrow?"
    )
    for text in ("My aunt is coming with me.", "I met four men in the waiting room."):
        assert correct(text, clinic).text == text


@pytest.mark.parametrize(
    "text",
    [
        "My cousin and I are driving in from the lake.",
        "Could you spell your last name for me?",
        "We ran out of time at the last visit.",
        "My uncle Martin had a heart attack last year.",
        "The doctor said to take it easy.",
        "Can I see the doctor this week?",
        # the person of a specialty is not the specialty misheard
        "Do you have a dermatologist available next week?",
        "I need a neurologist and a urologist.",
        "My son needs a pediatrician.",
        "Can I see an orthopedist?",
    ],
)
def test_ordinary_sentences_untouched_with_either_vocabulary(clinic, large, text):
    for lexicon in (clinic, large):
        result = correct(text, lexicon)
        assert result.text == text, result.changes
        assert result.changes == []


# --- aligning the two passes --------------------------------------------------------------


@pytest.mark.parametrize(
    ("first", "raw", "term", "heard"),
    [
        (
            "Can I see Dr. Kolsky this week?",
            "Can I see Dr. Kowalski this week?",
            "Kowalski",
            "Kolsky",
        ),
        (
            "I take map from in every day.",
            "I take metformin every day.",
            "metformin",
            "map from in",
        ),
        ("Is Dr. Ferre here?", "Is Dr. Ferreira here?", "Ferreira", "Ferre"),
        ("I need an MRI.", "I need an MRI scan.", "scan", ""),
    ],
)
def test_heard_span_finds_the_first_pass_words(first, raw, term, heard):
    start = raw.index(term)
    a, b = _heard_span(first, raw, start, start + len(term))
    assert first[a:b] == heard


# --- the biased pass's term is checked against the audio ---------------------------------


@pytest.fixture(scope="module")
def spoken(tmp_path_factory):
    root = tmp_path_factory.mktemp("gating_audio")
    tsv = root / "u.tsv"
    tsv.write_text(
        "id\ttext\tterms\n"
        "aunt\tMy aunt is coming with me to the visit.\t\n"
        "patel\tCan I see Doctor Patel this week?\tDr. Patel\n"
    )
    subprocess.run(
        [
            sys.executable,
            str(PROJECT_DIR / "scripts" / "synth_utterances.py"),
            "--utterances",
            str(tsv),
            "--out",
            str(root),
            "--pace",
            "1.0",
            "1.0",
            "--no-noise",
        ],
        check=True,
        capture_output=True,
    )
    return root


@pytest.fixture(scope="module")
def transcriber(clinic):
    from models import whisper_model_dir
    from speech.transcriber import Transcriber

    return Transcriber(whisper_model_dir("tiny.en"), pad_seconds=10, lexicon=clinic)


@pytest.fixture(scope="module")
def spoken_espeak(tmp_path_factory):
    root = tmp_path_factory.mktemp("gating_espeak")
    tsv = root / "u.tsv"
    tsv.write_text("id\ttext\tterms\nmetmen\tI met four men in the waiting room.\t\n")
    script = str(PROJECT_DIR / "scripts" / "synth_utterances.py")
    args = ["--utterances", str(tsv), "--out", str(root), "--pace", "1.0", "1.0", "--no-noise"]
    subprocess.run(
        [sys.executable, script, "--voice", "espeak", *args], check=True, capture_output=True
    )
    return root


def _encoded(transcriber, audio: np.ndarray):
    encoded = transcriber._encode(audio, {})
    return encoded, min(len(audio) // 160, encoded.shape[1] * 2)


@pytest.mark.slow
def test_term_the_audio_does_not_support_is_reverted(transcriber, spoken):
    audio = load_wav(spoken / "aunt.wav")
    encoded, frames = _encoded(transcriber, audio)
    first = "My aunt is coming with me to the visit."
    checks: list[dict] = []
    out = transcriber.rescore_rivals(
        encoded, frames, first, "My ENT is coming with me to the visit.", checks
    )
    assert out == first
    [check] = checks
    assert check["term"] == "ENT" and check["chosen"] is None and check["heard"] == "aunt"
    assert check["margin"] < 1.0


@pytest.mark.slow
def test_wrong_hotword_is_swapped_for_the_name_that_was_said(transcriber, spoken):
    audio = load_wav(spoken / "patel.wav")
    encoded, frames = _encoded(transcriber, audio)
    checks: list[dict] = []
    out = transcriber.rescore_rivals(
        encoded,
        frames,
        "Can I see Dr. Petal this week?",
        "Can I see Dr. Pereira this week?",
        checks,
    )
    assert out == "Can I see Dr. Patel this week?"
    assert checks[0]["chosen"] == "Dr. Patel"
    assert checks[0]["margin"] > 1.0


@pytest.mark.slow
def test_transcribe_reports_its_checks(transcriber, spoken):
    result = transcriber.transcribe(load_wav(spoken / "patel.wav"))
    assert "Patel" in result.text
    assert isinstance(result.checks, list)
    assert result.to_dict()["checks"] == result.checks


# --- second pass: plausibility, settled spans, forced prefix, missed candidates ------------


@pytest.mark.slow
def test_no_drug_right_after_a_subject_pronoun(transcriber, spoken_espeak):
    from speech.passes import after_subject

    assert after_subject("Yesterday I ") and after_subject("Then we ")
    assert not after_subject("He prescribed me ") and not after_subject("Did he give you ")
    # espeak-ng's "I met four men" fits "I metformin" better than the words heard (the
    # audio check alone would keep it); no verb after "I" rules it out.
    audio = load_wav(spoken_espeak / "metmen.wav")
    first = "I met four men in the waiting room."
    decisions: list = []
    raw = transcriber.rescore_rivals(
        *_encoded(transcriber, audio), first, "I metformin in the waiting room.", decisions
    )
    assert raw == first
    assert decisions[0]["term"] == "metformin" and decisions[0]["chosen"] is None
    assert "metformin" not in transcriber.transcribe(audio).text.lower()


def test_second_pass_plausibility_compares_letters_not_words():
    from speech.passes import plausible_second_pass

    first = "Dr. Kolske prescribed me at or rest that in last month."
    # One word for the five the first pass heard: same utterance.
    assert plausible_second_pass(first, "Dr. Kowalski prescribed me atorvastatin last month.")
    # Cut short, or looping: not the same utterance.
    assert not plausible_second_pass(first, "Dr. Kowalski.")
    assert not plausible_second_pass(first, "last month last month last month last month.")
    assert not plausible_second_pass(first, "")


def test_a_second_pass_that_starts_the_sentence_again_is_cut_at_the_restart():
    from speech.passes import drop_restart, plausible_second_pass

    first = "Can I see Dr. Roger Gopel in this week?"
    looped = "Can I see Dr. Rajagopalan this week? Can I see Dr. Rajagop"
    assert not plausible_second_pass(first, looped)  # as decoded: thrown away
    assert drop_restart(looped) == "Can I see Dr. Rajagopalan this week?"
    assert plausible_second_pass(first, drop_restart(looped))
    # A title's dot is no sentence end; text that never restarts is left alone.
    for text in ("Dr. Dr. Patel said so.", "Yes. Yes.", "I take it every day.", ""):
        assert drop_restart(text) == text


def test_a_span_the_corrector_settles_needs_no_second_pass():
    from speech.biasing import _settled
    from vocabulary.correction import Candidate

    found = [
        Candidate("gabapentin", "medication", 0.98, 18, 29, False),
        Candidate("Dr. Ibrahim", "provider", 0.9, 4, 10, False),
    ]
    fixed = correct("Dr. Ebramp sent my Gaba Penton refill.", Lexicon.load(DEFAULT_VOCABULARY))
    by_term = {c.term: c for c in fixed.changes}
    assert by_term["gabapentin"].score >= 0.9
    assert _settled(found[0], found, fixed.changes)
    # A name is always checked against the audio, whatever the corrector makes of it.
    assert not _settled(found[1], found, fixed.changes)


def test_put_back_and_apply_changes():
    from speech.biasing import _put_back
    from vocabulary.correction import apply_changes

    assert _put_back("I take metformin daily.", 7, 16, "met for men") == (
        "I take met for men daily."
    )
    assert _put_back("I take metformin daily.", 7, 16, "") == "I take daily."
    result = correct(
        "Can you refill my met for men prescription?", Lexicon.load(DEFAULT_VOCABULARY)
    )
    assert apply_changes(result.raw, result.changes) == result.text


@pytest.mark.slow
def test_second_pass_keeps_the_forced_prefix(transcriber, spoken):
    audio = load_wav(spoken / "patel.wav")
    encoded, _ = _encoded(transcriber, audio)
    first, tokens = transcriber._decode(encoded, 1, None)
    cut = first.index(" ", first.index("see"))  # "Can I see| Dr. ..."
    prefix = transcriber._prefix_tokens(tokens, first, cut)
    assert transcriber._tokenizer.decode(prefix).strip() == first[:cut]
    second, _ = transcriber._decode(encoded, 1, "Dr. Patel.", 20, prefix)
    assert second.startswith(first[:cut])
    assert "Patel" in second


@pytest.mark.slow
def test_strong_candidate_the_biased_pass_missed_is_checked(transcriber, spoken):
    audio = load_wav(spoken / "patel.wav")
    encoded, frames = _encoded(transcriber, audio)
    heard = "Can I see Dr. Petal this week?"
    checks: list[dict] = []
    out = transcriber.rescore_rivals(encoded, frames, heard, heard, checks)
    assert out == "Can I see Dr. Patel this week?"
    assert checks[0]["term"] == "Dr. Patel" and checks[0]["chosen"] == "Dr. Patel"
    assert checks[0]["heard"] == "Petal"
