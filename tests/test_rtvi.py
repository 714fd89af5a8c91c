"""RTVI on every variant; Pipecat's JavaScript client page and Echo's page in headless Chromium.

The server speaks Pipecat's RTVI protocol on the data channel beside Echo's own messages
(``pipelines.rtvi``). The RTVI page (``/rtvi``) is the official ``@pipecat-ai/client-js`` with
its SmallWebRTC transport, bundled into ``web/dist/rtvi.js``; it must work with no network but
this server's. Chromium comes from Debian, driven by Playwright with ``executable_path``.
What a speech model heard is never asserted word for word: a transcript is non-empty, a
latency row has a number, an element carries the sentence a person needs.
"""

import asyncio
import json
import re
from pathlib import Path

import numpy as np
import pytest
from pipecat.pipeline.worker import PipelineWorker

import pipelines
from pipelines.rtvi import (
    ACCEPTED_CLIENT_MESSAGES,
    EchoRTVIObserver,
    EchoRTVIProcessor,
    echo_message,
    refusal,
)
from tests.browser import fake_media, launch, needs_chromium
from tests.conftest import LiveServer, wait_until, write_wav

SAID = "I'd like to book an appointment with Doctor Patel."
WEB = Path(__file__).resolve().parents[1] / "web"

# --- the protocol's rules (plain functions) --------------------------------------------------


def test_echo_messages_are_repeated_and_rtvi_ones_are_not():
    latency = {"type": "echo-latency", "turn": 1, "total_ms": 512.0}
    assert echo_message(latency) is latency
    assert echo_message({"type": "echo-vision-image", "image": {}})
    assert echo_message({"label": "rtvi-ai", "type": "server-message", "data": latency}) is None
    assert echo_message({"type": "bot-output"}) is None
    assert echo_message({"type": 3}) is None
    assert echo_message("echo-latency") is None


def test_only_ready_and_disconnect_are_accepted_from_a_client():
    assert ACCEPTED_CLIENT_MESSAGES == {"client-ready", "disconnect-bot"}
    assert refusal("client-ready") is None
    for kind in ("send-text", "send-file", "llm-function-call-result", "raw-audio", "dtmf"):
        reason = refusal(kind)
        assert reason and kind in reason and "client-ready" in reason


@pytest.mark.parametrize("variant", sorted(pipelines.PIPELINES))
def test_every_variant_puts_echo_rtvi_at_the_head(settings, variant):
    from pipecat.transports.smallwebrtc.connection import SmallWebRTCConnection

    from runtime import EchoRuntime
    from transports import TRANSPORTS

    runtime = EchoRuntime(settings)
    transport = TRANSPORTS["smallwebrtc"].create(connection=SmallWebRTCConnection(ice_servers=[]))
    session = runtime.new_session(transport=transport, transport_name="smallwebrtc")
    worker = pipelines.get_variant(variant).build(session)
    assert isinstance(worker, PipelineWorker)
    assert isinstance(worker.rtvi, EchoRTVIProcessor)
    assert worker.pipeline.processors[1] is worker.rtvi  # after the source, before transport-in
    assert isinstance(worker.rtvi.create_rtvi_observer(), EchoRTVIObserver)


def test_bundle_is_pinned_and_fetches_nothing_at_run_time():
    package = json.loads((WEB / "package.json").read_text())
    lock = json.loads((WEB / "package-lock.json").read_text())
    for name, version in {**package["dependencies"], **package["devDependencies"]}.items():
        assert re.fullmatch(r"\d+\.\d+\.\d+", version), f"{name} is not pinned: {version}"
        assert lock["packages"][f"node_modules/{name}"]["version"] == version
    bundle = (WEB / "dist" / "rtvi.js").read_text()
    assert "PipecatClient" in bundle or "client-ready" in bundle
    assert "daily.co" not in bundle and "sentry" not in bundle.lower()
    # The only URLs left are in comments and error texts (project pages), never fetched.
    hosts = set(re.findall(r"https?://([a-zA-Z0-9.-]+)", bundle))
    assert hosts <= {"github.com"}, hosts


# --- the protocol on a real call (aiortc caller, WebRTC on loopback) --------------------------


class RtviCaller:
    """Echo's scripted caller with its own data channel, so the test can speak RTVI on it."""

    def __init__(self, base_url: str):
        from transports.webrtc_client import EchoCaller

        self.caller = EchoCaller(base_url, data_channel=False)
        self.messages: list[dict] = []
        self.channel = self.caller.pc.createDataChannel("rtvi")
        self.channel.on("message", self._received)

    def _received(self, message) -> None:
        if isinstance(message, str) and message.startswith("{"):
            self.messages.append(json.loads(message))

    async def connect(self) -> None:
        await self.caller.connect()
        assert await wait_until(lambda: self.channel.readyState == "open", timeout=20)

    def send(self, kind: str, data=None, msg_id: str = "m1") -> None:
        message = {"label": "rtvi-ai", "type": kind, "id": msg_id}
        if data is not None:
            message["data"] = data
        self.channel.send(json.dumps(message))

    def rtvi(self, kind: str) -> list[dict]:
        """RTVI messages of this type."""
        return [m for m in self.messages if m.get("label") == "rtvi-ai" and m["type"] == kind]

    def echo(self, kind: str) -> list[dict]:
        """Echo's own messages of this type, as they were sent (no RTVI label)."""
        return [m for m in self.messages if "label" not in m and m.get("type") == kind]


