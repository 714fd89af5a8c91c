"""Unit tests of the vocabulary lexicon, phonetic key and corrector (pure functions)."""

from __future__ import annotations

import json
import time

import pytest

from config import DEFAULT_VOCABULARY
from vocabulary import Change, Lexicon, VocabularyError, candidates, correct, find_terms
from vocabulary.casestudy import CASE_STUDY_VOCABULARY, build_case_study_vocabulary
from vocabulary.distance import key_similarity
from vocabulary.evaluation import ORDINARY_SENTENCES, read_sentences, wer_words
from vocabulary.phonetic import phonetic_key


@pytest.fixture(scope="module")
def clinic() -> Lexicon:
    return Lexicon.load(DEFAULT_VOCABULARY)


@pytest.fixture(scope="module")
def with_confusions() -> Lexicon:
    data = json.loads(DEFAULT_VOCABULARY.read_text())
    data["confusions"] = {
        "calks at kwon": "Dr. Kowalczyk",
        "met for men": "metformin",
        "aunt": "ENT",
    }
    return Lexicon.from_dict(data, source="test")


# --- seed cases from the issue -------------------------------------------------------------


def test_met_for_men_becomes_metformin_by_sound(clinic):
    result = correct("Can you refill my met for men prescription?", clinic)
    assert result.text == "Can you refill my metformin prescription?"
    [change] = result.changes
    assert (change.raw, change.replacement) == ("met for men", "metformin")
    assert change.term == "metformin"
    assert change.category == "medication"
    assert "refill" in change.reason


def test_aunt_becomes_ent_after_a_referral_cue(clinic):
    assert correct("I need a referral to aunt.", clinic).text == "I need a referral to ENT."
    assert correct("Do you have an opening in aunt?", clinic).text == (
        "Do you have an opening in ENT?"
    )


def test_confusion_table_fixes_calks_at_kwon(with_confusions):
    result = correct("I need to see Doctor Calks at Kwon on Monday.", with_confusions)
    assert result.text == "I need to see Doctor Kowalczyk on Monday."
    [change] = result.changes
    assert change.term == "Dr. Kowalczyk"
    assert change.reason.startswith("confusion table")
    assert change.score >= 1.0


def test_misheard_names_after_a_title(clinic):
    assert correct("Can I see Dr. Kowal chick tomorrow?", clinic).text == (
        "Can I see Dr. Kowalczyk tomorrow?"
    )
    assert correct("I have an appointment with Doctor Petal.", clinic).text == (
        "I have an appointment with Doctor Patel."
    )


def test_misheard_title_glued_to_the_name_is_fixed_with_it(clinic):
    result = correct("Is Dockerquatch available on Friday?", clinic)
    assert result.text == "Is Dr. Quach available on Friday?"
    assert result.changes[0].raw == "Dockerquatch"


@pytest.mark.parametrize(
    "sentence",
    [
        "My aunt is coming with me to the visit.",
        "I met four men in the waiting room.",
        "The doctor said I should walk more.",
        "I ran out of time yesterday.",
        "I have an aunt and two uncles in town.",
    ],
)
def test_ordinary_speech_is_left_alone(clinic, with_confusions, large, sentence):
    for lexicon in (clinic, with_confusions, large):
        result = correct(sentence, lexicon)
        assert result.text == sentence
        assert result.changes == []


def test_shipped_ordinary_sentences_are_untouched_even_with_2500_terms(clinic, large):
    sentences = read_sentences(ORDINARY_SENTENCES)
    assert len(sentences) >= 50
    for lexicon in (clinic, large):
        changed = [s for s in sentences if correct(s, lexicon).changes]
        assert changed == []


def test_confusion_of_ordinary_words_still_needs_a_cue(with_confusions):
    assert correct("My aunt is coming.", with_confusions).changes == []
    assert correct("I met for men at noon.", with_confusions).changes == []
    fixed = correct("I need a referral to aunt.", with_confusions)
    assert fixed.text == "I need a referral to ENT."


# --- multi-word terms, case and punctuation -----------------------------------------------


