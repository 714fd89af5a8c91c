"""Spoken output of one Realtime connection: Piper audio streamed with its word transcript.

:class:`SpokenOutput` is the part of :class:`realtime.server.RealtimeConnection` that speaks
an assistant message. A reply is spoken in the pieces the cascaded pipeline's TTS speaks
(sentences, each with its first clause or phrase on its own:
:func:`providers.phrasing.split_first_clause`), each from the shared phrase cache or Piper
(:meth:`realtime.engine.LocalEngine.synthesize`) and resampled to 24 kHz by Pipecat's
resampler. Each word's transcript delta goes out just before the audio chunk where the
word starts, so a client that plays in order cuts the transcript at word granularity when
it truncates the item.

It uses the connection's ``engine``, ``session``, ``words``, ``audio_ms`` and ``emit``.
"""

from __future__ import annotations

import asyncio
import base64
from typing import Any

from pipecat.audio.utils import create_file_resampler

from clinic.wording.phrases import sentences
from providers.phrasing import split_first_clause
from realtime.protocol.events import BYTES_PER_MS, SAMPLE_RATE
from realtime.protocol.spoken import WordTiming, word_timings

AUDIO_CHUNK_MS = 100  # size of each response.output_audio.delta


def spoken_pieces(text: str) -> list[str]:
    """The pieces a reply is synthesized in, as the cascaded pipeline's TTS splits it."""
    return [piece for sentence in sentences(text) for piece in split_first_clause(sentence)]


class SpokenOutput:
    """Speaking assistant messages (a mixin of the connection)."""

    words: dict[str, list[WordTiming]]  # assistant audio item → word timings
    audio_ms: dict[str, int]  # assistant audio item → audio length

    async def _speak(self, item: dict, part: dict, text: str, ids: dict) -> None:
        """Synthesize piece by piece, interleaving word transcript deltas with the audio."""
        speed = self.session["audio"]["output"].get("speed") or 1.0
        resampler = create_file_resampler()
        item_id = item["id"]
        self.words[item_id] = words_so_far = []
        offset_ms = 0
        chunk = AUDIO_CHUNK_MS * BYTES_PER_MS
        for n, piece in enumerate(spoken_pieces(text)):
            pcm, rate = await asyncio.to_thread(self.engine.synthesize, piece, speed)
            pcm = await resampler.resample(pcm, rate, SAMPLE_RATE)
            duration = len(pcm) // BYTES_PER_MS
            words = word_timings(piece, offset_ms, duration, first=(n == 0))
            w = 0
            for start in range(0, len(pcm), chunk):
                end_ms = offset_ms + (start + chunk) // BYTES_PER_MS
                while w < len(words) and words[w].start_ms < end_ms:
                    await self._say_word(part, words[w], words_so_far, ids)
                    w += 1
                delta = base64.b64encode(pcm[start : start + chunk]).decode("ascii")
                await self.emit("response.output_audio.delta", **ids, delta=delta)
            for word in words[w:]:
                await self._say_word(part, word, words_so_far, ids)
            offset_ms += duration
            self.audio_ms[item_id] = offset_ms

    async def _say_word(
        self, part: dict, word: WordTiming, said: list[WordTiming], ids: dict[str, Any]
    ) -> None:
        said.append(word)
        part["transcript"] += word.text
        await self.emit("response.output_audio_transcript.delta", **ids, delta=word.text)
