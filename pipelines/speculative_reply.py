"""Speculative replies: synthesize the likely answer while the end of turn is still pending.

When the caller pauses, the STT service transcribes the segment at once
(``pipelines.speculation``). :class:`ReplyPreparer` takes that speculative transcript, asks
the local brain what it would answer (following read-only tools, never a write), and has
Piper synthesize the answer's first piece into the shared phrase cache
(:class:`providers.local.PhraseCache`), claiming it so the TTS service waits for it instead
of starting it again. Nothing is spoken from here: the real turn still runs through the
pipeline on the confirmed transcript, and its TTS finds the audio ready only if the reply
is the same text. A speculation the caller talks through, or whose reply turns out
different, costs CPU time and nothing else.

Only with the local brain and the local Piper TTS (the cloud services have no shared cache).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from loguru import logger

from clinic.cli_chat import BrainLoopError, respond
from clinic.wording.phrases import sentences
from providers.local import synthesize_pcm
from providers.phrasing import split_first_clause

# Tools that only read: a speculative reply may follow them (writes wait for the real turn).
READ_ONLY_TOOLS = frozenset(
    {"find_provider", "list_open_slots", "find_earliest_slots", "clinic_info"}
)


def first_piece(reply: str) -> str:
    """What the TTS service synthesizes first for ``reply``: its first sentence's first piece.

    >>> first_piece("Doctor Patel has openings on Tuesday, at 9 AM and 2 PM. Which one?")
    'Doctor Patel has openings'
    """
    first = sentences(reply)[:1]
    return split_first_clause(first[0])[0] if first else ""


async def speculative_reply(brain: Any, tools: Any, messages: list[dict], text: str) -> str | None:
    """The reply the brain would give if the caller's turn were ``text``; ``None`` if unsure.

    Args:
        brain: ``ClinicBrain`` (``next_action`` is a pure function of the messages).
        tools: ``ClinicTools``; only :data:`READ_ONLY_TOOLS` are run.
        messages: The conversation so far (not changed).
        text: The speculative transcript.
    """
    history = [*messages, {"role": "user", "content": text}]
    try:
        return await respond(brain, tools, history, allowed=READ_ONLY_TOOLS, off_loop=True)
    except BrainLoopError:
        return None


class ReplyPreparer:
    """Prepares the first audio of the likely reply at every speculative transcript."""

    def __init__(
        self,
        *,
        brain: Any,
        tools: Any,
        context: Any,
        phrases: Any,
        voice: Any,
        correct: Callable[[str], str] | None = None,
    ):
        """Initialize.

        Args:
            brain: The session's ``ClinicBrain``.
            tools: The session's ``ClinicTools``.
            context: The session's ``LLMContext`` (read, never written).
            phrases: The server's ``PhraseCache``.
            voice: The shared ``PiperVoice``.
            correct: What the pipeline does to a transcript before the brain sees it
                (vocabulary correction).
        """
        self._brain = brain
        self._tools = tools
        self._context = context
        self._phrases = phrases
        self._voice = voice
        self._correct = correct
        self._task: asyncio.Task | None = None
        self.prepared = 0  # first pieces synthesized ahead of time

    def on_speculative_transcript(self, text: str) -> None:
        """A speculative transcript arrived (STT speculation listener, on the event loop)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()  # a newer pause supersedes it
        messages = [m for m in self._context.get_messages() if isinstance(m, dict)]
        self._task = asyncio.get_running_loop().create_task(self._prepare(messages, text))

    async def _prepare(self, messages: list[dict], text: str) -> None:
        try:
            if self._correct is not None:
                text = self._correct(text)
            reply = await speculative_reply(self._brain, self._tools, messages, text)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # noqa: BLE001 - speculation never disturbs the call
            logger.debug(f"speculative reply failed: {type(e).__name__}")
            return
        piece = first_piece(reply or "")
        if not piece or not self._phrases.begin(piece):
            logger.debug(f"speculative reply: {'cached' if piece else 'none'}")
            return  # nothing to say, or already cached / under way
        logger.debug(f"speculative reply: synthesizing {len(piece)} chars")
        # Once claimed, the synthesis runs to its end even if this task is cancelled: the
        # TTS service may be waiting for it.
        future = asyncio.ensure_future(asyncio.to_thread(synthesize_pcm, self._voice, piece))
        future.add_done_callback(lambda f: self._synthesized(piece, f))

    def _synthesized(self, piece: str, future: asyncio.Future) -> None:
        if future.cancelled() or future.exception() is not None:
            self._phrases.drop(piece)
            return
        self._phrases.put(piece, future.result())
        self.prepared += 1

    async def cancel(self) -> None:
        """Stop a preparation under way (session end)."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
