import asyncio
import json
import sqlite3
from datetime import UTC, date, datetime, timedelta

import pytest
from pipecat.services.llm_service import FunctionCallParams
from pipecat.services.openai.llm import OpenAILLMService

from clinic.store import ClinicStore
from clinic.tool_args import ToolArgumentError, resolve_day, resolve_part_of_day
from clinic.tool_schemas import TOOL_NAMES, TOOLS_SCHEMA
from clinic.tools import ClinicTools, ToolAuditSink
from config import DEFAULT_VOCABULARY

MONDAY = date(2025, 12, 1)
TUESDAY = date(2025, 12, 2)


class SqliteAuditSink:
    """A small real audit sink: one row per tool call in its own SQLite file.

    Pointing it at a directory makes every write fail for real (SQLite cannot open it).
    ``observe`` lets a test see what other sessions see while the sink runs.
    """

    def __init__(self, path, observe=None):
        self.path = path
        self.observe = observe
        self.observed: list = []

    async def record_tool_call(self, *, name, arguments, result):
        def write():
            conn = sqlite3.connect(self.path)
            try:
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS calls (name TEXT, arguments TEXT, result TEXT)"
                )
                conn.execute(
                    "INSERT INTO calls VALUES (?, ?, ?)",
                    (name, json.dumps(arguments), json.dumps(result)),
                )
                conn.commit()
            finally:
                conn.close()

        await asyncio.to_thread(write)
        if self.observe is not None:
            self.observed.append(await asyncio.to_thread(self.observe))

    def rows(self) -> list[tuple[str, dict, dict]]:
        conn = sqlite3.connect(self.path)
        try:
            return [
                (n, json.loads(a), json.loads(r))
                for n, a, r in conn.execute("SELECT name, arguments, result FROM calls")
            ]
        finally:
            conn.close()


class HangingAuditSink:
    """An audit sink whose backend never answers."""

    def __init__(self):
        self.started = asyncio.Event()

    async def record_tool_call(self, *, name, arguments, result):
        self.started.set()
        await asyncio.Event().wait()


@pytest.fixture
def store(tmp_path) -> ClinicStore:
    s = ClinicStore(tmp_path / "clinic.db")
    s.seed(json.loads(DEFAULT_VOCABULARY.read_text()), start=MONDAY, days=14)
    return s


@pytest.fixture
def tools(store) -> ClinicTools:
    return ClinicTools(store, patient_id="patient-a", today=MONDAY, identified=True)


async def _patel_tuesday(tools) -> list[dict]:
    result = await tools.call("list_open_slots", {"provider": "Dr. Patel", "day": "tuesday"})
    assert result["ok"], result
    return result["slots"]


def test_schema_lists_the_five_tools():
    names = [f.name for f in TOOLS_SCHEMA.standard_tools]
    assert names == list(TOOL_NAMES)
    by_name = {f.name: f for f in TOOLS_SCHEMA.standard_tools}
    assert by_name["list_open_slots"].required == ["provider"]
    assert by_name["book_appointment"].required == ["slot_id"]
    assert by_name["cancel_appointment"].required == ["appointment_id"]
    assert "patient" not in json.dumps([f.to_default_dict() for f in TOOLS_SCHEMA.standard_tools])


@pytest.mark.parametrize(
    ("text", "today", "expected"),
    [
        ("tuesday", MONDAY, TUESDAY),
        ("Tuesday", TUESDAY, TUESDAY),
        ("next tuesday", TUESDAY, TUESDAY + timedelta(days=7)),
        ("monday", TUESDAY, date(2025, 12, 8)),
        ("tomorrow", MONDAY, TUESDAY),
        ("today", MONDAY, MONDAY),
        ("2025-12-03", MONDAY, date(2025, 12, 3)),
        ("2025-12-3", MONDAY, date(2025, 12, 3)),
        ("December 4th", MONDAY, date(2025, 12, 4)),
        ("january 2", MONDAY, date(2026, 1, 2)),
    ],
)
def test_resolve_day(text, today, expected):
    assert resolve_day(text, today) == expected


