"""Echo's own web page in headless Chromium: fake microphone → WebRTC → bot audio played.

Chromium comes from Debian (``chromium``), driven by Playwright with ``executable_path``;
the page must work with no network but this server's (no CDN).
"""

import numpy as np
import pytest

from audit import open_store
from tests.browser import fake_media, launch, needs_chromium
from tests.conftest import wait_until, write_wav
from tests.heard import heard_like

SAID = "I'd like to book an appointment with Doctor Patel."

pytestmark = pytest.mark.slow


@needs_chromium
async def test_browser_page_holds_a_conversation(live_server, speak, tmp_path):
    from playwright.async_api import async_playwright

    # Fake microphone: 4 s quiet (greeting), then the request, then quiet. Chromium loops it.
    speech = speak(SAID)
    quiet = np.zeros(16000 * 4, dtype=np.int16)
    mic = write_wav(tmp_path / "mic.wav", np.concatenate([quiet, speech, quiet]))

    async with async_playwright() as p:
        browser = await launch(p, *fake_media(audio=mic))
        page = await browser.new_page()
        errors = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        await page.goto(live_server.url + "/")
        await page.wait_for_function("document.querySelectorAll('#pipeline option').length > 0")
        assert await page.input_value("#pipeline") == "cascaded"
        await page.click("#connect")
        await page.wait_for_function(
            "document.getElementById('status').textContent === 'connected'", timeout=30000
        )
        # The bot's audio is received and played: inbound audio energy grows.
        energy_js = """async () => {
            let e = 0;
            (await echoPage.pc.getStats()).forEach(r => {
                if (r.type === 'inbound-rtp' && r.kind === 'audio') e = r.totalAudioEnergy || 0;
            });
            return e;
        }"""
        await page.wait_for_function(f"({energy_js})().then(e => e > 0.01)", timeout=60000)
        assert not await page.evaluate("document.getElementById('botAudio').paused")
        # The server heard the request from the browser's microphone and answered it.
        audit = open_store(live_server.settings)

        def answered_turn():
            for r in audit.iter_records():
                heard = (r.body.get("user") or {}).get("final_transcript") or ""
                if r.kind == "turn" and heard_like(heard, SAID, 0.5):
                    return r.body
            return None

        turn = await wait_until(answered_turn, timeout=60)
        assert turn, "no audited turn with the spoken request"
        assert "Patel" in turn["bot"]["generated_text"]
        # The page shows each turn's latency breakdown, live from the data channel.
        row = (
            "[...document.querySelectorAll('#latency tbody tr')]"
            ".find(r => r.cells[1].textContent.toLowerCase().includes('patel'))"
        )
        await page.wait_for_function(f"!!{row}", timeout=30000)
        total = await page.evaluate(f"{row}.cells[2].textContent")
        assert float(total.split()[0]) > 0
        await page.click("#disconnect")
        await browser.close()
        audit.close()
    assert errors == []
