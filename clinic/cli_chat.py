"""Text chat with the local clinic brain and the real clinic tools (``echo-agent chat``).

:func:`run_turn` drives one user turn exactly like the Pipecat LLM service does: ask the brain,
and while it wants a tool, append the assistant ``tool_calls`` message, run the tool, append the
``tool`` result message and ask again; the final text is appended as the assistant's reply.
"""

from __future__ import annotations

import asyncio
import inspect
import json
import uuid
from collections.abc import Callable
from typing import Any

from clinic.brain import CallTool, ClinicBrain, Say
from clinic.tools import ClinicTools

MAX_TOOL_STEPS = 8
EXIT_WORDS = frozenset({"quit", "exit", "/quit", "/exit", ":q"})


class BrainLoopError(RuntimeError):
    """The brain asked for tools too many times in a row without answering."""


async def respond(brain: ClinicBrain, tools: ClinicTools, messages: list[dict]) -> str:
    """Let the brain act on ``messages`` (running its tool calls) until it says something.

    Appends every assistant/tool message to ``messages`` and returns the spoken text.

    Raises:
        BrainLoopError: After ``MAX_TOOL_STEPS`` tool calls without a reply.
    """
    for _ in range(MAX_TOOL_STEPS):
        action = brain.next_action(messages)
        if isinstance(action, Say):
            messages.append({"role": "assistant", "content": action.text})
            return action.text
        assert isinstance(action, CallTool)
        call_id = f"call_{uuid.uuid4().hex[:24]}"
        messages.append(
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {
                            "name": action.name,
                            "arguments": json.dumps(action.arguments, ensure_ascii=False),
                        },
                    }
                ],
            }
        )
        result = await tools.call(action.name, dict(action.arguments))
        messages.append(
            {
                "role": "tool",
                "tool_call_id": call_id,
                "content": json.dumps(result, ensure_ascii=False),
            }
        )
    raise BrainLoopError(f"no reply after {MAX_TOOL_STEPS} tool calls")


async def run_turn(
    brain: ClinicBrain, tools: ClinicTools, messages: list[dict], user_text: str
) -> str:
    """Add the user's text to ``messages`` and return the assistant's reply (tools run inline)."""
    messages.append({"role": "user", "content": user_text})
    return await respond(brain, tools, messages)


async def _read(input_fn: Callable[..., Any], prompt: str) -> str | None:
    try:
        if inspect.iscoroutinefunction(input_fn):
            return await input_fn(prompt)
        return await asyncio.to_thread(input_fn, prompt)
    except (EOFError, KeyboardInterrupt):
        return None


async def chat_loop(
    brain: ClinicBrain,
    tools: ClinicTools,
    input_fn: Callable[..., Any] = input,
    output_fn: Callable[[str], Any] = print,
    *,
    system_prompt: str | None = None,
) -> list[dict]:
    """Text REPL: greet, then answer each line until EOF or "quit". Returns the transcript.

    Args:
        brain: The dialogue engine.
        tools: The session's clinic tools.
        input_fn: Reads one line given a prompt (sync or async); EOF ends the chat.
        output_fn: Shows one assistant reply.
        system_prompt: Optional system message put first in the transcript.
    """
    messages: list[dict] = []
    if system_prompt:
        messages.append({"role": "system", "content": system_prompt})
    output_fn(f"Echo: {await respond(brain, tools, messages)}")
    while True:
        line = await _read(input_fn, "You: ")
        if line is None or line.strip().lower() in EXIT_WORDS:
            break
        if not line.strip():
            continue
        output_fn(f"Echo: {await run_turn(brain, tools, messages, line)}")
    return messages
