"""Input audio of one Realtime connection: the buffer, server VAD, commits and transcripts.

:class:`InputAudio` is the part of :class:`realtime.server.RealtimeConnection` that handles
``input_audio_buffer.*`` events. With turn detection on, the audio is resampled to 16 kHz
(Pipecat's stream resampler), scored by Silero and turned into speech start/stop decisions
(:class:`realtime.turns.TurnDetector`); semantic VAD also asks smart-turn. A committed turn
becomes a user audio item, transcribed in the background by the cascaded pipeline's STT
path (:meth:`realtime.engine.LocalEngine.transcribe`); a response waits for it.

It uses the connection's ``engine``, ``session``, ``items``, ``transcripts``, ``response``,
``emit``, ``_previous_id``, ``_start_response`` and ``_cancel_response``.
"""

from __future__ import annotations

import asyncio
from typing import Any

from loguru import logger
from pipecat.audio.utils import create_file_resampler, create_stream_resampler

from realtime.engine import VoiceScorer
from realtime.protocol.events import BYTES_PER_MS, SAMPLE_RATE, decode_audio, new_id, refuse
from realtime.turns import SEMANTIC_CHECK_MS, SEMANTIC_MAX_WAIT_MS, VAD_RATE, WINDOW, TurnDetector

MIN_COMMIT_MS = 100  # the API refuses to commit less
MAX_BUFFER_MS = 10 * 60 * 1000  # input buffer cap without a commit


def detector_settings(td: dict[str, Any]) -> dict[str, Any]:
    """:class:`TurnDetector` thresholds for a ``turn_detection`` config.

    Semantic VAD stops "speech" after a short silence and then asks the end-of-turn model.
    """
    silence = td["silence_duration_ms"] if td["type"] == "server_vad" else SEMANTIC_CHECK_MS
    return {"threshold": td.get("threshold", 0.5), "silence_ms": silence}


