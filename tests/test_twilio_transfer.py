"""Hand-off on a phone call: Twilio's Calls API, against a local server speaking its shape."""

import base64

import pytest
from aiohttp import web

from transports.twilio import dial_twiml, transfer_call


@pytest.fixture
async def twilio_rest():
    seen: list[dict] = []

    async def update_call(request: web.Request) -> web.Response:
        form = await request.post()
        seen.append(
            {
                "path": request.path,
                "auth": request.headers.get("Authorization", ""),
                "twiml": form.get("Twiml", ""),
            }
        )
        if request.match_info["call"] == "CAgone":
            return web.json_response(
                {"code": 21220, "message": "Call is not in-progress"}, status=400
            )
        return web.json_response({"sid": request.match_info["call"], "status": "in-progress"})

    app = web.Application()
    app.router.add_post("/2010-04-01/Accounts/{account}/Calls/{call}.json", update_call)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}", seen
    await runner.cleanup()


def test_dial_twiml_escapes():
    assert dial_twiml("+1 555 0100") == (
        "<Response><Say>Connecting you now.</Say><Dial>+1 555 0100</Dial></Response>"
    )
    assert "&lt;" in dial_twiml("<script>")


async def test_transfer_updates_the_live_call(twilio_rest):
    base, seen = twilio_rest
    await transfer_call(
        account_sid="AC123", auth_token="tok", call_sid="CA9", number="+15550100", api_base_url=base
    )
    (req,) = seen
    assert req["path"] == "/2010-04-01/Accounts/AC123/Calls/CA9.json"
    assert req["auth"] == "Basic " + base64.b64encode(b"AC123:tok").decode()
    assert "<Dial>+15550100</Dial>" in req["twiml"]


async def test_a_refused_transfer_says_why(twilio_rest):
    base, _ = twilio_rest
    with pytest.raises(RuntimeError, match="400"):
        await transfer_call(
            account_sid="AC123", auth_token="t", call_sid="CAgone", number="+1", api_base_url=base
        )
