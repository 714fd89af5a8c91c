"""Limits that hold under concurrency: the session cap and the request body size."""

import asyncio

import aiohttp
import pytest
from aiortc import RTCPeerConnection

from config import EchoSettings
from tests.conftest import LiveServer
from tests.test_server import request

pytestmark = pytest.mark.slow


async def an_offer() -> tuple[RTCPeerConnection, str]:
    pc = RTCPeerConnection()
    pc.addTransceiver("audio", direction="sendrecv")
    await pc.setLocalDescription(await pc.createOffer())
    return pc, pc.localDescription.sdp


@pytest.fixture
def capped(tmp_path):
    settings = EchoSettings(_env_file=None, data_dir=tmp_path / "data", max_sessions=2)
    with LiveServer(settings) as server:
        yield server


async def test_concurrent_offers_and_made_up_pc_ids_do_not_pass_the_cap(capped):
    peers = [await an_offer() for _ in range(8)]
    try:
        url = f"{capped.url}/api/offer"
        async with aiohttp.ClientSession() as http:

            async def post(sdp, pc_id=None):
                body = {"sdp": sdp, "type": "offer", **({"pc_id": pc_id} if pc_id else {})}
                async with http.post(url, json=body) as r:
                    return r.status

            statuses = await asyncio.gather(*(post(sdp) for _, sdp in peers[:6]))
            assert statuses.count(200) <= 2 and statuses.count(503) >= 4, statuses
            # A pc_id the server never issued is a new connection: it counts.
            made_up = await post(peers[6][1], pc_id="SmallWebRTCConnection-deadbeef")
            assert made_up == 503
    finally:
        for pc, _ in peers:
            await pc.close()


async def test_an_oversized_body_is_refused_before_it_is_parsed(capped):
    huge = {"sdp": "v=0", "type": "offer", "request_data": {"note": "x" * 400_000}}
    status, body = await request(capped, "POST", "/api/offer", json=huge)
    assert status == 413 and "over" in body["detail"]["error"]
    status, body = await request(capped, "GET", "/healthz")
    assert status == 200 and body["sessions"] == 0


def test_rate_limiter_window_and_bounded_keys():
    from transports.guards import RateLimiter

    now = [0.0]
    limiter = RateLimiter(3, clock=lambda: now[0], max_keys=2)
    assert [limiter.allow("a") for _ in range(4)] == [True, True, True, False]
    now[0] = 59.9
    assert not limiter.allow("a")
    now[0] = 60.1
    assert limiter.allow("a")  # the first three left the window
    limiter.allow("b")
    limiter.allow("c")  # a third address evicts the oldest, memory stays bounded
    assert len(limiter._seen) == 2


async def test_an_address_flooding_offers_gets_429_and_others_keep_working(tmp_path):
    settings = EchoSettings(_env_file=None, data_dir=tmp_path / "data", offers_per_minute=5)
    with LiveServer(settings) as server:
        bad = {"sdp": "v=0", "type": "offer"}  # refused later anyway: only the count matters
        statuses = [(await request(server, "POST", "/api/offer", json=bad))[0] for _ in range(8)]
        assert statuses[:5] == [400] * 5 and statuses[5:] == [429] * 3
        odd = {"sdp": "v=0", "type": "offer", "request_data": {"pipeline": {"x": 1}}}
        status, _ = await request(server, "GET", "/healthz")
        assert status == 200
        # (a malformed pipeline name is 422, not a server error: checked on a fresh limiter)
        server.app.state.runtime.offer_rate.per_minute = 100
        status, body = await request(server, "POST", "/api/offer", json=odd)
        assert status == 422 and "pipeline" in body["detail"]["error"]
