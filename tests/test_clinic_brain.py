import json
import re
import sqlite3
from datetime import date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from clinic.cli_chat import chat_loop, run_turn
from clinic.dialogue.actions import CallTool, Say
from clinic.dialogue.brain import ClinicBrain
from clinic.store import ClinicStore
from clinic.tools import ClinicTools
from clinic.understanding.choices import parse_choice, parse_yes_no
from clinic.understanding.intent import Intent, detect_intent, extract_reason
from clinic.understanding.providers import match_provider, match_specialty
from clinic.understanding.when import parse_day, parse_part_of_day, parse_time
from clinic.wording.phrases import GREETING
from clinic.wording.spoken import format_day, format_time
from config import DEFAULT_VOCABULARY

MONDAY = date(2025, 12, 1)  # the fixed "today" of every dialogue
TUESDAY = date(2025, 12, 2)
WEDNESDAY = date(2025, 12, 3)
VOCABULARY = json.loads(DEFAULT_VOCABULARY.read_text())
MARKDOWN = re.compile(r"[*#`_\[\]|<>]|^\s*(?:[-•]|\d+\.)\s", re.MULTILINE)
TIME_RE = re.compile(r"\b\d{1,2}(?::\d{2})? (?:AM|PM)\b")


@pytest.fixture
def store(tmp_path) -> ClinicStore:
    s = ClinicStore(tmp_path / "clinic.db")
    s.seed(VOCABULARY, start=MONDAY, days=14)
    return s


@pytest.fixture
def brain(store) -> ClinicBrain:
    return ClinicBrain(
        provider_names=[p.name for p in store.find_providers()],
        specialties=store.specialties(),
        today=MONDAY,
    )


@pytest.fixture
def tools(store) -> ClinicTools:
    # The host application vouched for this caller (the dialogue tests are about the tasks);
    # identifying an unknown caller is tested in test_clinic_care.py.
    return ClinicTools(store, patient_id="patient-a", today=MONDAY, identified=True)


class Dialogue:
    """Runs user turns through run_turn and keeps every reply for the style checks."""

    def __init__(self, brain, tools):
        self.brain, self.tools, self.messages, self.replies = brain, tools, [], []

    async def say(self, text: str) -> str:
        reply = await run_turn(self.brain, self.tools, self.messages, text)
        assert_spoken_style(reply)
        self.replies.append(reply)
        return reply

    def tool_calls(self, name: str | None = None) -> list[tuple[str, dict]]:
        calls = []
        for m in self.messages:
            for c in m.get("tool_calls") or []:
                fn = c["function"]
                if name is None or fn["name"] == name:
                    calls.append((fn["name"], json.loads(fn["arguments"])))
        return calls

    def last_result(self, name: str) -> dict:
        ids = {
            c["id"]
            for m in self.messages
            for c in m.get("tool_calls") or []
            if c["function"]["name"] == name
        }
        results = [json.loads(m["content"]) for m in self.messages if m.get("tool_call_id") in ids]
        assert results, f"no {name} result"
        return results[-1]


def assert_spoken_style(reply: str) -> None:
    assert reply and reply.strip() == reply
    assert "\n" not in reply
    assert not MARKDOWN.search(reply), reply
    assert "APT-" not in reply and "Dr." not in reply, reply
    assert len(TIME_RE.findall(reply)) <= 3, reply  # never more than three slots at once


def offered_slots(d: Dialogue, reply: str) -> list[dict]:
    """The slots of the last listing, in the order they were said in ``reply``."""
    slots = (
        d.last_result("list_open_slots")["slots"]
        or d.last_result("list_open_slots")["next_available"]
    )
    said = TIME_RE.findall(reply)
    by_time = {format_time(datetime.fromisoformat(s["start"])): s for s in slots}
    return [by_time[t] for t in said if t in by_time]


# --- dialogues over the real store ---------------------------------------------------------------


