"""The care capabilities: reschedule, refills, hand-off, clinic information, earliest openings,
caller identification, emergencies and honest answers — store, tools and multi-turn dialogue.

Caller sentences here are written for these tests and are in no evaluation set.
"""

import json
import re
from datetime import date, timedelta

import pytest

from clinic.care import CareStore
from clinic.cli_chat import run_turn
from clinic.dialogue.brain import ClinicBrain
from clinic.info import answer, load_info
from clinic.store import ClinicStore
from clinic.store_records import AppointmentNotFoundError, SlotUnavailableError
from clinic.tools import ClinicTools
from config import DEFAULT_VOCABULARY

MONDAY = date(2025, 12, 1)
VOCABULARY = json.loads(DEFAULT_VOCABULARY.read_text())
MEDS = VOCABULARY["medications"]


class Sink:
    """An audit sink that records every call (or fails, when told to)."""

    def __init__(self, fail: bool = False):
        self.calls: list[tuple[str, dict, dict]] = []
        self.fail = fail

    async def record_tool_call(self, *, name, arguments, result):
        if self.fail:
            raise RuntimeError("audit store down")
        self.calls.append((name, arguments, result))


@pytest.fixture
def store(tmp_path) -> ClinicStore:
    s = ClinicStore(tmp_path / "clinic.db")
    s.seed(VOCABULARY, start=MONDAY, days=14)
    CareStore(s).add_patient("Rosa Delgado", date(1975, 6, 9), pid="patient-rosa")
    return s


def make_tools(store, **kw) -> ClinicTools:
    kw.setdefault("patient_id", "patient-call-1")
    return ClinicTools(store, today=MONDAY, medications=MEDS, **kw)


@pytest.fixture
def brain(store) -> ClinicBrain:
    return ClinicBrain.for_store(store, today=MONDAY, medications=MEDS)


class Call:
    """One conversation: greeting, then each caller line through the real brain and tools."""

    def __init__(self, brain, tools):
        self.brain, self.tools, self.messages = brain, tools, []

    async def say(self, text: str) -> str:
        return await run_turn(self.brain, self.tools, self.messages, text)

    def calls(self) -> list[tuple[str, dict]]:
        out = []
        for m in self.messages:
            for c in m.get("tool_calls") or []:
                out.append((c["function"]["name"], json.loads(c["function"]["arguments"])))
        return out


def _two_slots(store, provider="patel"):
    (p,) = store.find_providers(name=provider)
    slots = store.open_slots(p.id, day=MONDAY + timedelta(days=1), limit=3)
    return p, slots


# --- store --------------------------------------------------------------------------------------


def test_reschedule_moves_the_booking_in_one_transaction(store):
    _, (first, second, _) = _two_slots(store)
    old = store.book("p1", first.id)
    moved = store.begin_reschedule(old.id, "p1", second.id).commit()
    assert moved.slot_id == second.id and moved.status == "booked"
    assert store.get_appointment(old.id).status == "cancelled"
    assert not store.get_slot(first.id).booked and store.get_slot(second.id).booked
    assert [a.id for a in store.appointments_for("p1")] == [moved.id]


def test_a_failed_reschedule_keeps_the_old_booking(store):
    _, (first, second, _) = _two_slots(store)
    old = store.book("p1", first.id)
    store.book("p2", second.id)  # someone else took the new slot
    with pytest.raises(SlotUnavailableError):
        store.begin_reschedule(old.id, "p1", second.id)
    with pytest.raises(AppointmentNotFoundError):
        store.begin_reschedule(old.id, "p2", first.id)  # not p2's appointment
    assert store.get_appointment(old.id).status == "booked"
    assert store.get_slot(first.id).booked


def test_a_rolled_back_reschedule_changes_nothing(store):
    _, (first, second, _) = _two_slots(store)
    old = store.book("p1", first.id)
    store.begin_reschedule(old.id, "p1", second.id).rollback()
    assert store.get_appointment(old.id).status == "booked"
    assert not store.get_slot(second.id).booked