@pytest.mark.parametrize("text", ["someday", "", "2025-13-40", "blue"])
def test_resolve_day_rejects_garbage(text):
    with pytest.raises(ToolArgumentError):
        resolve_day(text, MONDAY)


def test_resolve_part_of_day():
    assert resolve_part_of_day(None) is None
    assert resolve_part_of_day("Morning") == "morning"
    assert resolve_part_of_day("evening") == "afternoon"
    assert resolve_part_of_day("after lunch") == "afternoon"
    with pytest.raises(ToolArgumentError):
        resolve_part_of_day("midnight snack")


async def test_find_provider(tools, store):
    result = await tools.call("find_provider", {"name": "doctor patel"})
    assert result["ok"] and [p["name"] for p in result["providers"]] == ["Dr. Patel"]

    derm = await tools.call("find_provider", {"specialty": "dermatologist"})
    assert derm["ok"] and derm["specialty"] == "dermatology"
    assert {p["name"] for p in derm["providers"]} == {
        p.name for p in store.find_providers(specialty="dermatology")
    }

    unknown = await tools.call("find_provider", {"name": "Zzyzx"})
    assert unknown["ok"] and unknown["providers"] == [] and unknown["suggestions"] == []
    typo = await tools.call("find_provider", {"name": "Patl"})
    assert typo["providers"] == [] and typo["suggestions"] == ["Dr. Patel"]

    bad = await tools.call("find_provider", {"specialty": "astrology"})
    assert not bad["ok"] and bad["code"] == "unknown_specialty" and "astrology" in bad["error"]
    assert "dermatology" in bad["specialties"]
    empty = await tools.call("find_provider", {})
    assert not empty["ok"] and empty["code"] == "invalid_argument"


async def test_list_open_slots(tools):
    slots = await _patel_tuesday(tools)
    assert 0 < len(slots) <= tools.max_slots
    for slot in slots:
        start = datetime.fromisoformat(slot["start"])
        assert start.date() == TUESDAY and slot["provider"] == "Dr. Patel"
        assert slot["spoken"].startswith("Tuesday, December 2nd at ")
    afternoon = await tools.call(
        "list_open_slots", {"provider": "patel", "day": "2025-12-02", "part_of_day": "afternoon"}
    )
    assert all(datetime.fromisoformat(s["start"]).hour >= 12 for s in afternoon["slots"])
    soonest = await tools.call("list_open_slots", {"provider": "Dr. Patel"})
    assert soonest["ok"] and soonest["day"] is None and soonest["slots"]


async def test_list_open_slots_on_a_closed_day_offers_the_next_ones(tools):
    result = await tools.call("list_open_slots", {"provider": "Dr. Patel", "day": "saturday"})
    assert result["ok"] and result["slots"] == []
    nxt = result["next_available"]
    assert nxt and datetime.fromisoformat(nxt[0]["start"]).date() == date(2025, 12, 8)


@pytest.mark.parametrize(
    ("arguments", "code"),
    [
        ({"provider": "Dr. Zzyzx"}, "unknown_provider"),
        ({"provider": "kowal"}, "ambiguous_provider"),
        ({"provider": "Dr. Patel", "day": "someday"}, "invalid_argument"),
        ({"provider": "Dr. Patel", "day": "2025-11-20"}, "invalid_argument"),
        ({"provider": "Dr. Patel", "part_of_day": "midnight"}, "invalid_argument"),
        ({}, "invalid_argument"),
    ],
)
async def test_list_open_slots_errors(tools, arguments, code):
    result = await tools.call("list_open_slots", arguments)
    assert result["ok"] is False and result["code"] == code
    assert isinstance(result["error"], str) and result["error"]


