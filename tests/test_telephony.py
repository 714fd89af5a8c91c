"""Phone calls over Twilio Media Streams, end to end, against the real server.

A scripted caller (``transports.ws_clients.TwilioCaller``) plays Twilio's part on loopback:
the signed voice webhook, then the media WebSocket with ``connected`` / ``start`` /
20 ms base64 8 kHz μ-law ``media`` / ``dtmf`` / ``mark`` / ``stop``. The speech is Piper's,
sent through the phone band; Echo runs its real cascaded pipeline behind it.
"""

import time
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import aiohttp
import numpy as np
import pytest

from audit import open_store
from audit.chain import verify_chain
from clinic.store import ClinicStore
from config import EchoSettings
from tests.conftest import LiveServer, wait_until
from transports.telephony import caller_patient_id
from transports.twilio import signature_is_valid, twilio_signature
from transports.ws_clients import TwilioCaller

pytestmark = pytest.mark.slow

TOKEN = "test-auth-token-not-a-secret"
CALLER = "+15550104242"


@pytest.fixture(autouse=True)
def no_carrier_keys(monkeypatch):
    """A developer's own Twilio / Daily variables must not change what is tested."""
    for var in ("TWILIO_AUTH_TOKEN", "TWILIO_ACCOUNT_SID", "DAILY_API_KEY", "DAILY_API_URL"):
        monkeypatch.delenv(var, raising=False)


@pytest.fixture(scope="module")
def phone_server(tmp_path_factory):
    """Echo with TWILIO_AUTH_TOKEN set: every request must be signed."""
    settings = EchoSettings(
        _env_file=None,
        data_dir=tmp_path_factory.mktemp("phone") / "data",
        twilio_auth_token=TOKEN,
        twilio_account_sid=None,
        public_url=None,
        telephony_pipelines={"+15550100777": "speech_native"},
    )
    with LiveServer(settings) as server:
        yield server


def a_later_weekday(settings) -> str:
    """The next clinic weekday after today, by name (never today: its slots may be past)."""
    day = datetime.now(ZoneInfo(settings.clinic_timezone)).date() + timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day.strftime("%A")


async def say_and_listen(caller: TwilioCaller, speak, text: str) -> float:
    """Say ``text`` down the line; wait for the bot's spoken answer to finish playing."""
    pcm = np.concatenate([speak(text), np.zeros(8000, dtype=np.int16)])
    sent = await caller.say(pcm, 16000)
    start = await caller.wait_for_voice(since=sent - 0.3, timeout=30)
    assert start is not None, f"no spoken answer to {text!r}"
    await caller.wait_for_silence(quiet=1.0, timeout=40)
    return start