@pytest.mark.slow
async def test_a_call_speaks_rtvi_beside_echo_messages(live_server, speak):
    call = RtviCaller(live_server.url)
    await call.connect()
    try:
        call.send("client-ready", {"version": "2.1.0", "about": {"library": "test"}}, "ready-1")
        assert await wait_until(lambda: call.rtvi("bot-ready"), timeout=20)
        call.send("send-text", {"content": "cancel everything"}, "text-1")
        refused = await wait_until(lambda: call.rtvi("error-response"), timeout=20)
        assert (
            refused and refused[0]["id"] == "text-1" and "send-text" in refused[0]["data"]["error"]
        )

        await asyncio.sleep(8)  # the greeting
        await call.caller.say(speak(SAID), 16000)

        def answered():
            said = [m for m in call.rtvi("user-transcription") if m["data"].get("final")]
            spoken = [m for m in call.rtvi("bot-output") if m["data"].get("spoken")]
            repeated = [
                m for m in call.rtvi("server-message") if m["data"].get("type") == "echo-latency"
            ]
            return said and len(spoken) >= 2 and repeated

        assert await wait_until(answered, timeout=60), [m.get("type") for m in call.messages]
    finally:
        await call.caller.close()

    assert any(m["data"]["text"].strip() for m in call.rtvi("user-transcription"))
    for kind in (
        "user-started-speaking",
        "user-stopped-speaking",
        "bot-started-speaking",
        "bot-stopped-speaking",
        "metrics",
        "bot-tts-text",
    ):
        assert call.rtvi(kind), f"no {kind}"
    # Echo's own message still arrives as it was, and once more as an RTVI server message.
    raw = call.echo("echo-latency")
    repeated = [
        m["data"] for m in call.rtvi("server-message") if m["data"]["type"] == "echo-latency"
    ]
    assert raw and [r["turn"] for r in repeated] == [r["turn"] for r in raw[: len(repeated)]]
    assert repeated[0] == raw[0]
    # The call went on after the refused message: the caller was answered.
    assert any(m["data"]["text"].strip() for m in call.rtvi("bot-output") if m["data"]["spoken"])


# --- headless Chromium --------------------------------------------------------------------

# The conversation on the page: a caller entry with text, then an Echo entry with spoken text.
ANSWERED_JS = """() => {
  const entries = [...document.querySelectorAll('#conversation .entry')];
  const i = entries.findIndex(e => e.classList.contains('user') &&
                                   (e.querySelector('.said')?.textContent || '').trim());
  return i >= 0 && entries.slice(i + 1).some(e => e.classList.contains('bot') &&
      [...e.querySelectorAll('.segment.spoken')].some(s => s.textContent.trim()));
}"""

LATENCY_ROW_JS = """() => [...document.querySelectorAll('#latency tbody tr')]
  .some(r => parseFloat(r.cells[2].textContent) > 0 && r.cells[1].textContent.trim())"""


def energy_js(pc: str) -> str:
    """Energy of the bot audio Chromium received and played (it counts only played audio)."""
    return f"""async () => {{
        let e = 0;
        (await {pc}.getStats()).forEach(r => {{
            if (r.type === 'inbound-rtp' && r.kind === 'audio') e = r.totalAudioEnergy || 0;
        }});
        return e > 0.01;
    }}"""


def fake_mic(tmp_path, pcm) -> list[str]:
    return fake_media(audio=write_wav(tmp_path / "mic.wav", pcm))


async def guarded_page(browser, base_url: str):
    """A page whose every request must go to this server; others are refused and recorded."""
    context = await browser.new_context()
    outside: list[str] = []
    errors: list[str] = []

    async def only_here(route):
        if route.request.url.startswith(base_url + "/"):
            await route.continue_()
        else:
            outside.append(route.request.url)
            await route.abort()

    await context.route("**/*", only_here)
    page = await context.new_page()
    page.on("pageerror", lambda e: errors.append(str(e)))
    return page, outside, errors