async def test_book_list_and_cancel(tools, store):
    slot = (await _patel_tuesday(tools))[0]
    booked = await tools.call(
        "book_appointment", {"slot_id": str(slot["slot_id"]), "reason": "rash"}
    )
    assert booked["ok"], booked
    appt = booked["appointment"]
    assert appt["provider"] == "Dr. Patel" and appt["slot_id"] == slot["slot_id"]
    assert appt["status"] == "booked" and appt["reason"] == "rash"
    (row,) = store.appointments_for("patient-a")
    assert row.id == appt["appointment_id"] and row.slot_id == slot["slot_id"]

    again = await tools.call("book_appointment", {"slot_id": slot["slot_id"]})
    assert not again["ok"] and again["code"] == "slot_unavailable"

    mine = await tools.call("list_my_appointments", {})
    assert [a["appointment_id"] for a in mine["appointments"]] == [appt["appointment_id"]]

    # another patient can neither see nor cancel it
    other = ClinicTools(store, patient_id="patient-b", today=MONDAY)
    assert (await other.call("list_my_appointments", {}))["appointments"] == []
    denied = await other.call("cancel_appointment", {"appointment_id": appt["appointment_id"]})
    assert not denied["ok"] and denied["code"] == "not_found"
    assert store.get_appointment(appt["appointment_id"]).status == "booked"

    spoken_id = " ".join(appt["appointment_id"].split("-")[1].lower())
    cancelled = await tools.call("cancel_appointment", {"appointment_id": spoken_id})
    assert cancelled["ok"] and cancelled["appointment"]["status"] == "cancelled"
    assert store.get_slot(slot["slot_id"]).booked is False
    assert (await tools.call("list_my_appointments", {}))["appointments"] == []


@pytest.mark.parametrize(
    ("name", "arguments", "code"),
    [
        ("book_appointment", {"slot_id": "first"}, "invalid_argument"),
        ("book_appointment", {}, "invalid_argument"),
        ("book_appointment", {"slot_id": 99_999_999}, "slot_unavailable"),
        ("cancel_appointment", {}, "invalid_argument"),
        ("cancel_appointment", {"appointment_id": "APT-NOPE22"}, "not_found"),
        ("teleport", {}, "unknown_tool"),
    ],
)
async def test_call_errors_are_results(tools, name, arguments, code):
    result = await tools.call(name, arguments)
    assert result["ok"] is False and result["code"] == code and result["error"]
    json.dumps(result)


async def test_arguments_must_be_an_object(tools):
    result = await tools.call("find_provider", ["patel"])  # type: ignore[arg-type]
    assert result == {
        "ok": False,
        "error": "Tool arguments must be a JSON object.",
        "code": "invalid_argument",
    }


async def test_slots_earlier_today_are_not_offered(store):
    clock = lambda: datetime(2025, 12, 2, 12, 0, tzinfo=UTC)  # noqa: E731
    tools = ClinicTools(store, patient_id="p", today=TUESDAY, clock=clock)
    result = await tools.call("list_open_slots", {"provider": "Dr. Patel", "day": "today"})
    assert result["slots"] and all(
        datetime.fromisoformat(s["start"]).hour >= 12 for s in result["slots"]
    )
    (patel,) = store.find_providers(name="patel")
    morning = store.open_slots(patel.id, day=TUESDAY, part_of_day="morning")[0]
    late = await tools.call("book_appointment", {"slot_id": morning.id})
    assert not late["ok"] and late["code"] == "slot_unavailable"


# --- audit, fail closed ------------------------------------------------------------------------


async def test_audit_records_before_commit(store, tmp_path):
    sink = SqliteAuditSink(
        tmp_path / "audit.db", observe=lambda: store.appointments_for("patient-a")
    )
    assert isinstance(sink, ToolAuditSink)
    tools = ClinicTools(store, patient_id="patient-a", today=MONDAY, audit_sink=sink)
    slot = (await _patel_tuesday(tools))[0]
    booked = await tools.call("book_appointment", {"slot_id": slot["slot_id"]})
    assert booked["ok"]
    assert sink.observed == [[]]  # while the sink ran, nobody could see the booking yet
    assert len(store.appointments_for("patient-a")) == 1
    cancelled = await tools.call(
        "cancel_appointment", {"appointment_id": booked["appointment"]["appointment_id"]}
    )
    assert cancelled["ok"]
    rows = sink.rows()
    assert [(n, r["ok"]) for n, _, r in rows] == [
        ("book_appointment", True),
        ("cancel_appointment", True),
    ]
    assert rows[0][1] == {"slot_id": slot["slot_id"]}
    assert rows[0][2] == booked