@pytest.mark.parametrize(
    "opening",
    [
        "I'd like to see Doctor Patel on Tuesday",
        "i'd like to see doctor patel on tuesday.",
        "Id like to see Dr Patel on Tuesday!",
        "um, I would like to see, uh, doctor patell on tuesday",
    ],
)
async def test_multi_turn_booking(brain, tools, store, opening):
    d = Dialogue(brain, tools)
    offer = await d.say(opening)
    assert "Doctor Patel" in offer and "Tuesday, December 2nd" in offer
    assert d.tool_calls() == [("list_open_slots", {"provider": "Dr. Patel", "day": "2025-12-02"})]
    slots = offered_slots(d, offer)
    assert 1 <= len(slots) <= 3

    confirm = await d.say("the first one")
    assert confirm.endswith("Shall I book it?")
    assert (
        "Doctor Patel" in confirm
        and format_time(datetime.fromisoformat(slots[0]["start"])) in confirm
    )
    assert store.appointments_for("patient-a") == []  # nothing before the yes

    done = await d.say("yes")
    (appt,) = store.appointments_for("patient-a")
    assert appt.provider_name == "Dr. Patel" and appt.slot_id == slots[0]["slot_id"]
    assert appt.status == "booked" and appt.start_utc.date() == TUESDAY
    assert " ".join(appt.id.split("-")[1]) in done and "booked" in done


async def test_choose_by_time_and_change_day_before_confirming(brain, tools, store):
    d = Dialogue(brain, tools)
    offer = await d.say("Can I book Doctor Patel for Tuesday?")
    second = offered_slots(d, offer)[1]
    spoken = format_time(datetime.fromisoformat(second["start"]))
    confirm = await d.say(f"the {spoken.lower()} one please")
    assert spoken in confirm and confirm.endswith("Shall I book it?")

    moved = await d.say("actually make it Wednesday")
    assert "Wednesday, December 3rd" in moved
    assert d.tool_calls("list_open_slots")[-1][1]["day"] == WEDNESDAY.isoformat()
    wednesday = offered_slots(d, moved)
    confirm = await d.say("the second")
    assert format_time(datetime.fromisoformat(wednesday[1]["start"])) in confirm
    await d.say("sure")
    (appt,) = store.appointments_for("patient-a")
    assert appt.slot_id == wednesday[1]["slot_id"] and appt.start_utc.date() == WEDNESDAY


async def test_no_means_no_booking(brain, tools, store):
    d = Dialogue(brain, tools)
    await d.say("I'd like to see Doctor Patel on Tuesday")
    await d.say("the first one")
    reply = await d.say("no")
    assert "won't book" in reply
    assert store.appointments_for("patient-a") == []
    assert d.tool_calls("book_appointment") == []


async def test_asking_for_a_time_that_is_open(brain, tools, store):
    (patel,) = store.find_providers(name="patel")
    slot = store.open_slots(patel.id, day=TUESDAY, part_of_day="afternoon")[0]
    local = slot.start_utc.astimezone(store.tz)
    d = Dialogue(brain, tools)
    reply = await d.say(f"Doctor Patel on Tuesday at {format_time(local)}")
    assert reply == f"Doctor Patel, Tuesday, December 2nd at {format_time(local)}. Shall I book it?"
    await d.say("yes please")
    assert store.appointments_for("patient-a")[0].slot_id == slot.id


async def test_cancel_flow(brain, tools, store):
    (patel,) = store.find_providers(name="patel")
    slot = store.open_slots(patel.id, day=TUESDAY)[0]
    appt = store.book("patient-a", slot.id)
    store.book("patient-b", store.open_slots(patel.id, day=TUESDAY)[0].id)  # someone else's

    d = Dialogue(brain, tools)
    question = await d.say("I need to cancel my appointment")
    assert "Doctor Patel" in question and "Shall I cancel it?" in question
    assert store.get_appointment(appt.id).status == "booked"
    done = await d.say("yes")
    assert "cancelled" in done
    assert store.get_appointment(appt.id).status == "cancelled"
    assert store.get_slot(slot.id).booked is False
    assert store.appointments_for("patient-b")[0].status == "booked"