@pytest.mark.slow
@needs_chromium
async def test_rtvi_page_holds_a_conversation(live_server, speak, tmp_path):
    from playwright.async_api import async_playwright

    quiet = np.zeros(16000 * 8, dtype=np.int16)
    args = fake_mic(tmp_path, np.concatenate([quiet, speak(SAID), quiet]))
    async with async_playwright() as p:
        browser = await launch(p, *args)
        page, outside, errors = await guarded_page(browser, live_server.url)
        await page.goto(live_server.url + "/rtvi")
        await page.wait_for_function("document.querySelectorAll('#pipeline option').length > 0")
        assert await page.input_value("#pipeline") == "cascaded"
        await page.click("#connect")
        # bot-ready: the client said client-ready and the server answered.
        await page.wait_for_function(
            "document.getElementById('status').textContent === 'ready'", timeout=30000
        )
        await page.wait_for_function(ANSWERED_JS, timeout=90000)
        await page.wait_for_function(energy_js("window.echoRtvi.transport.pc"), timeout=30000)
        assert not await page.evaluate("document.getElementById('botAudio').paused")
        # Echo's latency breakdown arrives as RTVI server messages.
        await page.wait_for_function(LATENCY_ROW_JS, timeout=30000)
        shot = tmp_path / "rtvi.png"
        await page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        assert await page.is_hidden("#error")
        await page.click("#disconnect")
        await page.wait_for_function(
            "document.getElementById('status').textContent === 'disconnected'", timeout=10000
        )
        await browser.close()
    assert outside == []
    assert errors == []


@pytest.mark.slow
@needs_chromium
async def test_echo_page_shows_both_sides_cut_where_interrupted(live_server, speak, tmp_path):
    from playwright.async_api import async_playwright

    # Chromium loops the file: the caller repeats the request every few seconds, so the
    # next repetition talks over Echo's answer.
    gap = np.zeros(16000, dtype=np.int16)
    args = fake_mic(tmp_path, np.concatenate([gap, speak(SAID), gap]))
    async with async_playwright() as p:
        browser = await launch(p, *args)
        page, outside, errors = await guarded_page(browser, live_server.url)
        await page.goto(live_server.url + "/")
        await page.wait_for_function("document.querySelectorAll('#pipeline option').length > 0")
        await page.click("#connect")
        await page.wait_for_function(
            "document.getElementById('status').textContent === 'connected'", timeout=30000
        )
        await page.wait_for_function(ANSWERED_JS, timeout=90000)
        await page.wait_for_function(LATENCY_ROW_JS, timeout=30000)
        # Where the caller cut Echo off: the mark sits after the last sentence Echo said.
        await page.wait_for_function(
            "!!document.querySelector('#conversation .entry.bot .cut')", timeout=60000
        )
        shot = tmp_path / "echo.png"
        await page.screenshot(path=str(shot), full_page=True)
        assert shot.stat().st_size > 10_000
        cut = await page.evaluate(
            """() => {
              const mark = document.querySelector('#conversation .entry.bot .cut');
              const before = mark.previousElementSibling;
              return {text: mark.textContent,
                      after: !before || before.classList.contains('spoken')};
            }"""
        )
        assert "interrupted" in cut["text"] and cut["after"]
        assert await page.is_hidden("#error")
        await page.click("#disconnect")
        await browser.close()
    assert outside == []
    assert errors == []


@pytest.mark.slow
@needs_chromium
async def test_pages_say_busy_unavailable_and_microphone_denied(settings, speak, tmp_path):
    from playwright.async_api import async_playwright

    # No line free (max_sessions=0), and speech_native asked to use OpenAI without a key.
    crowded = settings.model_copy(
        update={"max_sessions": 0, "realtime_provider": "openai", "openai_api_key": None}
    )
    args = fake_mic(tmp_path, np.zeros(16000, dtype=np.int16))
    with LiveServer(crowded) as server:
        async with async_playwright() as p:
            browser = await launch(p, *args)
            denying = await launch(
                p, "--use-fake-device-for-media-stream", "--deny-permission-prompts"
            )
            for path in ("/", "/rtvi"):
                page, outside, errors = await guarded_page(browser, server.url)
                await page.goto(server.url + path)
                await page.wait_for_function(
                    "document.querySelectorAll('#pipeline option').length === 3"
                )
                # busy: the default variant is available, but every line is taken
                await page.click("#connect")
                await page.wait_for_function(
                    "!document.getElementById('error').hidden", timeout=30000
                )
                busy = await page.text_content("#error")
                assert "busy" in busy.lower(), (path, busy)
                await page.wait_for_function("!document.getElementById('connect').disabled")
                # unavailable: the option and a notice name the variable it needs
                await page.select_option("#pipeline", "speech_native")
                assert "OPENAI_API_KEY" in await page.text_content("#notice")
                await page.click("#connect")
                await page.wait_for_function(
                    "document.getElementById('error').textContent.includes('OPENAI_API_KEY')",
                    timeout=30000,
                )
                await page.screenshot(path=str(tmp_path / f"refused{path.replace('/', '_')}.png"))
                await page.context.close()
                assert outside == [] and errors == [], (path, outside, errors)

                # microphone denied: nothing is sent to the server, the page says what to do
                page, outside, errors = await guarded_page(denying, server.url)
                await page.goto(server.url + path)
                await page.wait_for_function("document.querySelectorAll('#pipeline option').length")
                await page.click("#connect")
                await page.wait_for_function(
                    "!document.getElementById('error').hidden", timeout=30000
                )
                denied = await page.text_content("#error")
                assert "microphone" in denied.lower() and "denied" in denied.lower(), (path, denied)
                assert not await page.is_disabled("#connect")
                await page.context.close()
                assert outside == [] and errors == [], (path, outside, errors)
            await browser.close()
            await denying.close()
