"""espeak-ng (the Debian binary) as a Pipecat TTS service.

A second, very different local voice beside Piper, for ``echo-agent compare-tts``: the
text goes to ``espeak-ng --stdout --stdin`` and its WAV output becomes audio frames as it
arrives.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator

from pipecat.frames.frames import ErrorFrame, Frame
from pipecat.services.settings import TTSSettings
from pipecat.services.tts_service import TTSService


class EspeakTTSService(TTSService):
    """espeak-ng (the Debian binary) as a Pipecat TTS: its WAV output streamed as it comes."""

    def __init__(self, *, voice: str = "en-us", words_per_minute: int = 165, **kwargs):
        """Initialize.

        Args:
            voice: espeak-ng voice ("en-us", "en-us+f3").
            words_per_minute: Speaking rate.
            **kwargs: Passed to ``TTSService``.
        """
        super().__init__(
            push_start_frame=True,
            push_stop_frames=True,
            settings=TTSSettings(model=None, voice=voice, language=None),
            **kwargs,
        )
        self._voice = voice
        self._wpm = words_per_minute

    def can_generate_metrics(self) -> bool:
        """espeak-ng reports TTFB."""
        return True

    async def run_tts(self, text: str, context_id: str) -> AsyncGenerator[Frame, None]:
        """Speak ``text`` with espeak-ng; audio frames as its output arrives."""
        try:
            proc = await asyncio.create_subprocess_exec(
                *("espeak-ng", "--stdout", "--stdin", "-v", self._voice, "-s", str(self._wpm)),
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
        except OSError as exc:
            yield ErrorFrame(error=f"espeak-ng failed to start: {exc}")
            return
        proc.stdin.write(text.encode())
        proc.stdin.close()
        try:
            header = await proc.stdout.readexactly(44)  # RIFF/WAVE header, rate at 24..28
            rate = int.from_bytes(header[24:28], "little")
            async for frame in self._stream_audio_frames_from_iterator(
                _read_chunks(proc.stdout), in_sample_rate=rate, context_id=context_id
            ):
                await self.stop_ttfb_metrics()
                yield frame
        except asyncio.IncompleteReadError:
            pass  # no audio: the exit status below says why
        finally:
            await self.stop_ttfb_metrics()
        if await proc.wait() != 0:
            err = (await proc.stderr.read()).decode(errors="replace")[:200]
            yield ErrorFrame(error=f"espeak-ng exited with {proc.returncode}: {err}")


async def _read_chunks(stream: asyncio.StreamReader, size: int = 4096) -> AsyncIterator[bytes]:
    while chunk := await stream.read(size):
        yield chunk