async def test_cancel_one_of_two(brain, tools, store):
    (patel,) = store.find_providers(name="patel")
    (nguyen,) = store.find_providers(name="nguyen")
    a = store.book("patient-a", store.open_slots(patel.id, day=TUESDAY)[0].id)
    b = store.book("patient-a", store.open_slots(nguyen.id, day=WEDNESDAY)[0].id)
    d = Dialogue(brain, tools)
    which = await d.say("cancel my appointment")
    assert "Which one" in which and "Doctor Patel" in which and "Doctor Nguyen" in which
    confirm = await d.say("the one with doctor nguyen")
    assert "Doctor Nguyen" in confirm and "Doctor Patel" not in confirm
    await d.say("yes")
    assert store.get_appointment(b.id).status == "cancelled"
    assert store.get_appointment(a.id).status == "booked"


async def test_cancel_it_after_listing(brain, tools, store):
    (patel,) = store.find_providers(name="patel")
    appt = store.book("patient-a", store.open_slots(patel.id, day=TUESDAY)[0].id)
    d = Dialogue(brain, tools)
    assert "Doctor Patel" in await d.say("what appointments do I have")
    assert "Shall I cancel it?" in await d.say("cancel it")
    await d.say("yes")
    assert store.get_appointment(appt.id).status == "cancelled"


async def test_reason_is_passed_to_the_booking(brain, tools, store):
    d = Dialogue(brain, tools)
    await d.say("I'd like to see Doctor Patel on Tuesday for a checkup")
    await d.say("the first one")
    await d.say("yes")
    assert d.tool_calls("book_appointment")[0][1]["reason"] == "checkup"
    assert store.appointments_for("patient-a")[0].reason == "checkup"


async def test_list_my_appointments(brain, tools, store):
    d = Dialogue(brain, tools)
    none = await d.say("What appointments do I have?")
    assert "don't have any" in none
    (patel,) = store.find_providers(name="patel")
    store.book("patient-a", store.open_slots(patel.id, day=TUESDAY)[0].id)
    one = await d.say("when is my appointment?")
    assert "Doctor Patel" in one and "Tuesday, December 2nd" in one


async def test_unknown_provider_gets_a_helpful_answer(brain, tools, store):
    d = Dialogue(brain, tools)
    reply = await d.say("I'd like to see Doctor Zzyzx")
    assert "Zzyzx" in reply and "don't have" in reply and "specialist" in reply
    assert d.tool_calls() == []
    follow = await d.say("a cardiologist")
    cardiologists = {p.name for p in store.find_providers(specialty="cardiology")}
    assert d.tool_calls("find_provider")[-1][1] == {"specialty": "cardiology"}
    assert any(name.replace("Dr.", "Doctor") in follow for name in cardiologists)


async def test_close_names_get_suggestions(brain, tools, store):
    d = Dialogue(brain, tools)
    reply = await d.say("book me with doctor kowal")
    assert "Did you mean" in reply and "Doctor Kowalski" in reply and "Doctor Kowalczyk" in reply
    offer = await d.say("Kowalski")
    assert "Doctor Kowalski" in offer
    assert d.tool_calls("list_open_slots")[-1][1]["provider"] == "Dr. Kowalski"


async def test_specialty_request(brain, tools, store):
    dermatologists = [p.name for p in store.find_providers(specialty="dermatology")]
    d = Dialogue(brain, tools)
    reply = await d.say("I need a dermatologist")
    assert d.tool_calls() == [("find_provider", {"specialty": "dermatology"})]
    named = [n for n in dermatologists if n.replace("Dr.", "Doctor") in reply]
    assert 1 <= len(named) <= 3 and "Who would you like to see" in reply
    offer = await d.say("the second one")
    chosen = d.tool_calls("list_open_slots")[-1][1]["provider"]
    assert chosen in dermatologists and chosen.replace("Dr.", "Doctor") in offer
    await d.say("the first one")
    await d.say("yes")
    (appt,) = store.appointments_for("patient-a")
    assert appt.specialty == "dermatology" and appt.provider_name == chosen


async def test_which_providers_question(brain, tools, store):
    d = Dialogue(brain, tools)
    reply = await d.say("Which doctors do cardiology?")
    assert "cardiology" in reply and "book" in reply
    assert d.tool_calls() == [("find_provider", {"specialty": "cardiology"})]
    assert store.appointments_for("patient-a") == []


