"""Bootstrap endpoint: listing, and clear 4xx/5xx errors that leave the server serving."""

import re

import aiohttp
import pytest

from config import EchoSettings
from tests.conftest import LiveServer, wait_until

pytestmark = pytest.mark.slow

VALID_LOOKING_SDP = (
    "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 111\r\nc=IN IP4 0.0.0.0\r\n"
    "a=ice-ufrag:abcd\r\na=ice-pwd:abcdefghijklmnopqrstuv\r\n"
    "a=fingerprint:sha-256 00:11\r\na=setup:actpass\r\na=mid:0\r\na=sendrecv\r\n"
    "a=rtpmap:111 opus/48000/2\r\n"
)


async def request(server, method, path, **kw):
    async with aiohttp.ClientSession() as http:
        async with http.request(method, server.url + path, **kw) as res:
            return res.status, await res.json()


async def test_healthz_index_and_pipelines(live_server):
    status, body = await request(live_server, "GET", "/healthz")
    assert (status, body["status"]) == (200, "ok")
    async with aiohttp.ClientSession() as http:
        async with http.get(live_server.url + "/") as res:
            page = await res.text()
        assert res.status == 200 and '<script type="module" src="/src/echo.js">' in page
        # Echo's page is its own ES modules, served from this server: nothing from elsewhere.
        for name in ("echo.js", "view.js", "token.js", "echo.css"):
            async with http.get(f"{live_server.url}/src/{name}") as res:
                assert res.status == 200, name
                page += await res.text()
    assert "RTCPeerConnection" in page and "/api/offer" in page and "Conversation" in page
    assert not re.search(r"""(?:src|href)=["']?(?:https?:)?//|from ["'](?:https?:)?//""", page)
    status, body = await request(live_server, "GET", "/api/pipelines")
    names = {p["name"]: p for p in body["pipelines"]}
    assert names["cascaded"]["available"] is True and names["cascaded"]["default"] is True
    assert body["providers"]["stt"]["provider"] == "whisper"


async def test_bootstrap_errors_are_clear_and_server_keeps_serving(live_server):
    # Unknown pipeline → 422 naming the valid ones (query string and request_data alike).
    status, body = await request(
        live_server,
        "POST",
        "/api/offer?pipeline=telepathy",
        json={"sdp": VALID_LOOKING_SDP, "type": "offer"},
    )
    assert status == 422
    assert "telepathy" in body["detail"]["error"] and "cascaded" in body["detail"]["valid"]
    status, body = await request(
        live_server,
        "POST",
        "/api/offer",
        json={"sdp": VALID_LOOKING_SDP, "type": "offer", "request_data": {"pipeline": "nope"}},
    )
    assert status == 422 and "nope" in body["detail"]["error"]

    # Malformed SDP → 400 saying why.
    status, body = await request(
        live_server, "POST", "/api/offer", json={"sdp": "hello world", "type": "offer"}
    )
    assert status == 400 and "malformed SDP" in body["detail"]["error"]
    status, body = await request(
        live_server,
        "POST",
        "/api/offer",
        json={"sdp": VALID_LOOKING_SDP.replace("m=audio", "m=video"), "type": "offer"},
    )
    assert status == 400 and "m=audio" in body["detail"]["error"]
    # SDP that passes the shape check but that aiortc cannot apply → 400 too.
    status, body = await request(
        live_server, "POST", "/api/offer", json={"sdp": VALID_LOOKING_SDP, "type": "offer"}
    )
    assert status == 400 and "malformed SDP" in body["detail"]["error"]

    # Body shape errors → 422 without echoing the body.
    status, body = await request(live_server, "POST", "/api/offer", json={"type": "offer"})
    assert status == 422 and body["detail"][0]["loc"][-1] == "sdp"
    status, body = await request(
        live_server, "POST", "/api/offer", json={"sdp": "x" * 70000, "type": "offer"}
    )
    assert status == 422
    status, body = await request(
        live_server,
        "PATCH",
        "/api/offer",
        json={"pc_id": "unknown", "candidates": []},
    )
    assert status == 404

    status, body = await request(live_server, "GET", "/healthz")
    assert status == 200 and body["sessions"] == 0


async def test_missing_cloud_key_is_503_naming_the_variable(tmp_path):
    s = EchoSettings(_env_file=None, data_dir=tmp_path, llm_provider="openai")
    with LiveServer(s) as server:
        status, body = await request(server, "GET", "/api/pipelines")
        cascaded = next(p for p in body["pipelines"] if p["name"] == "cascaded")
        assert cascaded["available"] is False and cascaded["missing"] == ["OPENAI_API_KEY"]
        status, body = await request(
            server, "POST", "/api/offer", json={"sdp": VALID_LOOKING_SDP, "type": "offer"}
        )
        assert status == 503 and "OPENAI_API_KEY" in body["detail"]["error"]
        status, _ = await request(server, "GET", "/healthz")
        assert status == 200


async def test_readyz_waits_for_the_phrase_warm_up_and_healthz_stays_up(live_server):
    # Right after start-up Piper is still pre-synthesizing the brain's phrases (~10 s on
    # two cores): not ready for calls, but alive.
    status, body = await request(live_server, "GET", "/readyz")
    assert (status, body["status"]) == (503, "warming")
    status, body = await request(live_server, "GET", "/healthz")
    assert status == 200 and body["warming"] is True

    runtime = live_server.app.state.runtime
    assert await wait_until(lambda: not runtime.warming, timeout=120)
    status, body = await request(live_server, "GET", "/readyz")
    assert (status, body["status"]) == (200, "ready")
    assert len(runtime.models.phrases) > 20
    status, body = await request(live_server, "GET", "/healthz")
    assert body["warming"] is False