def test_earliest_slots_across_a_specialty_and_part_of_day(store):
    slots = store.open_slots(None, MONDAY, "afternoon", limit=5, specialty="cardiology")
    cardiologists = {p.name for p in store.find_providers(specialty="cardiology")}
    assert slots and {s.provider_name for s in slots} <= cardiologists
    assert all(s.start_utc.astimezone(store.tz).hour >= 12 for s in slots)
    assert [s.start_utc for s in slots] == sorted(s.start_utc for s in slots)


# --- tools --------------------------------------------------------------------------------------


async def test_refill_request_is_stored_normalized_and_audited(store):
    sink = Sink()
    tools = make_tools(store, audit_sink=sink)
    result = await tools.call("request_refill", {"medication": "Lisinoprill"})
    assert result["ok"] and result["medication"] == "lisinopril"
    (row,) = CareStore(store).requests("refill_requests", "patient-call-1")
    assert row["medication"] == "lisinopril" and row["identified"] == 0
    assert [c[0] for c in sink.calls] == ["request_refill"]


async def test_refill_request_is_not_kept_when_the_audit_fails(store):
    tools = make_tools(store, audit_sink=Sink(fail=True))
    result = await tools.call("request_refill", {"medication": "metformin"})
    assert not result["ok"] and result["code"] == "audit_failed"
    assert CareStore(store).requests("refill_requests", "patient-call-1") == []


async def test_handoff_is_a_callback_or_a_transfer(store):
    tools = make_tools(store)
    result = await tools.call("request_handoff", {"reason": "billing", "window": "tomorrow"})
    assert result["mode"] == "callback" and result["window"] == "tomorrow"
    transferred = []

    async def transfer(reason):
        transferred.append(reason)

    phone = make_tools(store, patient_id="patient-call-2", transfer=transfer)
    assert (await phone.call("request_handoff", {"reason": "nurse"}))["mode"] == "transfer"
    assert transferred == ["nurse"]
    rows = CareStore(store).requests("callback_requests", "patient-call-2")
    assert [r["mode"] for r in rows] == ["transfer"]


async def test_clinic_info_comes_from_the_data_file(store):
    info = json.loads(json.dumps(load_info()))
    tools = make_tools(store, info=info)
    hours = await tools.call("clinic_info", {"topic": "hours", "day": "sunday"})
    assert "closed" in hours["answer"].lower()
    info["hours"]["sunday"] = ["10:00", "14:00"]
    changed = await tools.call("clinic_info", {"topic": "hours", "day": "sunday"})
    assert "10 AM to 2 PM" in changed["answer"]
    plan = await tools.call("clinic_info", {"topic": "insurance", "plan": "Zenith Mutual"})
    assert "don't see" in plan["answer"] and "Zenith Mutual" in plan["answer"]


def test_clinic_info_says_it_does_not_know_what_the_data_lacks():
    result = answer("other", info={"general_contact": "the front desk"})
    assert not result["known"] and "don't know" in result["answer"]
    assert "front desk" in result["answer"].lower()


async def test_identity_three_attempts_and_adopting_this_calls_bookings(store):
    tools = make_tools(store)
    _, (slot, *_) = _two_slots(store, "nguyen")
    booked = await tools.call("book_appointment", {"slot_id": slot.id})
    wrong = await tools.call(
        "verify_identity", {"full_name": "Rosa Delgado", "date_of_birth": "1975-06-10"}
    )
    assert not wrong["ok"] and wrong["attempts_left"] == 2
    right = await tools.call(
        "verify_identity", {"full_name": "rosa  delgado", "date_of_birth": "1975-06-09"}
    )
    assert right["ok"] and tools.patient_id == "patient-rosa" and tools.identified
    mine = await tools.call("list_my_appointments", {})
    assert [a["appointment_id"] for a in mine["appointments"]] == [
        booked["appointment"]["appointment_id"]
    ]


