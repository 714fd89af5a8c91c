"""``POST /api/daily`` against a local server speaking Daily's REST API (rooms, tokens).

The room and token requests are checked as Daily would receive them; Daily's errors come
back as 502 with its message. Joining the room needs the network, so the agent's start is
replaced through ``app.state.daily_bot_starter`` by one that builds the real
``DailyTransport`` and pipeline for the room but does not run them.
"""

import time

import aiohttp
import pytest
from aiohttp import web
from pydantic import SecretStr

from config import EchoSettings
from tests.conftest import LiveServer, free_port
from transports import TRANSPORTS

pytestmark = pytest.mark.slow

API_KEY = "daily-test-key-not-a-secret"


@pytest.fixture(autouse=True)
def no_carrier_keys(monkeypatch):
    """A developer's own Twilio / Daily variables must not change what is tested."""
    for var in ("TWILIO_AUTH_TOKEN", "TWILIO_ACCOUNT_SID", "DAILY_API_KEY", "DAILY_API_URL"):
        monkeypatch.delenv(var, raising=False)


class FakeDaily:
    """Daily's REST shapes: ``POST /v1/rooms``, ``POST /v1/meeting-tokens``."""

    def __init__(self):
        self.port = free_port()
        self.requests: list[tuple[str, dict]] = []
        self.refuse = False
        self.runner: web.AppRunner | None = None

    def authorized(self, request) -> bool:
        return request.headers.get("Authorization") == f"Bearer {API_KEY}" and not self.refuse

    async def rooms(self, request):
        body = await request.json()
        self.requests.append(("rooms", body))
        if not self.authorized(request):
            return web.json_response(
                {"error": "authentication-error", "info": "bad API key"}, status=401
            )
        name = f"echo-{len(self.requests)}"
        return web.json_response(
            {
                "id": "0f4c1f9e-0000-4000-8000-000000000000",
                "name": name,
                "api_created": True,
                "privacy": body.get("privacy", "public"),
                "url": f"https://echo-test.daily.co/{name}",
                "created_at": "2026-01-01T00:00:00.000Z",
                "config": body.get("properties", {}),
            }
        )

    async def tokens(self, request):
        body = await request.json()
        self.requests.append(("meeting-tokens", body))
        if not self.authorized(request):
            return web.json_response({"error": "authentication-error"}, status=401)
        owner = body["properties"].get("is_owner")
        return web.json_response({"token": "owner-token" if owner else "guest-token"})

    async def start(self):
        app = web.Application()
        app.router.add_post("/v1/rooms", self.rooms)
        app.router.add_post("/v1/meeting-tokens", self.tokens)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", self.port).start()

    async def stop(self):
        await self.runner.cleanup()


@pytest.fixture
async def fake_daily():
    daily = FakeDaily()
    await daily.start()
    yield daily
    await daily.stop()


@pytest.fixture
def daily_server(settings, fake_daily):
    settings = settings.model_copy(
        update={
            "daily_api_key": SecretStr(API_KEY),
            "daily_api_url": f"http://127.0.0.1:{fake_daily.port}/v1",
            "daily_room_expiry_secs": 600.0,
        }
    )
    with LiveServer(settings) as server:
        started = []

        async def build_without_joining(runtime, *, name, variant, room, patient_id):
            transport = TRANSPORTS["daily"].create(room_url=room.url, token=room.bot_token)
            session = runtime.new_session(
                transport=transport, transport_name="daily", patient_id=patient_id
            )
            variant.build(session)  # the real pipeline for the room, not run
            started.append({"name": name, "room": room, "patient_id": patient_id})
            return session.session_id

        server.app.state.daily_bot_starter = build_without_joining
        server.started = started
        yield server


async def post(server, path="/api/daily", **kw):
    async with aiohttp.ClientSession() as http:
        async with http.post(server.url + path, **kw) as res:
            return res.status, await res.json()


async def test_creates_an_expiring_room_and_starts_the_agent(daily_server, fake_daily):
    before = time.time()
    status, body = await post(daily_server, json={"pipeline": "cascaded", "patient_id": "p-1"})
    assert status == 200, body
    assert body["room_url"].startswith("https://echo-test.daily.co/echo-")
    assert body["token"] == "guest-token" and body["pipeline"] == "cascaded"
    assert before + 590 <= body["expires_at"] <= time.time() + 610

    (kind, room), *tokens = fake_daily.requests
    assert kind == "rooms" and room["privacy"] == "private"
    assert room["properties"]["exp"] == body["expires_at"]
    assert room["properties"]["eject_at_room_exp"] is True
    assert [k for k, _ in tokens] == ["meeting-tokens", "meeting-tokens"]
    owners = sorted(t["properties"]["is_owner"] for _, t in tokens)
    assert owners == [False, True]
    for _, token in tokens:
        assert token["properties"]["room_name"] == body["room_url"].rsplit("/", 1)[1]
        assert abs(token["properties"]["exp"] - body["expires_at"]) <= 2
        assert token["properties"]["eject_at_token_exp"] is True

    (started,) = daily_server.started
    assert started["room"].url == body["room_url"]
    assert started["room"].bot_token == "owner-token"  # the agent's, not the caller's
    assert started["patient_id"] == "p-1" and started["name"] == "cascaded"

    status, body = await post(daily_server, "/api/daily?pipeline=speech_native")
    assert status == 200 and body["pipeline"] == "speech_native"


async def test_daily_errors_are_502_with_daily_message(daily_server, fake_daily):
    fake_daily.refuse = True
    status, body = await post(daily_server)
    assert status == 502
    assert "401" in body["error"] and "authentication-error" in body["error"]
    assert API_KEY not in body["error"]
    assert not daily_server.started

    await fake_daily.stop()  # Daily unreachable
    status, body = await post(daily_server)
    assert status == 502 and "unreachable" in body["error"]

    status, body = await post(daily_server, json={"pipeline": "telepathy"})
    assert status == 422 and "cascaded" in body["valid"]
    await fake_daily.start()


async def test_without_daily_api_key_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.delenv("DAILY_API_KEY", raising=False)
    monkeypatch.delenv("ECHO_DAILY_API_KEY", raising=False)
    with LiveServer(EchoSettings(_env_file=None, data_dir=tmp_path / "data")) as server:
        status, body = await post(server)
    assert status == 503 and body["missing"] == ["DAILY_API_KEY"]
