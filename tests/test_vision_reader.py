"""The local image reader on pictures the test draws, and the spoken answer about them."""

import pytest

from tests.vision_drawings import error_dialog, pill_label, referral_letter, skin_photo
from vision.answer import MAX_WORDS, describe_reading
from vision.reader import failed_reading, read_image, reading_from_lines
from vocabulary import Lexicon

READING_KEYS = {
    "ok", "error", "source", "sha256", "kind", "text", "lines", "title", "error_text",
    "medications", "specialties", "providers",
}  # fmt: skip


@pytest.fixture(scope="module")
def lexicon():
    from config import EchoSettings

    return Lexicon.load(EchoSettings(_env_file=None).vocabulary_path)


def read(img, lexicon):
    return read_image(img, lexicon=lexicon, source="upload", sha256="0" * 64)


def spoken_ok(answer: str):
    assert len(answer.split()) <= MAX_WORDS, answer
    assert answer.count("?") <= 1, answer
    assert not any(c in answer for c in "*#`_["), answer


def test_error_dialog_is_read_aloud(lexicon):
    reading = read(error_dialog(), lexicon)
    assert READING_KEYS <= set(reading)
    assert reading["ok"] and reading["kind"] == "error_message"
    assert "0x80070005" in reading["error_text"]
    answer, offer = describe_reading(reading, "What does this error on my screen mean?")
    spoken_ok(answer)
    assert "error" in answer.lower() and "denied" in answer.lower()
    assert "Cancel" not in answer  # dialog buttons are not the message
    assert offer is None


def test_pill_label_offers_a_refill(lexicon):
    reading = read(pill_label(), lexicon)
    assert reading["kind"] == "medication_label"
    assert reading["medications"][0] == {"name": "Metformin", "dose": "500 mg"}
    answer, offer = describe_reading(reading, "Can you read the label on this pill bottle?")
    spoken_ok(answer)
    assert "Metformin 500 mg" in answer
    assert offer == {"action": "refill", "medication": "Metformin"}


def test_other_medication_and_dose(lexicon):
    reading = read(pill_label(drug="Lisinopril", dose="10 mg"), lexicon)
    assert reading["medications"][0] == {"name": "Lisinopril", "dose": "10 mg"}


def test_referral_letter_offers_the_specialty(lexicon):
    reading = read(referral_letter(), lexicon)
    assert reading["kind"] == "letter"
    assert reading["specialties"] == ["Dermatology"]
    assert "Dr. Patel" in reading["providers"]
    answer, offer = describe_reading(reading, "Who should I book with?")
    spoken_ok(answer)
    assert "dermatology" in answer.lower()
    assert offer == {"action": "book", "specialty": "Dermatology"}


def test_follow_up_about_a_line(lexicon):
    reading = read(referral_letter(), lexicon)
    answer, _ = describe_reading(reading, "And what about the second line?")
    assert reading["lines"][1].split()[0] in answer  # "March 3, 2026"
    answer, _ = describe_reading(reading, "what's on the last line")
    assert "Nguyen" in answer


def test_photo_without_text_is_an_honest_cant_tell(lexicon):
    reading = read(skin_photo(), lexicon)
    assert reading["ok"] and reading["kind"] == "no_text" and reading["lines"] == []
    answer, offer = describe_reading(reading, "What is in this picture?")
    spoken_ok(answer)
    assert answer.startswith("I can't tell from here") and "vision model" in answer
    assert offer is None
    answer, offer = describe_reading(reading, "Here's a photo of the rash, what is it?")
    spoken_ok(answer)
    assert answer.startswith("I can't tell from here")
    assert offer == {"action": "book", "specialty": "Dermatology"}


def test_ocr_slips_still_match_the_vocabulary(lexicon):
    reading = reading_from_lines(
        ["Metformn 500mg tablets", "Take one tablet daily"],
        lexicon=lexicon,
        source="camera",
        sha256="1" * 64,
    )
    assert reading["medications"] == [{"name": "Metformin", "dose": "500 mg"}]
    assert reading["kind"] == "medication_label"
    letter = reading_from_lines(
        ["Dear Mr. Diaz,", "We refer you to Cardiolgy at Dr Nguyen's office."],
        lexicon=lexicon,
        source="upload",
        sha256="2" * 64,
    )
    assert letter["kind"] == "letter"
    assert letter["specialties"] == ["Cardiology"] and letter["providers"] == ["Dr. Nguyen"]


def test_ordinary_words_are_not_medications(lexicon):
    reading = reading_from_lines(
        ["Meeting notes", "Bring the form to the front desk on Monday"],
        lexicon=lexicon,
        source="upload",
        sha256="3" * 64,
    )
    assert reading["medications"] == [] and reading["kind"] == "text"
    answer, offer = describe_reading(reading, "what does it say")
    assert answer.startswith("It says: Meeting notes") and offer is None


@pytest.mark.parametrize("error", ["no_image", "no_camera", "unreadable"])
def test_no_image_is_said_plainly(error):
    answer, offer = describe_reading(failed_reading(error), "what do you see?")
    spoken_ok(answer)
    assert offer is None
    assert ("camera" in answer.lower()) == (error == "no_camera") or error == "no_image"