async def test_taken_slot_is_reoffered(brain, tools, store):
    d = Dialogue(brain, tools)
    offer = await d.say("I'd like to see Doctor Patel on Tuesday")
    first = offered_slots(d, offer)[0]
    await d.say("the first one")
    store.book("patient-b", first["slot_id"])  # another caller was faster
    reply = await d.say("yes")
    assert reply.startswith("Sorry, that time was just taken.")
    assert format_time(datetime.fromisoformat(first["start"])) not in reply
    assert store.appointments_for("patient-a") == []


async def test_failed_audit_is_reported_and_nothing_is_booked(brain, store, tmp_path):
    class BrokenSink:
        async def record_tool_call(self, *, name, arguments, result):
            sqlite3.connect(tmp_path).execute("SELECT 1")  # a directory: cannot open

    tools = ClinicTools(store, patient_id="patient-a", today=MONDAY, audit_sink=BrokenSink())
    d = Dialogue(brain, tools)
    await d.say("I'd like to see Doctor Patel on Tuesday")
    await d.say("the first one")
    reply = await d.say("yes")
    assert "couldn't record" in reply and "not made" in reply
    assert store.appointments_for("patient-a", include_cancelled=True) == []


async def test_small_talk(brain, tools):
    d = Dialogue(brain, tools)
    assert "book" in await d.say("hello")
    assert "Doctor Patel" in await d.say("what can you do?")
    heard = await d.say("purple monkey dishwasher")  # heard, just not a request
    assert "didn't catch" not in heard and "not sure" in heard
    assert "didn't catch" in await d.say("um, uh")  # nothing intelligible
    assert "goodbye" in (await d.say("thanks, bye")).lower()


@pytest.mark.parametrize(
    "opening",
    ["Would it be alright to drop in on Thursday?", "Can I swing by Wednesday?"],
)
async def test_a_visit_on_a_day_is_a_booking_not_a_question_about_hours(brain, tools, opening):
    d = Dialogue(brain, tools)
    reply = await d.say(opening)
    assert "open" not in reply.lower() and "closed" not in reply.lower(), reply
    assert "doctor" in reply.lower() or d.tool_calls("list_open_slots"), reply


async def test_all_replies_are_plain_speech(brain, tools, store):
    d = Dialogue(brain, tools)
    for text in [
        "hi",
        "I need a dermatologist on Friday afternoon",
        "anyone",
        "anything later?",
        "the last one",
        "yes",
        "what appointments do I have",
        "cancel it",
        "yes",
        "do you have an ENT?",
        "no",
        "thank you",
        "no",
    ]:
        await d.say(text)
    assert len(d.replies) == 13


# --- the brain as a pure function of the transcript --------------------------------------------


def test_greets_on_an_empty_transcript(brain):
    assert brain.next_action([]) == Say(GREETING)
    assert brain.next_action([{"role": "system", "content": "be nice"}]) == Say(GREETING)


def test_replays_deterministically(brain):
    messages = [{"role": "user", "content": "I'd like to see Doctor Patel on Tuesday"}]
    first = brain.next_action(messages)
    assert first == brain.next_action(list(messages))
    assert first == CallTool("list_open_slots", {"provider": "Dr. Patel", "day": "2025-12-02"})


def test_run_again_without_new_input_re_asks(brain):
    messages = [{"role": "user", "content": "book an appointment"}]
    question = brain.next_action(messages)
    assert isinstance(question, Say) and "Which doctor" in question.text
    messages.append({"role": "assistant", "content": question.text})
    again = brain.next_action(messages)
    assert again.text.startswith("Are you still there?") and "Which doctor" in again.text
    assert brain.next_action([{"role": "assistant", "content": GREETING}]) == Say(GREETING)


def test_in_progress_tool_result(brain):
    messages = [
        {"role": "user", "content": "I'd like to see Doctor Patel on Tuesday"},
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "list_open_slots", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "IN_PROGRESS"},
    ]
    assert brain.next_action(messages) == Say("One moment, please.")


def test_content_parts_are_read(brain):
    messages = [{"role": "user", "content": [{"type": "text", "text": "cancel my appointment"}]}]
    assert brain.next_action(messages) == CallTool("list_my_appointments", {})


