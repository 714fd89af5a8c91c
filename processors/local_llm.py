"""The local clinic assistant as a Pipecat ``LLMService``.

The dialogue engine (:class:`clinic.dialogue.brain.ClinicBrain`) is a deterministic, task-oriented
policy over the conversation context. This service is a thin adapter: on every
``LLMContextFrame`` it asks the brain for the next action and either speaks text or issues
a real function call through :meth:`LLMService.run_function_calls`, exactly like a cloud LLM
would. Tool results land in the context via the assistant aggregator, which triggers a new
inference, so the pipeline shape is identical with or without a cloud LLM.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

from pipecat.frames.frames import (
    Frame,
    FunctionCallFromLLM,
    LLMContextFrame,
    LLMFullResponseEndFrame,
    LLMFullResponseStartFrame,
)
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.llm_service import LLMService
from pipecat.services.settings import LLMSettings

from clinic.dialogue.actions import CallTool, Say
from clinic.dialogue.brain import ClinicBrain


def standard_messages(messages: list[Any]) -> list[dict]:
    """Keep the OpenAI-format dict messages of a Pipecat context (drop LLM-specific ones)."""
    return [m for m in messages if isinstance(m, dict)]


class LocalClinicLLMService(LLMService):
    """Runs :class:`~clinic.dialogue.brain.ClinicBrain` as an LLM inside a Pipecat pipeline.

    Event handlers and function registration are those of any ``LLMService``: register the
    clinic tools with ``ClinicTools.register(llm)``.
    """

    def __init__(self, *, brain: ClinicBrain, model_name: str = "echo-clinic-brain", **kwargs):
        """Initialize the service.

        Args:
            brain: The dialogue engine deciding each next action.
            model_name: Reported model name (for metrics and the audit trail).
            **kwargs: Passed to ``LLMService``.

        """
        settings = LLMSettings(
            model=model_name,
            system_instruction=None,
            temperature=None,
            max_tokens=None,
            top_p=None,
            top_k=None,
            frequency_penalty=None,
            presence_penalty=None,
            seed=None,
            filter_incomplete_user_turns=None,
            user_turn_completion_config=None,
        )
        super().__init__(settings=settings, **kwargs)
        self._brain = brain

    def can_generate_metrics(self) -> bool:
        """The service reports TTFB and processing time."""
        return True

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        """Answer ``LLMContextFrame``s; pass every other frame through."""
        await super().process_frame(frame, direction)

        if not isinstance(frame, LLMContextFrame):
            await self.push_frame(frame, direction)
            return

        await self.push_frame(LLMFullResponseStartFrame())
        await self.start_processing_metrics()
        await self.start_ttfb_metrics()
        try:
            # Off the event loop: it carries every call's audio on this server, and the brain
            # (sentence encoder, store reads) takes tens of milliseconds.
            messages = standard_messages(frame.context.get_messages())
            action = await asyncio.to_thread(self._brain.next_action, messages)
            await self.stop_ttfb_metrics()
            if isinstance(action, Say):
                await self._push_llm_text(action.text)
            elif isinstance(action, CallTool):
                await self.run_function_calls(
                    [
                        FunctionCallFromLLM(
                            function_name=action.name,
                            tool_call_id=f"call_{uuid.uuid4().hex[:24]}",
                            arguments=dict(action.arguments),
                            context=frame.context,
                        )
                    ]
                )
        except Exception as e:  # the brain must never take the call down
            await self.push_error(error_msg=f"Local clinic brain failed: {e}", exception=e)
        finally:
            await self.stop_processing_metrics()
            await self.push_frame(LLMFullResponseEndFrame())