async def test_identity_attempts_run_out(store):
    tools = make_tools(store)
    for _ in range(3):
        await tools.call("verify_identity", {"full_name": "A B", "date_of_birth": "1990-01-01"})
    last = await tools.call(
        "verify_identity", {"full_name": "Rosa Delgado", "date_of_birth": "1975-06-09"}
    )
    assert last["code"] == "too_many_attempts" and not tools.identified


async def test_another_patients_booking_is_unreachable(store):
    _, (slot, *_) = _two_slots(store)
    theirs = store.book("patient-rosa", slot.id)
    tools = make_tools(store)
    assert (await tools.call("list_my_appointments", {}))["appointments"] == []
    result = await tools.call("cancel_appointment", {"appointment_id": theirs.id})
    assert result["code"] == "not_found"
    assert store.get_appointment(theirs.id).status == "booked"


# --- dialogue -----------------------------------------------------------------------------------


async def test_emergency_instruction_comes_first(brain, store):
    call = Call(brain, make_tools(store))
    for line in (
        "my grandfather fell and now he won't wake up",
        "it feels like an elephant is sitting on my chest, chest pain all down my arm",
    ):
        reply = await call.say(line)
        assert "911" in re.split(r"(?<=[.!?])\s", reply)[0]
    assert not any(name == "book_appointment" for name, _ in call.calls())


async def test_emergency_interrupts_a_booking_in_progress(brain, store):
    call = Call(brain, make_tools(store))
    await call.say("Book me with Doctor Patel tomorrow")
    reply = await call.say("wait, my son can't breathe")
    assert reply.startswith("If this is an emergency") or "911" in reply.split(".")[0]


async def test_heard_but_unsupported_requests_never_say_didnt_catch(brain, store):
    call = Call(brain, make_tools(store))
    for line in (
        "can you renew my passport",
        "what's a good recipe for lasagna",
        "how many moons does Jupiter have",
        "please text my sister that I'm late",
    ):
        reply = await call.say(line)
        assert "didn't catch" not in reply and len(reply.split()) <= 25, reply
        assert not any(n in ("book_appointment", "list_open_slots") for n, _ in call.calls())


async def test_refill_after_identifying_the_caller(brain, store):
    tools = make_tools(store)
    call = Call(brain, tools)
    ask = await call.say("I'm nearly out of my levothyroxine, could you sort a refill")
    assert "levothyroxine" in ask and "date of birth" in ask
    done = await call.say("Rosa Delgado, June 9th 1975")
    assert "levothyroxine" in done and "care team" in done.lower()
    (row,) = CareStore(store).requests("refill_requests", "patient-rosa")
    assert row["medication"] == "levothyroxine" and row["identified"] == 1


async def test_callback_request_records_the_window(brain, store):
    tools = make_tools(store)
    call = Call(brain, tools)
    reply = await call.say("could somebody ring me back on Thursday afternoon about my bill")
    assert "call you back" in reply
    (row,) = CareStore(store).requests("callback_requests", "patient-call-1")
    assert "thursday" in row["window"]


async def test_front_desk_offer_then_yes_records_a_callback(brain, store):
    call = Call(brain, make_tools(store))
    offer = await call.say("I'd like to speak to a staff member please")
    assert "call you back" in offer and offer.endswith("?")
    await call.say("yes please")
    assert [n for n, _ in call.calls()] == ["request_handoff"]


async def test_reschedule_moves_the_row_after_identification(brain, store):
    (patel,) = store.find_providers(name="patel")
    tuesday = MONDAY + timedelta(days=1)
    old = store.book("patient-rosa", store.open_slots(patel.id, day=tuesday)[0].id)
    call = Call(brain, make_tools(store))
    ask = await call.say("could we shift my Tuesday visit over to Thursday")
    assert "date of birth" in ask
    offer = await call.say("It's Rosa Delgado, born 6/9/1975")
    assert "Thursday" in offer and "Doctor Patel" in offer
    confirm = await call.say("the first one")
    assert confirm.startswith("Move it to Doctor Patel") and "Thursday" in confirm
    done = await call.say("yes")
    assert "Done" in done
    assert store.get_appointment(old.id).status == "cancelled"
    (new,) = store.appointments_for("patient-rosa")
    assert new.start_utc.astimezone(store.tz).date() == MONDAY + timedelta(days=3)
    assert [n for n, _ in call.calls()].count("reschedule_appointment") == 1


