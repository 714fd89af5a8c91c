import json
import sqlite3
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from clinic.store import ClinicStore
from clinic.store_records import (
    AppointmentNotFoundError,
    SlotUnavailableError,
    normalize_appointment_id,
)
from config import DEFAULT_VOCABULARY

MONDAY = date(2025, 12, 1)
TUESDAY = date(2025, 12, 2)


@pytest.fixture(scope="module")
def vocabulary() -> dict:
    return json.loads(DEFAULT_VOCABULARY.read_text())


@pytest.fixture
def store(tmp_path, vocabulary) -> ClinicStore:
    s = ClinicStore(tmp_path / "sub" / "clinic.db")
    s.seed(vocabulary, start=MONDAY, days=14)
    return s


def _counts(path) -> tuple[int, int, int]:
    conn = sqlite3.connect(path)
    try:
        return tuple(
            conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
            for table in ("providers", "slots", "appointments")
        )
    finally:
        conn.close()


def _all_slots(path) -> list[tuple]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(
            "SELECT p.name, s.start_utc FROM slots s JOIN providers p ON p.id = s.provider_id "
            "ORDER BY 1, 2"
        ).fetchall()
    finally:
        conn.close()


def test_creates_parent_dir_and_uses_wal(store):
    assert store.path.exists()
    conn = sqlite3.connect(store.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


def test_seed_is_idempotent_and_deterministic(tmp_path, store, vocabulary):
    before = _counts(store.path)
    assert before[0] == len(vocabulary["providers"])
    assert before[1] > 0
    again = store.seed(vocabulary, start=MONDAY, days=14)
    assert again == {"providers": 0, "slots": 0}
    assert _counts(store.path) == before

    other = ClinicStore(tmp_path / "other.db")
    other.seed(vocabulary, start=MONDAY, days=14)
    assert _all_slots(other.path) == _all_slots(store.path)

    different_seed = ClinicStore(tmp_path / "seed8.db")
    different_seed.seed(vocabulary, start=MONDAY, days=14, seed=8)
    assert _all_slots(different_seed.path) != _all_slots(store.path)


def test_every_specialty_has_a_provider_and_patel_has_one(store, vocabulary):
    providers = store.find_providers()
    assert len(providers) == len(vocabulary["providers"])
    assert {p.specialty for p in providers} == set(vocabulary["specialties"])
    (patel,) = store.find_providers(name="Dr. Patel")
    assert patel.specialty in vocabulary["specialties"]
    assert store.specialties() == sorted(vocabulary["specialties"])


def test_slots_are_weekdays_within_clinic_hours(store):
    conn = sqlite3.connect(store.path)
    starts = [datetime.fromisoformat(r[0]) for r in conn.execute("SELECT start_utc FROM slots")]
    conn.close()
    assert all(s.weekday() < 5 for s in starts)
    assert all(time(9, 0) <= s.time() <= time(16, 30) for s in starts)
    assert all(s.minute in (0, 30) for s in starts)
    assert min(starts).date() >= MONDAY
    assert max(starts).date() < MONDAY + timedelta(days=14)


def test_tuesday_has_open_slots_for_most_providers(store):
    providers = store.find_providers()
    with_slots = [p for p in providers if store.open_slots(p.id, day=TUESDAY, limit=20)]
    assert len(with_slots) >= 0.95 * len(providers)


@pytest.mark.parametrize("query", ["patel", "Doctor Patel", "Dr Patel", "DR. PATEL", " dr.patel "])
def test_find_providers_tolerates_titles_and_case(store, query):
    assert [p.name for p in store.find_providers(name=query)] == ["Dr. Patel"]


def test_find_providers_by_specialty_and_prefix(store):
    derm = store.find_providers(specialty="DERMATOLOGY")
    assert derm and all(p.specialty == "dermatology" for p in derm)
    assert [p.name for p in store.find_providers(name="kowal")] == ["Dr. Kowalczyk", "Dr. Kowalski"]
    assert store.find_providers(name="Zzyzx") == []
    assert store.find_providers(name="Doctor") == []
    (patel,) = store.find_providers(name="patel")
    assert store.find_providers(name="patel", specialty=patel.specialty) == [patel]
    other = "cardiology" if patel.specialty != "cardiology" else "dermatology"
    assert store.find_providers(name="patel", specialty=other) == []


def test_open_slots_filters(store):
    (patel,) = store.find_providers(name="patel")
    day = store.open_slots(patel.id, day=TUESDAY, limit=50)
    assert day and all(s.start_utc.date() == TUESDAY for s in day)
    assert [s.start_utc for s in day] == sorted(s.start_utc for s in day)
    morning = store.open_slots(patel.id, day=TUESDAY, part_of_day="morning", limit=50)
    afternoon = store.open_slots(patel.id, day=TUESDAY, part_of_day="afternoon", limit=50)
    assert all(s.start_utc.hour < 12 for s in morning)
    assert all(s.start_utc.hour >= 12 for s in afternoon)
    assert len(morning) + len(afternoon) == len(day)
    assert len(store.open_slots(patel.id, day=TUESDAY, limit=2)) == min(2, len(day))
    after = day[0].start_utc + timedelta(minutes=1)
    assert all(s.start_utc >= after for s in store.open_slots(patel.id, after=after, limit=50))
    soonest_afternoon = store.open_slots(patel.id, part_of_day="afternoon", limit=10)
    assert soonest_afternoon and all(s.start_utc.hour >= 12 for s in soonest_afternoon)
    assert store.open_slots(patel.id, day=date(2025, 12, 6)) == []  # Saturday
    with pytest.raises(ValueError):
        store.open_slots(patel.id, part_of_day="evening")
    with pytest.raises(ValueError):
        store.open_slots(patel.id, after=datetime(2025, 12, 1, 9))  # naive


def test_book_marks_slot_and_prevents_double_booking(store):
    (patel,) = store.find_providers(name="patel")
    slot = store.open_slots(patel.id, day=TUESDAY)[0]
    appt = store.book("patient-a", slot.id, reason="  checkup ")
    assert appt.id.startswith("APT-") and len(appt.id) == 10
    assert (appt.patient_id, appt.slot_id, appt.provider_id) == ("patient-a", slot.id, patel.id)
    assert (appt.provider_name, appt.start_utc, appt.status) == (
        "Dr. Patel",
        slot.start_utc,
        "booked",
    )
    assert appt.reason == "checkup"
    assert store.get_slot(slot.id).booked is True
    assert slot.id not in [s.id for s in store.open_slots(patel.id, day=TUESDAY, limit=50)]
    with pytest.raises(SlotUnavailableError):
        store.book("patient-b", slot.id)
    with pytest.raises(SlotUnavailableError):
        store.book("patient-b", 10_000_000)
    assert store.appointments_for("patient-b") == []
    assert store.appointments_for("patient-a") == [appt]
    json.dumps(appt.to_dict())
    assert appt.to_dict()["start_utc"].endswith("Z")


def test_concurrent_bookings_of_one_slot_only_one_wins(store):
    (patel,) = store.find_providers(name="patel")
    slot = store.open_slots(patel.id, day=TUESDAY)[0]
    barrier = threading.Barrier(8)

    def attempt(i: int):
        barrier.wait()
        try:
            return store.book(f"patient-{i}", slot.id)
        except SlotUnavailableError:
            return None

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(attempt, range(8)))
    winners = [r for r in results if r is not None]
    assert len(winners) == 1
    conn = sqlite3.connect(store.path)
    assert conn.execute(
        "SELECT count(*) FROM appointments WHERE slot_id = ?", (slot.id,)
    ).fetchone() == (1,)
    conn.close()


