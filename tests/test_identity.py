"""Who the caller is: host-signed patient tokens, and what an unidentified session reaches."""

import json
from datetime import date

import pytest

from clinic.identity import TokenError, make_token, verify_token, vouched_patient
from clinic.store import ClinicStore
from clinic.tools import ClinicTools
from config import DEFAULT_VOCABULARY, EchoSettings
from tests.conftest import LiveServer
from tests.test_server import VALID_LOOKING_SDP, request

MONDAY = date(2025, 12, 1)
SECRET = "s3cret-for-tests"


def test_a_token_vouches_until_it_expires():
    token = make_token("patient-42", SECRET, ttl_secs=60, now=1000)
    assert verify_token(token, SECRET, now=1030) == "patient-42"
    with pytest.raises(TokenError, match="expired"):
        verify_token(token, SECRET, now=1061)


@pytest.mark.parametrize(
    "token",
    [
        "patient-42.99999999999.0000",  # forged signature
        make_token("patient-42", "another-secret"),  # signed with another key
        "patient-42",  # no expiry, no signature
        {"patient_id": "patient-42"},  # not a string
        "x" * 5000,  # absurdly long
    ],
)
def test_forged_or_malformed_tokens_are_refused(token):
    with pytest.raises(TokenError):
        verify_token(token, SECRET)


def test_a_bare_patient_id_is_ignored_and_a_token_needs_a_secret():
    assert vouched_patient({"patient_id": "patient-alice"}, SECRET) is None
    assert vouched_patient(None, SECRET) is None
    with pytest.raises(TokenError, match="not accepted"):
        vouched_patient({"patient_token": make_token("p", SECRET)}, None)


async def test_an_unidentified_session_reaches_only_its_own_bookings(tmp_path):
    store = ClinicStore(tmp_path / "clinic.db")
    store.seed(json.loads(DEFAULT_VOCABULARY.read_text()), start=MONDAY, days=7)
    (patel,) = store.find_providers(name="patel")
    earlier, now = store.open_slots(patel.id, day=MONDAY, limit=2)
    theirs = store.book("patient-caller-id", earlier.id)  # e.g. a number's earlier booking
    tools = ClinicTools(store, patient_id="patient-caller-id", today=MONDAY)
    assert (await tools.call("list_my_appointments", {}))["appointments"] == []
    refused = await tools.call("cancel_appointment", {"appointment_id": theirs.id})
    assert refused["code"] == "not_found" and store.get_appointment(theirs.id).status == "booked"
    mine = await tools.call("book_appointment", {"slot_id": now.id})
    listed = await tools.call("list_my_appointments", {})
    assert [a["appointment_id"] for a in listed["appointments"]] == [
        mine["appointment"]["appointment_id"]
    ]


async def test_the_offer_refuses_a_forged_token_with_401(tmp_path):
    settings = EchoSettings(_env_file=None, data_dir=tmp_path / "data", patient_token_secret=SECRET)
    with LiveServer(settings) as server:
        forged = {"patient_token": "patient-alice.99999999999.deadbeef"}
        status, body = await request(
            server,
            "POST",
            "/api/offer",
            json={"sdp": VALID_LOOKING_SDP, "type": "offer", "request_data": forged},
        )
        assert status == 401 and "signature" in body["detail"]["error"]
        status, body = await request(server, "GET", "/healthz")
        assert status == 200 and body["sessions"] == 0
