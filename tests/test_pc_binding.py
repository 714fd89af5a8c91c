"""WebRTC connections bound to the client that made them: renegotiation and ICE patches."""

import asyncio
import json

import aiohttp
import pytest
from aiortc import RTCPeerConnection, RTCSessionDescription

from audit import open_store
from config import EchoSettings
from tests.browser import FAKE_MEDIA, launch, needs_chromium
from tests.conftest import LiveServer, wait_until
from tests.test_limits import an_offer
from tests.test_server import request
from transports.pc_binding import BindingError, PeerBindings, parse_candidate
from transports.webrtc_client import EchoCaller

GOOD_CANDIDATE = {
    "candidate": "candidate:1 1 udp 2130706431 127.0.0.1 9 typ host",
    "sdp_mid": "0",
    "sdp_mline_index": 0,
}
GARBAGE_CANDIDATES = [
    "garbage",
    "candidate:1 1 udp lots 127.0.0.1 9 typ host",
    "candidate:1 1 udp 2130706431 127.0.0.1 70000 typ host",
    "candidate:1 1 udp 2130706431 not-an-address 9 typ host",
    "candidate:1 1 udp 2130706431 127.0.0.1 9 typ host raddr 0.0.0.0 rport x",
]
OTHER_ADDRESS = "127.0.0.2"  # loopback too, but not the address that made the call


async def send(server, method, body, *, source=None, headers=None):
    """``/api/offer`` from ``source`` (a local address to send from), as status and JSON."""
    connector = aiohttp.TCPConnector(local_addr=(source, 0)) if source else None
    async with aiohttp.ClientSession(connector=connector) as http:
        url = f"{server.url}/api/offer"
        async with http.request(method, url, json=body, headers=headers) as res:
            return res.status, await res.json()


def audit_records(settings, kind):
    store = open_store(settings)
    try:
        return [r for r in store.iter_records() if r.kind == kind]
    finally:
        store.close()


async def audio_keeps_coming(caller, seconds=1.0) -> bool:
    before = len(caller.received.chunks)
    await asyncio.sleep(seconds)
    return len(caller.received.chunks) > before + 10 and caller.pc.connectionState == "connected"


@pytest.fixture
def server(tmp_path):
    settings = EchoSettings(_env_file=None, data_dir=tmp_path / "data")
    with LiveServer(settings) as live:
        yield live


@pytest.fixture
async def caller(server):
    caller = EchoCaller(server.url, pipeline="cascaded")
    caller.answer = await caller.connect()
    yield caller
    await caller.close()


def session_of(server, pc_id):
    session = server.app.state.runtime.pc_sessions.get(pc_id)
    return session.session_id if session else None


@pytest.mark.slow
async def test_someone_else_cannot_take_over_a_live_call(server, caller, capfd):
    victim = caller.pc_id
    session_id = session_of(server, victim)
    thief, sdp = await an_offer()
    try:
        hijack = {"sdp": sdp, "type": "offer", "pc_id": victim, "restart_pc": True}
        status, body = await send(server, "POST", hijack, source=OTHER_ADDRESS)
        assert status == 403 and "pc_token" in body["detail"]["error"]
        wrong = {**hijack, "pc_token": "0" * 64}
        status, body = await send(server, "POST", wrong)  # even from the caller's own address
        assert status == 403 and "does not match" in body["detail"]["error"]
        status, _ = await send(server, "POST", hijack, headers={"X-Echo-PC-Token": "x" * 64})
        assert status == 403
    finally:
        await thief.close()
    assert await audio_keeps_coming(caller), "the caller lost its audio"
    assert session_of(server, victim) == session_id  # same call, same patient
    _, health = await request(server, "GET", "/healthz")
    assert health["sessions"] == 1
    assert not audit_records(server.settings, "renegotiated")
    _, logged = capfd.readouterr()
    assert logged.count("refused POST /api/offer: 403") == 3 and "0" * 64 not in logged