async def test_chat_loop(brain, tools, store):
    lines = iter(["I'd like to see Doctor Patel on Tuesday", "the first one", "yes", "quit"])
    out: list[str] = []
    transcript = await chat_loop(
        brain, tools, input_fn=lambda prompt: next(lines), output_fn=out.append
    )
    assert out[0] == f"Echo: {GREETING}"
    assert len(out) == 4 and "booked" in out[-1]
    assert len(store.appointments_for("patient-a")) == 1
    assert transcript[-1]["role"] == "assistant"


async def test_chat_loop_ends_on_eof(brain, tools):
    def eof(prompt):
        raise EOFError

    out: list[str] = []
    await chat_loop(brain, tools, input_fn=eof, output_fn=out.append)
    assert out == [f"Echo: {GREETING}"]


# --- Pipecat: the tools registered on a real LLM service inside a pipeline ----------------------


async def test_inside_a_pipecat_pipeline(brain, tools, store):
    from pipecat.frames.frames import LLMContextFrame
    from pipecat.pipeline.pipeline import Pipeline
    from pipecat.processors.aggregators.llm_context import LLMContext
    from pipecat.processors.aggregators.llm_response_universal import LLMAssistantAggregator
    from pipecat.tests.utils import SleepFrame, run_test

    from clinic.tool_schemas import TOOLS_SCHEMA
    from processors.local_llm import LocalClinicLLMService

    llm = LocalClinicLLMService(brain=brain)
    tools.register(llm)
    context = LLMContext(
        messages=[{"role": "user", "content": "I'd like to see Doctor Patel on Tuesday"}],
        tools=TOOLS_SCHEMA,
    )
    await run_test(
        Pipeline([llm, LLMAssistantAggregator(context)]),
        frames_to_send=[LLMContextFrame(context), SleepFrame(sleep=0.5)],
    )
    messages = context.get_messages()
    roles = [m["role"] for m in messages]
    assert roles == ["user", "assistant", "tool", "assistant"]
    result = json.loads(messages[2]["content"])
    assert result["ok"] and result["provider"]["name"] == "Dr. Patel"
    assert "Doctor Patel has openings on Tuesday, December 2nd" in messages[3]["content"]


# --- language understanding ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("on Tuesday", TUESDAY),
        ("tuesday.", TUESDAY),
        ("Monday", MONDAY),
        ("next monday", date(2025, 12, 8)),
        ("tomorrow morning", TUESDAY),
        ("the day after tomorrow", WEDNESDAY),
        ("December 3rd", WEDNESDAY),
        ("the 4th of December", date(2025, 12, 4)),
        ("december twenty first", date(2025, 12, 21)),
        ("2025-12-05", date(2025, 12, 5)),
        ("Tuesday, no wait, Wednesday", WEDNESDAY),
        ("Wednesday instead of Tuesday", WEDNESDAY),
        ("next week", date(2025, 12, 8)),
        ("the first one", None),
        ("may I book", None),
    ],
)
def test_parse_day(text, expected):
    assert parse_day(text, MONDAY) == expected


@given(st.dates(min_value=date(2020, 1, 1), max_value=date(2030, 12, 31)), st.integers(0, 6))
def test_weekday_names_resolve_within_a_week(today, weekday):
    name = ["monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"][weekday]
    day = parse_day(f"on {name}", today)
    assert day.weekday() == weekday and 0 <= (day - today).days <= 6


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("10:30", time(10, 30)),
        ("10.30 a.m.", time(10, 30)),
        ("the 2 pm one", time(14)),
        ("2pm", time(14)),
        ("at two", time(14)),
        ("ten thirty", time(10, 30)),
        ("half past three", time(15, 30)),
        ("noon", time(12)),
        ("4:30", time(16, 30)),
        ("9 o'clock", time(9)),
        ("the first one", None),
        ("December 2nd", None),
    ],
)
def test_parse_time(text, expected):
    assert parse_time(text) == expected


