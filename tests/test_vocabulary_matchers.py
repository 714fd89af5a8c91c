"""Unit tests of the sound index and the string matchers the corrector builds on."""

from __future__ import annotations

import pytest

from config import DEFAULT_VOCABULARY
from vocabulary import Lexicon
from vocabulary.distance import key_distance, key_similarity, key_weight
from vocabulary.evaluation import edit_distance
from vocabulary.phonetic import phonetic_key
from vocabulary.sound_index import SoundIndex, skeleton, skeleton_grams


@pytest.fixture(scope="module")
def clinic() -> Lexicon:
    return Lexicon.load(DEFAULT_VOCABULARY)


def _form_texts(lexicon: Lexicon, fids: list[int]) -> list[str]:
    return [lexicon.terms[lexicon.forms[fid].term].text for fid in fids]


def test_index_ranks_the_sound_alike_term_first(clinic):
    keys = [phonetic_key("met for men")]
    found = clinic.index.candidates(keys, limit=3, weight=key_weight(keys[0]))
    assert _form_texts(clinic, found)[0] == "metformin"
    assert len(found) <= 3


def test_index_keeps_only_the_categories_asked_for(clinic):
    keys = [phonetic_key("met for men")]
    found = clinic.index.candidates(keys, limit=50, categories={"provider"})
    assert found
    assert {clinic.terms[clinic.forms[fid].term].category for fid in found} == {"provider"}


def test_index_of_nothing_alike_is_empty():
    index = SoundIndex([("MaTFaRMaN",)], [key_weight("MaTFaRMaN")], ["medication"])
    assert index.candidates([phonetic_key("zoo")], weight=key_weight("Za")) == []
    assert index.candidates([phonetic_key("metformin")]) == [0]


def test_skeleton_collapses_voicing_and_vowels():
    assert skeleton(phonetic_key("metformin")) == skeleton(phonetic_key("medvormin"))
    assert skeleton_grams(phonetic_key("metformin")) == skeleton_grams(phonetic_key("met for men"))


def test_weighted_distance_makes_likely_confusions_cheap():
    voicing = key_distance(phonetic_key("patel"), phonetic_key("badel"))
    unrelated = key_distance(phonetic_key("patel"), phonetic_key("mahrel"))
    assert voicing < unrelated
    # A search stopped early reports the limit: between it and the true distance.
    exact = key_distance("MaTFaRMaN", "LaSaNaPRaL")
    assert exact > 1.0
    assert key_distance("MaTFaRMaN", "LaSaNaPRaL", limit=1.0) == 1.0
    assert key_similarity("", "") == 1.0


def test_word_edit_distance_counts_word_errors():
    ref = "can i see doctor patel".split()
    assert edit_distance(ref, ref) == 0
    assert edit_distance(ref, "can i see doctor petal today".split()) == 2
    assert edit_distance([], ref) == len(ref)