@pytest.mark.slow
async def test_the_owner_renegotiates_with_its_token_from_anywhere(server, caller):
    session_id = session_of(server, caller.pc_id)
    # Same peer connection, a new offer (as a browser adding a track would), sent from
    # another address with the token: a client that moved networks keeps its call.
    await caller.pc.setLocalDescription(await caller.pc.createOffer())
    offer = {
        "sdp": caller.pc.localDescription.sdp,
        "type": "offer",
        "pc_id": caller.pc_id,
        "pc_token": caller.answer["pc_token"],
    }
    status, answer = await send(server, "POST", offer, source=OTHER_ADDRESS)
    assert status == 200, answer
    await caller.pc.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
    assert answer["pc_id"] == caller.pc_id and answer["pc_token"] == caller.answer["pc_token"]
    assert await audio_keeps_coming(caller)
    assert session_of(server, caller.pc_id) == session_id

    # A full restart (new peer connection) with the token in the header.
    fresh = RTCPeerConnection()
    try:
        fresh.addTransceiver("audio", direction="sendrecv")
        await fresh.setLocalDescription(await fresh.createOffer())
        restart = {"sdp": fresh.localDescription.sdp, "type": "offer", "pc_id": caller.pc_id}
        restart["restart_pc"] = True
        headers = {"X-Echo-PC-Token": caller.answer["pc_token"]}
        status, answer = await send(server, "POST", restart, headers=headers)
        assert status == 200, answer
        await fresh.setRemoteDescription(RTCSessionDescription(answer["sdp"], answer["type"]))
        assert await wait_until(lambda: fresh.connectionState == "connected", timeout=20)
        assert session_of(server, answer["pc_id"]) == session_id  # same call, new pc_id
        assert answer["pc_token"] != caller.answer["pc_token"]
    finally:
        await fresh.close()

    records = await wait_until(lambda: audit_records(server.settings, "renegotiated"), 10)
    assert [r.session_id for r in records] == [session_id, session_id]
    assert [r.body["allowed_by"] for r in records] == ["pc_token", "pc_token"]
    assert [r.body["restart_pc"] for r in records] == [False, True]


@pytest.mark.slow
async def test_ice_patches_need_the_token_or_the_same_address(server, caller, capfd):
    patch = {"pc_id": caller.pc_id, "candidates": [GOOD_CANDIDATE]}
    status, body = await send(server, "PATCH", {**patch, "pc_token": "f" * 64})
    assert status == 403 and "does not match" in body["detail"]["error"]
    status, body = await send(server, "PATCH", patch, source=OTHER_ADDRESS)
    assert status == 403 and "pc_token" in body["detail"]["error"]
    status, body = await send(server, "PATCH", {**patch, "pc_id": "SmallWebRTCConnection-0"})
    assert status == 404 and "pc_id" in body["detail"]["error"]
    # Pipecat's JS client sends no token: accepted from the address that made the call.
    status, body = await send(server, "PATCH", patch)
    assert (status, body) == (200, {"status": "ok"})
    token = caller.answer["pc_token"]
    headers = {"X-Echo-PC-Token": token}
    status, _ = await send(server, "PATCH", patch, source=OTHER_ADDRESS, headers=headers)
    assert status == 200
    assert await audio_keeps_coming(caller)
    _, logged = capfd.readouterr()
    assert "refused PATCH /api/offer: 403" in logged and token not in logged


@pytest.mark.slow
async def test_a_garbage_candidate_is_a_400_and_the_call_goes_on(server, caller, capfd):
    for garbage in GARBAGE_CANDIDATES:
        bad = {"pc_id": caller.pc_id, "candidates": [{**GOOD_CANDIDATE, "candidate": garbage}]}
        status, body = await send(server, "PATCH", bad)
        assert status == 400 and "malformed ICE candidate" in body["detail"]["error"], garbage
    assert await audio_keeps_coming(caller)
    _, logged = capfd.readouterr()
    assert "Traceback" not in logged and "refused PATCH /api/offer: 400" in logged