def test_twilio_signature_matches_twilios_documented_example():
    params = [
        ("CallSid", "CA1234567890ABCDE"),
        ("Caller", "+12349013030"),
        ("Digits", "1234"),
        ("From", "+12349013030"),
        ("To", "+18005551212"),
    ]
    url = "https://mycompany.com/myapp.php?foo=1&bar=2"
    assert twilio_signature("12345", url, params) == "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    assert signature_is_valid("12345", url, params, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
    # Twilio's validators accept the URL with or without the default port.
    assert signature_is_valid(
        "12345", url.replace(".com/", ".com:443/"), params, "0/KCTR6DLpKmkAf8muzZqo1nDgQ="
    )
    assert not signature_is_valid("12345", url, params[:-1], "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
    assert not signature_is_valid("54321", url, params, "0/KCTR6DLpKmkAf8muzZqo1nDgQ=")
    assert not signature_is_valid("12345", url, params, None)


async def test_phone_booking_call_end_to_end(phone_server, speak):
    settings = phone_server.settings
    caller = TwilioCaller(phone_server.url, pipeline="cascaded", caller=CALLER, auth_token=TOKEN)
    try:
        await caller.dial()
        stream = ET.fromstring(caller.twiml).find("./Connect/Stream")
        assert stream.get("url").endswith("/telephony/twilio/stream")
        assert caller.parameters["pipeline"] == "cascaded"
        assert caller.parameters["patient_id"] == caller_patient_id(CALLER)
        assert CALLER not in caller.twiml  # the number itself is not passed on

        assert await caller.wait_for_voice(since=0.0, timeout=30), "no greeting"
        await caller.wait_for_silence(quiet=1.0, timeout=30)
        # Keypad, a mark echo and garbage mid-call are taken or dropped; the call goes on.
        await caller.press("1")
        await caller.send_raw('{"event": "mark", "mark": {"name": "stray"}}')
        await caller.send_raw("not json at all")
        await caller.send_raw('{"event": "media", "media": {"payload": "%%% not base64"}}')
        day = a_later_weekday(settings)
        await say_and_listen(caller, speak, f"I'd like to see Doctor Patel on {day}.")
        await say_and_listen(caller, speak, "The first one, please.")
        await say_and_listen(caller, speak, "Yes, please book it.")
        runtime = phone_server.app.state.runtime
        assert len(runtime.sessions) == 1
        hung_up = await caller.hang_up()
        # "stop" ends the session at once: the server closes the socket and the session.
        await wait_until(lambda: caller.closed.is_set(), timeout=5)
        assert caller.closed.is_set(), "server kept the socket open after 'stop'"
        await wait_until(lambda: not runtime.sessions, timeout=5)
        assert not runtime.sessions, "session still live after 'stop'"
        assert time.monotonic() - hung_up < 5
    finally:
        await caller.close()

    # The bot's voice came back as μ-law media, well above the line's noise floor.
    voiced = [c for _, c in caller.received.chunks if len(c) and np.abs(c).max() > 2000]
    assert len(voiced) > 50, "too little voiced audio came back"

    patient = caller_patient_id(CALLER)
    store = ClinicStore(settings.resolved_clinic_db(), timezone=settings.clinic_timezone)
    booked = store.appointments_for(patient)
    assert len(booked) == 1 and booked[0].provider_name == "Dr. Patel"

    audit = open_store(settings)
    await wait_until(lambda: any(r.kind == "session_end" for r in audit.iter_records()), 10)
    records = list(audit.iter_records())
    assert verify_chain(records).ok
    start = next(r for r in records if r.kind == "session_start")
    assert start.body["transport"] == "twilio"
    assert start.body["variant"] == "cascaded"
    assert start.body["patient_id"] == patient
    assert any(r.kind == "turn" and r.body["trigger"] == "user" for r in records)
    tool_calls = [r.body for r in records if r.kind == "tool_call"]
    assert any(c["name"] == "book_appointment" and c["result"]["ok"] for c in tool_calls)
    assert any(r.kind == "session_end" for r in records)
    audit.close()


async def post_webhook(server, *, query="", form=None, signature=None, sign=True):
    url = f"{server.url}/telephony/twilio{query}"
    form = form or {"CallSid": "CA1", "From": CALLER, "To": "+15550100999"}
    headers = {}
    if sign:
        headers["X-Twilio-Signature"] = signature or twilio_signature(TOKEN, url, form.items())
    async with aiohttp.ClientSession() as http:
        async with http.post(url, data=form, headers=headers) as res:
            return res.status, await res.text()


async def test_webhook_signature_is_checked(phone_server):
    status, body = await post_webhook(phone_server, sign=False)
    assert status == 403 and "X-Twilio-Signature" in body
    status, body = await post_webhook(phone_server, signature="bm90IHRoZSBzaWduYXR1cmU=")
    assert status == 403
    # Signed for other parameters than the ones sent: refused too.
    form = {"CallSid": "CA1", "From": CALLER, "To": "+15550100999"}
    wrong = twilio_signature(TOKEN, f"{phone_server.url}/telephony/twilio", {"x": "y"}.items())
    status, _ = await post_webhook(phone_server, form=form, signature=wrong)
    assert status == 403
    status, body = await post_webhook(phone_server)
    assert status == 200 and "<Connect><Stream" in body


async def test_webhook_picks_the_variant_and_names_bad_ones(phone_server):
    status, body = await post_webhook(phone_server, query="?pipeline=telepathy")
    assert status == 422 and "telepathy" in body and "cascaded" in body
    # A per-number variant (ECHO_TELEPHONY_PIPELINES) for the called number.
    form = {"CallSid": "CA2", "From": CALLER, "To": "+15550100777"}
    status, body = await post_webhook(phone_server, form=form)
    assert status == 200 and 'value="speech_native"' in body
    status, body = await post_webhook(phone_server, query="?pipeline=speech_native")
    assert status == 200 and 'value="speech_native"' in body


async def test_stream_signature_is_checked(phone_server):
    caller = TwilioCaller(phone_server.url, auth_token=TOKEN)
    try:
        await caller.webhook()
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await caller.open_stream(signature="bm90IHRoZSBzaWduYXR1cmU=")
        assert refused.value.status == 403
        with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
            await caller.open_stream(signature="")
        assert refused.value.status == 403
        assert not phone_server.app.state.runtime.sessions
    finally:
        await caller.close()


async def test_stream_without_start_is_closed_with_the_reason(phone_server):
    caller = TwilioCaller(phone_server.url, auth_token=TOKEN)
    try:
        await caller.webhook()
        headers = caller._signature(caller.stream_url, {})
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(caller.stream_url, headers=headers) as ws:
                await ws.send_str('{"event": "connected", "protocol": "Call"}')
                await ws.send_bytes(b"\x00\x01")
                message = await ws.receive(timeout=10)
                assert message.type == aiohttp.WSMsgType.CLOSE
                assert ws.close_code == 1008 and "start" in (message.extra or "")
    finally:
        await caller.close()


async def test_full_server_turns_calls_away(settings):
    with LiveServer(settings.model_copy(update={"max_sessions": 0})) as server:
        caller = TwilioCaller(server.url)
        try:
            res = await caller.webhook()
            assert res.status == 200
            assert "<Hangup/>" in caller.twiml and "<Stream" not in caller.twiml
            caller.stream_url = server.url.replace("http", "ws", 1) + "/telephony/twilio/stream"
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await caller.open_stream()
            assert refused.value.status == 503
        finally:
            await caller.close()
        async with aiohttp.ClientSession() as http:
            with pytest.raises(aiohttp.WSServerHandshakeError) as refused:
                await http.ws_connect(server.url.replace("http", "ws", 1) + "/ws")
        assert refused.value.status == 503


def test_phone_calls_can_have_their_own_whisper_model(settings):
    import providers
    from providers.local import LocalModels

    assert settings.for_transport("twilio") is settings  # unset: the one model
    phone = settings.model_copy(update={"telephony_whisper_model": "base"})
    assert phone.for_transport("twilio").whisper_model == "base"
    assert phone.for_transport("smallwebrtc").whisper_model == settings.whisper_model
    assert (
        providers.describe(phone.for_transport("twilio"))["stt"]["model"] == "faster-whisper base"
    )
    models = LocalModels(phone)
    web = models.transcriber(model=phone.whisper_model)
    call = models.transcriber(model="base")
    assert call is not web and call is models.transcriber(model="base")  # shared per model
    assert models.whisper("base") is not models.whisper()