def test_multi_word_terms(clinic):
    assert correct("I take insulin glar gene every morning.", clinic).text == (
        "I take insulin glargine every morning."
    )
    assert correct("I need to schedule a city scan.", clinic).text == (
        "I need to schedule a CT scan."
    )
    respaced = correct("Which days does physical the rapy see patients?", clinic)
    assert respaced.text == "Which days does physical therapy see patients?"
    assert respaced.changes[0].reason.startswith("exact")


def test_case_and_punctuation_are_kept(clinic):
    text = "Refill my met for men, please! And Dr. Petal's number?"
    result = correct(text, clinic)
    assert result.text == "Refill my metformin, please! And Dr. Patel's number?"
    sentence_start = correct("Lisa no pril refill, please.", clinic)
    assert sentence_start.text == "Lisinopril refill, please."


def test_terms_already_right_are_not_touched(clinic):
    text = "Dr. Nakashima prescribed me carvedilol and an MRI."
    assert correct(text, clinic).changes == []
    assert find_terms(text, clinic) == ["Dr. Nakashima", "carvedilol", "MRI"]


def test_change_records_are_auditable(clinic):
    raw = "Do I need to keep taking lost art in? Doctor Petal said so."
    result = correct(raw, clinic)
    assert result.raw == raw
    assert [c.term for c in result.changes] == ["losartan", "Dr. Patel"]
    for change in result.changes:
        assert isinstance(change, Change)
        assert raw[change.start : change.end] == change.raw
        record = change.to_dict()
        assert set(record) == {
            "start",
            "end",
            "raw",
            "replacement",
            "term",
            "category",
            "score",
            "reason",
        }
        json.dumps(record)
    # Offsets index the raw text; applying them reproduces the corrected text.
    rebuilt = raw
    for change in reversed(result.changes):
        rebuilt = rebuilt[: change.start] + change.replacement + rebuilt[change.end :]
    assert rebuilt == result.text


def test_threshold_controls_how_much_changes(clinic):
    text = "Do I need to keep taking lost art in?"
    assert correct(text, clinic, threshold=0.9).changes
    assert correct(text, clinic, threshold=1.5).changes == []


def test_empty_and_blank_text(clinic):
    assert correct("", clinic).text == ""
    assert correct("   ", clinic).changes == []
    assert find_terms("", clinic) == []


# --- find_terms, candidates ----------------------------------------------------------------


def test_find_terms_variants(clinic, large):
    assert find_terms("Do you have an opening in OBGYN?", clinic) == ["OB-GYN"]
    assert find_terms("I need an x ray and an e.k.g.", clinic) == ["X-ray", "EKG"]
    assert find_terms("see doctor patel", clinic) == ["Dr. Patel"]
    # A provider whose name is an ordinary word counts only after a title.
    assert "Dr. Long" in [t.text for t in large.terms]
    assert find_terms("It takes a long time.", large) == []
    assert find_terms("I see Dr. Long on Monday.", large) == ["Dr. Long"]


def test_candidates_for_biasing(clinic):
    found = candidates("Can you refill my map from in prescription?", clinic)
    assert found and found[0].term == "metformin"
    assert not found[0].exact
    # The search for biasing terms is liberal: a run of ordinary words that sounds just like
    # a term is a candidate (the second pass and the audio check decide), a lone ordinary
    # word is not, and the corrector itself leaves both alone.
    ordinary = "I met four men in the waiting room."
    assert [c.term for c in candidates(ordinary, clinic)] == ["metformin"]
    assert not correct(ordinary, clinic).changed
    assert candidates("My aunt is coming with me to the visit.", clinic) == []
    # "his doctor" (often a misheard "is Doctor") opens a name slot for the search, not for
    # the corrector.
    heard = "His doctor ever nathy taking new patients."
    assert candidates(heard, clinic)[0].term == "Dr. Abernathy"
    assert not correct(heard, clinic).changed
    assert (
        candidates("The pharmacist said my listen opera is on back order.", clinic)[0].term
        == "lisinopril"
    )


# --- lexicon ---------------------------------------------------------------------------------


def test_lexicon_spoken_forms_and_keys(clinic):
    patel = clinic.term_by_text("Dr. Patel")
    assert patel.category == "provider"
    assert patel.name == "Patel"
    assert patel.forms[0].tokens == ("patel",)
    ent = clinic.term_by_text("ENT")
    assert len(ent.forms[0].keys) == 2  # read as a word and spelled out
    assert clinic.categories == ["provider", "medication", "specialty", "procedure"]