async def test_failing_audit_rolls_the_booking_back(store, tmp_path):
    broken = SqliteAuditSink(tmp_path)  # a directory: SQLite cannot open it
    tools = ClinicTools(store, patient_id="patient-a", today=MONDAY, audit_sink=broken)
    slot = (await _patel_tuesday(tools))[0]
    result = await tools.call("book_appointment", {"slot_id": slot["slot_id"]})
    assert result["ok"] is False and result["code"] == "audit_failed"
    assert "could not be recorded" in result["error"]
    assert store.appointments_for("patient-a", include_cancelled=True) == []
    assert store.get_slot(slot["slot_id"]).booked is False
    # the slot is still bookable by anyone
    assert (
        await ClinicTools(store, patient_id="b", today=MONDAY).call(
            "book_appointment", {"slot_id": slot["slot_id"]}
        )
    )["ok"]


async def test_failing_audit_keeps_the_appointment_on_cancel(store, tmp_path):
    plain = ClinicTools(store, patient_id="patient-a", today=MONDAY)
    slot = (await _patel_tuesday(plain))[0]
    appt_id = (await plain.call("book_appointment", {"slot_id": slot["slot_id"]}))["appointment"][
        "appointment_id"
    ]
    tools = ClinicTools(
        store,
        patient_id="patient-a",
        today=MONDAY,
        audit_sink=SqliteAuditSink(tmp_path),
        identified=True,
    )
    result = await tools.call("cancel_appointment", {"appointment_id": appt_id})
    assert result["ok"] is False and result["code"] == "audit_failed"
    assert "still booked" in result["error"]
    assert store.get_appointment(appt_id).status == "booked"
    assert store.get_slot(slot["slot_id"]).booked is True


async def test_hanging_audit_times_out_and_rolls_back(store):
    sink = HangingAuditSink()
    tools = ClinicTools(
        store, patient_id="patient-a", today=MONDAY, audit_sink=sink, audit_timeout_s=0.2
    )
    slot = (await _patel_tuesday(tools))[0]
    result = await tools.call("book_appointment", {"slot_id": slot["slot_id"]})
    assert result["code"] == "audit_failed"
    assert store.get_slot(slot["slot_id"]).booked is False
    # the write lock was released: another booking goes through at once
    assert store.book("patient-b", slot["slot_id"]).status == "booked"


async def test_cancelled_call_rolls_back(store):
    sink = HangingAuditSink()
    tools = ClinicTools(
        store, patient_id="patient-a", today=MONDAY, audit_sink=sink, audit_timeout_s=30
    )
    slot = (await _patel_tuesday(tools))[0]
    task = asyncio.create_task(tools.call("book_appointment", {"slot_id": slot["slot_id"]}))
    await asyncio.wait_for(sink.started.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert store.appointments_for("patient-a", include_cancelled=True) == []
    assert store.book("patient-b", slot["slot_id"]).status == "booked"


# --- Pipecat registration --------------------------------------------------------------------


async def test_register_on_a_pipecat_llm_service(tools, store):
    llm = OpenAILLMService(api_key="sk-not-used")  # no request is made
    tools.register(llm)
    for name in TOOL_NAMES:
        assert llm.has_function(name)

    results = []

    async def result_callback(result, *, properties=None):
        results.append(result)

    slot = (await _patel_tuesday(tools))[0]
    params = FunctionCallParams(
        function_name="book_appointment",
        tool_call_id="call_1",
        arguments={"slot_id": slot["slot_id"]},
        llm=llm,
        pipeline_worker=None,
        context=None,
        result_callback=result_callback,
    )
    await tools.handle_function_call(params)
    assert results and results[0]["ok"]
    assert store.appointments_for("patient-a")[0].slot_id == slot["slot_id"]