def test_tokens_are_bound_to_their_pc_id_and_owner():
    bindings = PeerBindings()
    token = bindings.bind("pc-a", "10.0.0.1")
    assert token == bindings.token("pc-a") != PeerBindings().token("pc-a")  # per process
    assert bindings.authorize("pc-a", token=token, address="10.9.9.9") == "pc_token"
    assert bindings.authorize("pc-a", token=None, address="10.0.0.1") == "same_address"
    bindings.bind("pc-b", "10.0.0.2")
    for token_, address, status in [
        (bindings.token("pc-b"), "10.0.0.1", 403),  # another connection's token
        ("é" * 64, "10.0.0.1", 403),  # not even ASCII: refused, not a TypeError
        (None, "10.0.0.2", 403),
        (None, None, 403),
    ]:
        with pytest.raises(BindingError) as refused:
            bindings.authorize("pc-a", token=token_, address=address)
        assert refused.value.status == status
    bindings.release("pc-a")
    with pytest.raises(BindingError) as gone:
        bindings.authorize("pc-a", token=token, address="10.0.0.1")
    assert gone.value.status == 404 and "pc-a" not in bindings


def test_candidates_are_checked_before_aiortc_sees_them():
    candidate = parse_candidate(GOOD_CANDIDATE["candidate"], "0", 0)
    assert (candidate.ip, candidate.port, candidate.type, candidate.sdpMid) == (
        "127.0.0.1",
        9,
        "host",
        "0",
    )
    mdns = "candidate:2 1 UDP 2122252543 0b3f2d9c-1d3c-4b0e-9f1a-7e2a1d3c4b5e.local 54321 typ host"
    assert parse_candidate(mdns, "0", 0).ip.endswith(".local")
    relayed = "candidate:3 1 udp 41885439 203.0.113.7 3478 typ relay raddr 0.0.0.0 rport 0"
    assert parse_candidate(relayed, "0", 0).relatedPort == 0
    assert parse_candidate("", "0", 0) is None  # end of candidates
    odd = ["1 1 udp 1 127.0.0.1 9 type host", "a b c d e f typ", "1 ² udp 1 127.0.0.1 9 typ host"]
    for garbage in GARBAGE_CANDIDATES + odd:
        with pytest.raises(ValueError):
            parse_candidate(garbage, "0", 0)


@pytest.mark.slow
@needs_chromium
async def test_the_page_sends_its_token_when_it_renegotiates_and_patches(server):
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await launch(p, *FAKE_MEDIA)
        try:
            page = await browser.new_page()
            errors = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            sent = []  # later requests (the first offer goes to /api/offer?pipeline=...)
            page.on(
                "request",
                lambda r: (
                    r.url.endswith("/api/offer") and sent.append((r.method, r.post_data_json))
                ),
            )
            await page.goto(server.url + "/")
            await page.wait_for_function("document.querySelectorAll('#pipeline option').length")
            await page.click("#connect")
            await page.wait_for_function(
                "document.getElementById('status').textContent === 'connected'", timeout=30000
            )
            pc_id = await page.evaluate("echoPage.pcId")
            session_id = session_of(server, pc_id)
            assert session_id and await page.evaluate("typeof echoPage.pcToken === 'string'")
            # As when the server asks for a new offer; then a late candidate, trickled.
            await page.evaluate(
                "echoPage.onMessage(JSON.stringify({type: 'signalling', "
                "message: {type: 'renegotiate'}}))"
            )
            await page.wait_for_function(
                "document.getElementById('log').textContent.includes('renegotiated')", timeout=20000
            )
            await page.evaluate(f"echoPage.trickle({json.dumps(GOOD_CANDIDATE)})")
            log = await page.evaluate("document.getElementById('log').textContent")
            assert "failed" not in log and "refused" not in log, log
            assert await page.evaluate("echoPage.pc.connectionState") == "connected"
            token = await page.evaluate("echoPage.pcToken")
        finally:
            await browser.close()
    assert errors == []
    assert [(method, body["pc_id"], body["pc_token"]) for method, body in sent] == [
        ("POST", pc_id, token),
        ("PATCH", pc_id, token),
    ]
    records = await wait_until(lambda: audit_records(server.settings, "renegotiated"), 10)
    assert [(r.session_id, r.body["allowed_by"]) for r in records] == [(session_id, "pc_token")]