def test_cancel_only_own_appointment(store):
    (patel,) = store.find_providers(name="patel")
    slot = store.open_slots(patel.id, day=TUESDAY)[0]
    appt = store.book("patient-a", slot.id)
    with pytest.raises(AppointmentNotFoundError):
        store.cancel(appt.id, "patient-b")
    with pytest.raises(AppointmentNotFoundError):
        store.cancel("APT-ZZZZZZ", "patient-a")
    assert store.get_appointment(appt.id).status == "booked"

    cancelled = store.cancel(appt.id.lower().replace("-", " "), "patient-a")
    assert cancelled.status == "cancelled" and cancelled.cancelled_utc is not None
    assert store.get_slot(slot.id).booked is False
    assert store.appointments_for("patient-a") == []
    assert [a.status for a in store.appointments_for("patient-a", include_cancelled=True)] == [
        "cancelled"
    ]
    with pytest.raises(AppointmentNotFoundError):
        store.cancel(appt.id, "patient-a")
    # the reopened slot can be booked again
    assert store.book("patient-b", slot.id).status == "booked"


def test_pending_booking_is_invisible_until_commit_and_rollback_undoes_it(store):
    (patel,) = store.find_providers(name="patel")
    slot = store.open_slots(patel.id, day=TUESDAY)[0]
    pending = store.begin_book("patient-a", slot.id)
    assert pending.state == "pending"
    assert store.appointments_for("patient-a") == []  # other connections don't see it (WAL)
    assert store.get_slot(slot.id).booked is False
    pending.rollback()
    assert pending.state == "rolled_back"
    assert store.get_slot(slot.id).booked is False
    assert store.appointments_for("patient-a", include_cancelled=True) == []
    with pytest.raises(RuntimeError):
        pending.commit()

    pending = store.begin_book("patient-a", slot.id)
    appt = pending.commit()
    assert pending.commit() == appt
    assert store.appointments_for("patient-a") == [appt]
    with pytest.raises(RuntimeError):
        pending.rollback()


def test_bad_input(tmp_path, vocabulary):
    with pytest.raises(ValueError):
        ClinicStore(":memory:")
    s = ClinicStore(tmp_path / "c.db")
    with pytest.raises(ValueError):
        s.seed({"providers": [], "specialties": ["x"]}, start=MONDAY)
    s.seed(vocabulary, start=MONDAY, days=1)
    slot = s.open_slots(s.find_providers(name="patel")[0].id)[0]
    with pytest.raises(ValueError):
        s.book("  ", slot.id)
    assert s.get_slot(slot.id).booked is False


def test_normalize_appointment_id():
    assert normalize_appointment_id("apt-7k3f9q") == "APT-7K3F9Q"
    assert normalize_appointment_id("7 K 3 F 9 Q") == "APT-7K3F9Q"
    assert normalize_appointment_id("APT 7K3F9Q") == "APT-7K3F9Q"


def test_clinic_timezone_is_used_for_hours_and_days(tmp_path, vocabulary):
    tz = ZoneInfo("America/New_York")
    s = ClinicStore(tmp_path / "ny.db", timezone="America/New_York")
    s.seed({"providers": ["Dr. Patel"], "specialties": ["ENT"]}, start=MONDAY, days=2, seed=3)
    (patel,) = s.find_providers(name="patel")
    slots = s.open_slots(patel.id, day=TUESDAY, limit=50)
    assert slots
    local = [sl.start_utc.astimezone(tz) for sl in slots]
    assert all(t.date() == TUESDAY and time(9) <= t.time() <= time(16, 30) for t in local)
    assert all(sl.start_utc.tzinfo == UTC for sl in slots)
    morning = s.open_slots(patel.id, day=TUESDAY, part_of_day="morning", limit=50)
    assert all(sl.start_utc.astimezone(tz).hour < 12 for sl in morning)