OPTIONS = [time(9), time(10, 30), time(14)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("the first one", 0),
        ("second", 1),
        ("the 2nd one", 1),
        ("the last one", 2),
        ("number three", 2),
        ("10:30", 1),
        ("the 2 pm one", 2),
        ("two", 2),  # an offered hour wins over a position
        ("three", 2),
        ("11 am", None),
        ("whatever", None),
    ],
)
def test_parse_choice(text, expected):
    assert parse_choice(text, OPTIONS) == expected


@given(st.lists(st.integers(18, 33), min_size=1, max_size=3, unique=True), st.data())
def test_saying_an_offered_time_picks_it(half_hours, data):
    options = sorted(time(h // 2, 30 * (h % 2)) for h in half_hours)
    index = data.draw(st.integers(0, len(options) - 1))
    assert parse_choice(format_time(options[index]), options) == index


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("yes", True),
        ("Yeah, sure.", True),
        ("go ahead", True),
        ("sounds good", True),
        ("no problem, book it", True),
        ("no", False),
        ("nope, don't", False),
        ("wait", False),
        ("that's not right", False),
        ("hmm", None),
    ],
)
def test_parse_yes_no(text, expected):
    assert parse_yes_no(text) is expected


def test_parse_part_of_day():
    assert parse_part_of_day("tuesday morning") == "morning"
    assert parse_part_of_day("something after lunch") == "afternoon"
    assert parse_part_of_day("good morning, I need Doctor Patel") is None


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ("doctor patel", "Dr. Patel"),
        ("Dr. PATEL", "Dr. Patel"),
        ("I want Patel", "Dr. Patel"),
        ("doctor patell", "Dr. Patel"),
        ("doctor nakashimo on friday", "Dr. Nakashima"),
        ("Dr Rama Swamy", "Dr. Ramaswamy"),
        ("doctor patel's schedule", "Dr. Patel"),
        ("I need a doctor on Tuesday", None),
        ("see a doctor about my knee", None),
    ],
)
def test_match_provider(text, name):
    assert match_provider(text, VOCABULARY["providers"]).name == name


def test_match_provider_unknown_and_ambiguous():
    unknown = match_provider("Doctor Zzyzx please", VOCABULARY["providers"])
    assert unknown.name is None and unknown.heard == "zzyzx" and unknown.suggestions == ()
    close = match_provider("doctor kowal", VOCABULARY["providers"])
    assert close.name is None and {"Dr. Kowalski", "Dr. Kowalczyk"} <= set(close.suggestions)


@pytest.mark.parametrize(
    ("text", "specialty"),
    [
        ("I need a dermatologist", "dermatology"),
        ("a skin doctor", "dermatology"),
        ("my kid needs a checkup", "pediatrics"),
        ("ear nose and throat", "ENT"),
        ("an OB-GYN", "OB-GYN"),
        ("a physical therapist", "physical therapy"),
        ("heart doctor", "cardiology"),
        ("I'd like an appointment", None),
    ],
)
def test_match_specialty(text, specialty):
    assert match_specialty(text, VOCABULARY["specialties"]) == specialty


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("I'd like to book an appointment", Intent.BOOK),
        ("I need to cancel my appointment", Intent.CANCEL),
        ("what appointments do I have", Intent.LIST_APPOINTMENTS),
        ("which doctors do dermatology", Intent.FIND_PROVIDERS),
        ("do you have a cardiologist?", Intent.FIND_PROVIDERS),
        ("can I move my appointment", Intent.RESCHEDULE),
        ("hello", Intent.GREETING),
        ("thank you", Intent.THANKS),
        ("that's all, bye", Intent.GOODBYE),
        ("help", Intent.HELP),
        ("no cancel that", Intent.NONE),
    ],
)
def test_detect_intent(text, intent):
    assert detect_intent(text) == intent


def test_extract_reason_and_formatting():
    assert extract_reason("Doctor Patel on Tuesday for a checkup") == "checkup"
    assert extract_reason("for my knee pain on Friday") == "knee pain"
    assert extract_reason("the first one") is None
    assert format_day(TUESDAY) == "Tuesday, December 2nd"
    assert format_day(date(2025, 12, 11)) == "Thursday, December 11th"
    assert format_time(time(10, 30)) == "10:30 AM" and format_time(time(12)) == "12 PM"
    assert format_day(MONDAY + timedelta(days=20)) == "Sunday, December 21st"