class InputAudio:
    """The input audio buffer and server-side turn detection (a mixin of the connection)."""

    def _init_input_audio(self) -> None:
        self.buffer = bytearray()  # 24 kHz PCM16 since the last commit/clear
        self.buffer_start_ms = 0  # session audio time of buffer[0]
        self.total_samples = 0  # 24 kHz samples appended in the session
        # HQ: the stream's delay (~21 ms) is what the VAD times were tuned with
        self._resampler = create_stream_resampler(quality="HQ", clear_after_secs=None)
        self._turn_resampler = create_file_resampler()
        self._scorer: VoiceScorer | None = None
        self._vad_pending = b""
        self.detector: TurnDetector | None = None
        self.turn_item_id: str | None = None
        self.speech_start_ms = 0
        self.awaiting_until: int | None = None  # semantic VAD: waiting for more speech
        self.pending_stop_ms = 0

    @property
    def now_ms(self) -> int:
        """Session audio time: ms of input audio appended so far."""
        return self.total_samples * 1000 // SAMPLE_RATE

    @property
    def turn_detection(self) -> dict[str, Any] | None:
        """The session's turn detection config (None: the client commits)."""
        return self.session["audio"]["input"]["turn_detection"]

    def configure_turns(self) -> None:
        """Follow the session's turn detection (after a ``session.update``)."""
        td = self.turn_detection
        if td is None:
            self.detector = None
        elif self.detector is None:
            self.detector = TurnDetector(**detector_settings(td))
        else:
            self.detector.reconfigure(**detector_settings(td))

    async def close_input_audio(self) -> None:
        """Release the connection's VAD model."""
        if self._scorer is not None:
            await self._scorer.close()

    async def on_append(self, event: dict[str, Any]) -> None:
        """Append audio; with server VAD, detect speech start/stop and commit turns."""
        pcm = decode_audio(event)
        if len(self.buffer) + len(pcm) > MAX_BUFFER_MS * BYTES_PER_MS:
            raise refuse(
                "input_audio_buffer_too_large",
                "the input audio buffer holds at most 10 minutes: commit or clear it",
                None,
                event,
            )
        self.buffer += pcm
        self.total_samples += len(pcm) // 2
        if self.turn_detection is None:
            return
        if self.detector is None:
            self.detector = TurnDetector(**detector_settings(self.turn_detection))
        await self._detect(pcm)

    async def _detect(self, pcm: bytes) -> None:
        if self._scorer is None:
            self._scorer = VoiceScorer()
        self._vad_pending += await self._resampler.resample(pcm, SAMPLE_RATE, VAD_RATE)
        n = len(self._vad_pending) // (WINDOW * 2)
        if n:
            windows = [self._vad_pending[i * WINDOW * 2 : (i + 1) * WINDOW * 2] for i in range(n)]
            self._vad_pending = self._vad_pending[n * WINDOW * 2 :]
            scores = await asyncio.to_thread(self._scorer.score, windows)
            for score in scores:
                turn = self.detector.push(score)
                if turn is not None and turn.kind == "start":
                    await self._speech_started(turn.at_ms)
                elif turn is not None:
                    await self._speech_stopped(turn.at_ms)
        if (
            self.awaiting_until is not None
            and not self.detector.speaking
            and self.now_ms >= self.awaiting_until
        ):
            await self._end_turn(self.pending_stop_ms)
        if not self.detector.speaking and self.awaiting_until is None:
            self._trim_buffer()

    def _trim_buffer(self) -> None:
        """While nobody speaks, keep only the prefix padding (plus a margin)."""
        keep_ms = self.turn_detection.get("prefix_padding_ms", 300) + 200
        excess = len(self.buffer) - keep_ms * BYTES_PER_MS
        if excess > 0:
            # whole milliseconds only: buffer_start_ms must stay exact, or the turn's audio
            # slice drifts a little on every trim (tens of ms per second of silence)
            excess -= excess % BYTES_PER_MS
            del self.buffer[:excess]
            self.buffer_start_ms += excess // BYTES_PER_MS

    async def _speech_started(self, at_ms: int) -> None:
        if self.awaiting_until is not None:  # semantic VAD: the same turn goes on
            self.awaiting_until = None
            return
        self.turn_item_id = new_id("item")
        self.speech_start_ms = at_ms
        await self.emit(
            "input_audio_buffer.speech_started", audio_start_ms=at_ms, item_id=self.turn_item_id
        )
        if self.response is not None and self.turn_detection.get("interrupt_response", True):
            await self._cancel_response("turn_detected")

    async def _speech_stopped(self, at_ms: int) -> None:
        td = self.turn_detection
        if td["type"] == "semantic_vad":
            audio = await self._to_16k(self._buffer_slice(self._turn_start_ms(), at_ms))
            if not await asyncio.to_thread(self.engine.turn_complete, audio):
                self.pending_stop_ms = at_ms
                self.awaiting_until = at_ms + SEMANTIC_MAX_WAIT_MS[td.get("eagerness", "auto")]
                return
        await self._end_turn(at_ms)

    def _turn_start_ms(self) -> int:
        prefix = self.turn_detection.get("prefix_padding_ms", 300) if self.turn_detection else 0
        return max(self.buffer_start_ms, self.speech_start_ms - prefix)

    def _buffer_slice(self, start_ms: int, end_ms: int) -> bytes:
        """The buffered 24 kHz audio from ``start_ms`` to ``end_ms`` (session time)."""
        a = max(0, (start_ms - self.buffer_start_ms) * BYTES_PER_MS)
        b = max(a, (end_ms - self.buffer_start_ms) * BYTES_PER_MS)
        return bytes(self.buffer[a:b])

    async def _to_16k(self, pcm24: bytes) -> bytes:
        """Whole 24 kHz audio resampled to the speech models' 16 kHz."""
        return await self._turn_resampler.resample(pcm24, SAMPLE_RATE, VAD_RATE)

    async def _end_turn(self, at_ms: int) -> None:
        self.awaiting_until = None
        item_id = self.turn_item_id or new_id("item")
        await self.emit("input_audio_buffer.speech_stopped", audio_end_ms=at_ms, item_id=item_id)
        start_ms = self._turn_start_ms()
        a = (start_ms - self.buffer_start_ms) * BYTES_PER_MS
        b = max(a, (at_ms - self.buffer_start_ms) * BYTES_PER_MS)
        audio = bytes(self.buffer[a:b])
        buffered_ms = len(self.buffer) // BYTES_PER_MS
        logger.debug(
            f"realtime {self.id}: turn {start_ms}–{at_ms} ms (speech from {self.speech_start_ms}),"
            f" buffer {self.buffer_start_ms}–{self.buffer_start_ms + buffered_ms} ms,"
            f" now {self.now_ms} ms"
        )
        del self.buffer[:b]
        self.buffer_start_ms += b // BYTES_PER_MS
        self.turn_item_id = None
        await self._commit(item_id, audio)
        if self.turn_detection and self.turn_detection.get("create_response", True):
            if self.response is None:
                await self._start_response({}, None)
            else:  # the bot talks on (interrupt_response off): answer once it is done
                self.response_owed = True

    async def on_commit(self, event: dict[str, Any]) -> None:
        """Commit the whole buffer as a user audio item (no response is created)."""
        if len(self.buffer) < MIN_COMMIT_MS * BYTES_PER_MS:
            raise refuse(
                "input_audio_buffer_commit_empty",
                f"buffer too small: expected at least {MIN_COMMIT_MS}ms of audio, have "
                f"{len(self.buffer) // BYTES_PER_MS}ms",
                None,
                event,
            )
        audio = bytes(self.buffer)
        item_id = self.turn_item_id or new_id("item")
        self._reset_buffer()
        await self._commit(item_id, audio)

    async def on_clear(self, event: dict[str, Any]) -> None:
        """Drop the buffered input audio."""
        self._reset_buffer()
        await self.emit("input_audio_buffer.cleared")

    def _reset_buffer(self) -> None:
        self.buffer.clear()
        self.buffer_start_ms = self.now_ms
        if self.detector is not None:
            self.detector.reset()
        self.awaiting_until = None
        self.turn_item_id = None

    async def _commit(self, item_id: str, audio: bytes) -> None:
        previous = self._previous_id()
        item = {
            "id": item_id,
            "object": "realtime.item",
            "type": "message",
            "status": "completed",
            "role": "user",
            "content": [{"type": "input_audio", "transcript": None}],
        }
        self.items.append(item)
        await self.emit("input_audio_buffer.committed", previous_item_id=previous, item_id=item_id)
        await self.emit("conversation.item.added", previous_item_id=previous, item=item)
        self._transcribe(item, audio)

    def _transcribe(self, item: dict[str, Any], audio24: bytes) -> None:
        """Transcribe a user audio item in the background (responses wait for it)."""
        bot_line = last_assistant_line(self.items)

        async def run() -> None:
            pcm = await self._to_16k(audio24)
            config = self.session["audio"]["input"]["transcription"] or {}
            try:
                text = await asyncio.to_thread(self.engine.transcribe, pcm, bot_line)
            except Exception as e:
                logger.warning(f"realtime {self.id}: transcription failed: {type(e).__name__}")
                item["content"][0]["transcript"] = ""
                if config:
                    await self.emit(
                        "conversation.item.input_audio_transcription.failed",
                        item_id=item["id"],
                        content_index=0,
                        error={
                            "type": "transcription_error",
                            "code": "transcription_failed",
                            "message": f"local transcription failed: {type(e).__name__}",
                        },
                    )
                return
            item["content"][0]["transcript"] = text
            samples = len(pcm) // 2
            logger.debug(f"realtime {self.id}: transcribed {samples} samples → {len(text)} chars")
            if config:
                # No tokens here: usage is the audio duration (the SDK's "duration" usage).
                await self.emit(
                    "conversation.item.input_audio_transcription.completed",
                    item_id=item["id"],
                    content_index=0,
                    transcript=text,
                    usage={"type": "duration", "seconds": round(samples / VAD_RATE, 3)},
                )
            await self.emit("conversation.item.done", previous_item_id=None, item=item)

        self.transcripts[item["id"]] = asyncio.create_task(run())


def last_assistant_line(items: list[dict[str, Any]]) -> str:
    """What the assistant said in its last message item (audio transcript or text)."""
    for item in reversed(items):
        if item.get("type") == "message" and item.get("role") == "assistant":
            parts = item.get("content") or []
            text = " ".join(p.get("transcript") or p.get("text") or "" for p in parts)
            if text.strip():
                return text
    return ""
