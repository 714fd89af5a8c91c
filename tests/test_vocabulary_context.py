"""The conversation as context for the corrector: names the bot offered, a kind it asked for.

The sentences here are in no evaluation set.
"""

from __future__ import annotations

import pytest
from pipecat.frames.frames import TranscriptionFrame
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.tests.utils import run_test

from clinic.dialogue.transcript import last_assistant_text
from processors.vocabulary_correction import VocabularyCorrectionProcessor
from realtime.audio_in import last_assistant_line
from vocabulary import ConversationContext, candidates, correct

OFFER = "I can book you with Doctor Castellanos at nine or Doctor Abernathy at eleven."


def test_a_bot_line_sets_the_offered_terms_and_the_kind_asked_for(lexicon):
    offer = ConversationContext.from_bot_text(OFFER, lexicon)
    assert offer.offered == ("Dr. Castellanos", "Dr. Abernathy")
    assert offer.expected == frozenset()  # an offer: the answer is one of the offered
    asked = ConversationContext.from_bot_text("What is the name of the medication?", lexicon)
    assert asked.offered == () and asked.expected == {"medication"}
    assert not ConversationContext.from_bot_text("Anything else today?", lexicon)
    assert not ConversationContext.from_bot_text(None, lexicon)


def test_an_offered_name_said_bare_is_corrected_only_with_the_context(lexicon):
    offer = ConversationContext.from_bot_text(OFFER, lexicon)
    for heard, name in (
        ("Abba Nathy sounds good.", "Abernathy"),
        ("Castel Anos, I think.", "Castellanos"),
    ):
        assert correct(heard, lexicon).text == heard  # no title: left as heard
        fixed = correct(heard, lexicon, context=offer)
        assert name in fixed.text
        assert "offered" in fixed.changes[0].reason


def test_an_asked_for_kind_cues_an_odd_word(lexicon):
    asked = ConversationContext.from_bot_text("What is the name of the medication?", lexicon)
    heard = "Levo thy rocks in."
    assert correct(heard, lexicon).text == heard
    assert "levothyroxine" in correct(heard, lexicon, context=asked).text.lower()


@pytest.mark.parametrize(
    "answer",
    [
        "The nine o'clock one works.",
        "Either is fine with me.",
        "My aunt is coming too.",
        "I met four men at the door.",
        "Something for my blood pressure.",
    ],
)
def test_ordinary_answers_stay_as_said_with_any_context(lexicon, answer):
    for line in (OFFER, "What is the name of the medication?", "Which doctor do you see?"):
        context = ConversationContext.from_bot_text(line, lexicon)
        assert correct(answer, lexicon, context=context).text == answer


def test_with_thousands_of_names_only_the_offered_ones_are_matched_bare(large):
    offer = ConversationContext.from_bot_text(
        "Doctor Castellanos or Doctor Abernathy, which would you like?", large
    )
    fixed = correct("Abba Nathy sounds good.", large, context=offer)
    assert "Abernathy" in fixed.text
    # a name no one offered, said bare, is not guessed among 2,000 providers
    heard = "Kessel Brink sounds good."
    assert correct(heard, large, context=offer).text == heard


async def test_the_processor_reads_the_bot_line_from_the_conversation(lexicon):
    context = LLMContext(
        messages=[
            {"role": "system", "content": "You are a clinic's phone line."},
            {"role": "user", "content": "I need a physical."},
            {"role": "assistant", "content": OFFER},
        ]
    )
    frame = TranscriptionFrame("Abba Nathy sounds good.", "caller", "t")
    down, _ = await run_test(
        VocabularyCorrectionProcessor(lexicon=lexicon, context=context),
        frames_to_send=[frame],
        expected_down_frames=[TranscriptionFrame],
    )
    assert "Abernathy" in down[0].text


def test_the_last_bot_line_of_a_chat_and_of_realtime_items():
    messages = [
        {"role": "assistant", "content": [{"type": "text", "text": "Which one?"}]},
        {"role": "assistant", "content": "", "tool_calls": [{"id": "c"}]},
        {"role": "user", "content": "Hm."},
    ]
    assert last_assistant_text(messages) == "Which one?"
    assert last_assistant_text([]) == ""
    items = [
        {"type": "message", "role": "assistant", "content": [{"transcript": "Tuesday or Friday?"}]},
        {"type": "message", "role": "user", "content": [{"transcript": "Um."}]},
    ]
    assert last_assistant_line(items) == "Tuesday or Friday?"
    assert last_assistant_line([]) == ""


def test_an_offered_name_heard_bare_becomes_a_biasing_candidate(lexicon):
    offer = ConversationContext.from_bot_text(OFFER, lexicon)
    heard = "Abba Nathy sounds good."
    assert "Dr. Abernathy" not in [c.term for c in candidates(heard, lexicon)]
    assert "Dr. Abernathy" in [c.term for c in candidates(heard, lexicon, context=offer)]


def test_asked_for_a_doctor_a_bare_odd_name_is_a_provider(lexicon):
    asked = ConversationContext.from_bot_text("Who is your regular doctor?", lexicon)
    assert asked.expected == {"provider"}
    assert correct("Mostly Siddiki.", lexicon).text == "Mostly Siddiki."
    assert "Siddiqui" in correct("Mostly Siddiki.", lexicon, context=asked).text
    assert correct("My usual one.", lexicon, context=asked).text == "My usual one."
