"""Headless Chromium for the page tests: Debian's ``chromium`` driven by Playwright.

The browser is the system one, passed as ``executable_path`` (never ``playwright install``).
It runs with no GPU and no network of its own, and plays audio without a user gesture, since
Chrome counts received audio only when the page plays it.
"""

import shutil

import pytest

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed")

ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--autoplay-policy=no-user-gesture-required",
]

# Camera and microphone granted without a prompt, fed from files (or Chromium's test tone).
FAKE_MEDIA = ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream"]


async def launch(p, *extra: str):
    """Chromium from a started ``async_playwright()`` ``p``, with ``ARGS`` and ``extra``."""
    return await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=[*ARGS, *extra])


def fake_media(*, audio=None, video=None) -> list[str]:
    """Arguments that feed Chromium's microphone from a WAV and its camera from a Y4M file."""
    args = list(FAKE_MEDIA)
    if audio is not None:
        args.append(f"--use-file-for-fake-audio-capture={audio}")
    if video is not None:
        args.append(f"--use-file-for-fake-video-capture={video}")
    return args
