"""ECHO_API_TOKEN: the bootstrap and admin API answers only callers that present it."""

import aiohttp
import pytest
from pydantic import SecretStr

from config import EchoSettings
from tests.browser import launch, needs_chromium
from tests.conftest import LiveServer
from tests.test_server import request
from transports.guards import presented_token, token_matches

TOKEN = "s3cret-token-for-tests"


@pytest.fixture(scope="module")
def guarded(tmp_path_factory):
    settings = EchoSettings(
        _env_file=None,
        data_dir=tmp_path_factory.mktemp("token") / "data",
        api_token=SecretStr(TOKEN),
    )
    with LiveServer(settings) as server:
        yield server


async def test_the_api_needs_the_token_and_the_page_and_probes_do_not(guarded):
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    status, body = await request(guarded, "GET", "/api/pipelines")
    assert status == 401 and "API token" in body["detail"]["error"]
    wrong = {"Authorization": "Bearer not-it"}
    assert (await request(guarded, "GET", "/api/pipelines", headers=wrong))[0] == 401
    assert (await request(guarded, "GET", "/api/pipelines", headers=bearer))[0] == 200
    # A refused offer starts nothing; the same offer with the token reaches the route.
    offer = {"sdp": "v=0", "type": "offer"}
    assert (await request(guarded, "POST", "/api/offer", json=offer))[0] == 401
    status, _ = await request(guarded, "POST", "/api/offer", json=offer, headers=bearer)
    assert status == 400  # past the guard: the route's own check of the SDP
    status, body = await request(guarded, "GET", "/healthz")
    assert status == 200 and body["sessions"] == 0
    async with aiohttp.ClientSession() as http:
        async with http.get(guarded.url + "/") as res:
            assert res.status == 200  # the page itself is open; it sends the token
        async with http.post(guarded.url + "/telephony/twilio") as res:
            assert res.status != 401  # Twilio signs its requests instead


async def test_a_websocket_needs_the_token_too(guarded):
    ws_url = guarded.url.replace("http", "ws") + "/ws"
    async with aiohttp.ClientSession() as http:
        with pytest.raises(aiohttp.WSServerHandshakeError):
            async with http.ws_connect(ws_url):
                pass
        async with http.ws_connect(f"{ws_url}?token={TOKEN}") as ws:
            assert not ws.closed


def test_token_sources_and_comparison():
    http = {"type": "http", "headers": [(b"authorization", b"Bearer abc")], "query_string": b""}
    assert presented_token(http) == "abc"
    query = {"type": "http", "headers": [], "query_string": b"token=abc"}
    assert presented_token(query) is None  # a URL token only for WebSockets (logs keep URLs)
    assert presented_token({**query, "type": "websocket"}) == "abc"
    assert token_matches("abc", "abc") and not token_matches("abd", "abc")
    assert not token_matches(None, "abc")


@pytest.mark.slow
@needs_chromium
@pytest.mark.parametrize("path", ["/", "/rtvi"])
async def test_both_pages_send_the_token_from_their_url_fragment(guarded, path):
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await launch(p)
        try:
            page = await browser.new_page()
            refused = []
            page.on("response", lambda r: refused.append(r.url) if r.status == 401 else None)
            await page.goto(f"{guarded.url}{path}#token={TOKEN}")
            # The variant list comes from /api/pipelines, which needs the token.
            await page.wait_for_function(
                "document.querySelectorAll('#pipeline option').length > 0", timeout=15000
            )
            assert "token" not in page.url  # the fragment is dropped from the address bar
            assert not refused
        finally:
            await browser.close()