def test_lexicon_rich_entries_and_yaml(tmp_path):
    path = tmp_path / "vocab.yaml"
    path.write_text(
        "providers:\n"
        "  - term: Dr. Kowalczyk\n"
        "    spoken: [doctor ko vall chick]\n"
        "    confusions: [calks at kwon]\n"
        "medications: [metformin]\n"
        "cues:\n"
        "  medication: {before: [dispense]}\n"
    )
    lexicon = Lexicon.load(path)
    assert [t.text for t in lexicon.terms] == ["Dr. Kowalczyk", "metformin"]
    assert len(lexicon.terms[0].forms) == 2
    assert correct("Doctor ko vall chick called.", lexicon).text == "Doctor Kowalczyk called."
    assert correct("Please dispense met for men.", lexicon).text == "Please dispense metformin."


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "cannot parse"),
        ('["a", "b"]', "top level"),
        ('{"medications": "metformin"}', "must be a list"),
        ('{"medications": [42]}', "strings or objects"),
        ('{"medications": [{"spoken": ["x"]}]}', "no term text"),
        ('{"medications": ["metformin"], "confusions": {"x": "aspirin"}}', "unknown term"),
        ('{"medications": ["!!!"]}', "no letters"),
    ],
)
def test_bad_vocabulary_files_fail_clearly(tmp_path, content, message):
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(VocabularyError, match=message):
        Lexicon.load(path)


def test_missing_vocabulary_file(tmp_path):
    with pytest.raises(VocabularyError, match="cannot read"):
        Lexicon.load(tmp_path / "nope.json")


def test_case_study_vocabulary_scale(large, clinic):
    counts = {}
    for term in large.terms:
        counts[term.category] = counts.get(term.category, 0) + 1
    assert counts["provider"] == 2000
    assert counts["medication"] == 500
    # It contains the whole clinic vocabulary, and is what the generator builds.
    assert {t.text for t in clinic.terms} <= {t.text for t in large.terms}
    rebuilt = build_case_study_vocabulary(json.loads(DEFAULT_VOCABULARY.read_text()))
    assert rebuilt == json.loads(CASE_STUDY_VOCABULARY.read_text())


def test_large_lexicon_loads_fast_enough_to_build_at_startup():
    start = time.perf_counter()
    Lexicon.load(CASE_STUDY_VOCABULARY)
    # Generous bound (a sanity check, not a benchmark): loading must not take seconds.
    assert time.perf_counter() - start < 5.0


# --- phonetic key and WER helpers ------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("metformin", "met for men"),
        ("ent", "aunt"),
        ("thibodeaux", "thibodox"),
        ("schumacher", "shoemaker"),
        ("zhao", "joe"),
    ],
)
def test_sound_alikes_get_close_keys(a, b):
    assert key_similarity(phonetic_key(a), phonetic_key(b)) >= 0.9


def test_silent_t_is_dropped():
    assert phonetic_key("listen") == phonetic_key("lissen")
    assert phonetic_key("castles") == phonetic_key("cassles")
    assert phonetic_key("stencil").startswith("ST")  # only "-sten"/"-stle" at a word's end
    assert key_similarity(phonetic_key("listen opera"), phonetic_key("lisinopril")) >= 0.85


@pytest.mark.parametrize(("a", "b"), [("metformin", "lisinopril"), ("patel", "gallagher")])
def test_different_words_get_distant_keys(a, b):
    assert key_similarity(phonetic_key(a), phonetic_key(b)) < 0.5


def test_wer_words_normalization():
    assert wer_words("Dr. Patel's X-ray, please!") == ["doctor", "patel's", "x", "ray", "please"]


def test_deepgram_keyterms(clinic, large):
    from vocabulary.keyterms import keyterms

    terms = keyterms(clinic)
    assert len(terms) == 100
    assert "Dr. Kowalczyk" in terms and "metformin" in terms and "gastroenterology" in terms
    assert "flu shot" not in terms  # ordinary words need no boost
    few = keyterms(large, max_terms=8)
    assert len(few) == 8
    categories = {large.term_by_text(t).category for t in few}
    assert categories == {"provider", "medication", "specialty", "procedure"}
