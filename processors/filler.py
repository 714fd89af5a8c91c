"""A short filler ("One moment, let me check.") before an answer that will take a while.

A tool call of a cloud LLM costs a second network round trip, and reading an image takes the
local reader a moment: in those cases the caller hears the filler at once instead of
silence. The local brain's own tools answer in milliseconds, so they never get one: a filler
on a fast turn only delays the answer.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from typing import Any

from clinic.wording.phrases import FILLER


def needs_filler(function_names: Iterable[str], slow_tools: Collection[str] | None) -> bool:
    """Whether these function calls deserve a filler (``slow_tools`` None: every call does)."""
    names = list(function_names)
    if not names:
        return False
    return slow_tools is None or any(name in slow_tools for name in names)


def attach_filler(llm: Any, tts: Any, *, slow_tools: Collection[str] | None) -> None:
    """Speak :data:`FILLER` through ``tts`` when ``llm`` starts slow function calls.

    Args:
        llm: A Pipecat ``LLMService``.
        tts: The pipeline's TTS service (the filler is queued on it).
        slow_tools: Names of the tools worth a filler; None for every tool (cloud LLMs).
    """
    from pipecat.frames.frames import TTSSpeakFrame

    @llm.event_handler("on_function_calls_started")
    async def on_function_calls_started(service, function_calls):
        if needs_filler((c.function_name for c in function_calls), slow_tools):
            await tts.queue_frame(TTSSpeakFrame(FILLER))