async def test_an_unidentified_caller_cannot_list_earlier_appointments(brain, store):
    (patel,) = store.find_providers(name="patel")
    store.book("patient-rosa", store.open_slots(patel.id)[0].id)
    call = Call(brain, make_tools(store))
    ask = await call.say("which appointments have I got at the moment")
    assert "date of birth" in ask and "Patel" not in ask
    wrong = await call.say("Rosa Delgado, January 1st 1990")
    assert "doesn't match" in wrong and "Patel" not in wrong


async def test_earliest_with_anyone_offers_slots_with_doctors(brain, store):
    call = Call(brain, make_tools(store))
    reply = await call.say("I'm not fussy who it is, just the soonest opening Wednesday morning")
    assert ("find_earliest_slots", {"day": "2025-12-03", "part_of_day": "morning"}) in call.calls()
    assert "Doctor" in reply and "Wednesday" in reply and reply.endswith("?")
    confirm = await call.say("the first one")
    assert "Shall I book it?" in confirm


async def test_a_complaint_leads_to_the_right_specialty(brain, store):
    call = Call(brain, make_tools(store))
    await call.say("I've had this itchy patch of skin on my elbow for a month")
    assert ("find_provider", {"specialty": "dermatology"}) in call.calls()


async def test_state_from_an_earlier_turn_is_not_applied_to_an_unrelated_request(brain, store):
    call = Call(brain, make_tools(store))
    await call.say("I'd like to see Doctor Patel")
    reply = await call.say("what's the forecast for the weekend")
    assert "Patel" not in reply and "didn't catch" not in reply


@pytest.mark.parametrize(
    ("said", "name"),
    [
        ("It's Rosa Delgado, born 6/9/1975", "Rosa Delgado"),
        ("my name is jo ann baker and my birthday is march 2nd 1961", "Jo Ann Baker"),
        ("Tomas Ruiz", "Tomas Ruiz"),
        ("I need to cancel my appointment.", None),
        ("Could you check if Doctor Nguyen has anything open", None),
        ("what time is it", None),
    ],
)
def test_names_are_names_and_requests_are_not(said, name):
    from clinic.understanding.care_words import extract_person_name, parse_birth_date

    found = parse_birth_date(said, today=MONDAY)
    got = extract_person_name(said, skip_span=found[1] if found else None, with_date=bool(found))
    assert got == name


async def test_a_new_request_while_identification_is_pending_is_answered(brain, store):
    call = Call(brain, make_tools(store))
    assert "date of birth" in await call.say("which appointments have I got at the moment")
    reply = await call.say("Actually, is Doctor Nguyen free on Friday morning?")
    assert "Doctor Nguyen" in reply and "date of birth" not in reply


async def test_an_unrelated_question_while_identification_is_pending_is_not_a_bad_answer(
    brain, store
):
    call = Call(brain, make_tools(store))
    assert "date of birth" in await call.say("could you refill my levothyroxine for me")
    reply = await call.say("By the way, how tall is Mount Everest?")
    assert "not sure I can help" in reply and "not sure what you mean" not in reply
    assert "date of birth" in reply  # the pending question is asked again
    done = await call.say("Rosa Delgado, June 9th 1975")
    assert "levothyroxine" in done  # the refill goes on


async def test_a_refused_transfer_becomes_a_callback(store):
    async def refused(reason):
        raise RuntimeError("Twilio refused the transfer: 400")

    tools = make_tools(store, patient_id="patient-call-3", transfer=refused)
    result = await tools.call("request_handoff", {"reason": "nurse"})
    assert result["ok"] and result["mode"] == "callback"
    rows = CareStore(store).requests("callback_requests", "patient-call-3")
    assert sorted(r["mode"] for r in rows) == ["callback", "transfer"]
