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
from collections.abc import Callable, Collection
from typing import Any

from clinic.dialogue.actions import CallTool, Say
from clinic.dialogue.brain import ClinicBrain
from clinic.tools import ClinicTools

MAX_TOOL_STEPS = 8
EXIT_WORDS = frozenset({"quit", "exit", "/quit", "/exit", ":q"})


class BrainLoopError(RuntimeError):
    """The brain asked for tools too many times in a row without answering."""


async def respond(
    brain: ClinicBrain,
    tools: ClinicTools,
    messages: list[dict],
    *,
    allowed: Collection[str] | None = None,
    off_loop: bool = False,
) -> str | None:
    """Let the brain act on ``messages`` (running its tool calls) until it says something.

    Appends every assistant/tool message to ``messages`` and returns the spoken text.

    Args:
        brain: The dialogue engine.
        tools: The session's clinic tools.
        messages: The conversation; extended in place.
        allowed: Only these tools may run; ``None`` is returned when the brain wants
            another (a speculative reply follows read-only tools only).
        off_loop: Ask the brain in a worker thread (the event loop carries a live call).

    Raises:
        BrainLoopError: After ``MAX_TOOL_STEPS`` tool calls without a reply.
    """
    for _ in range(MAX_TOOL_STEPS):
        if off_loop:
            action = await asyncio.to_thread(brain.next_action, messages)
        else:
            action = brain.next_action(messages)
        if isinstance(action, Say):
            messages.append({"role": "assistant", "content": action.text})
            return action.text
        assert isinstance(action, CallTool)
        if allowed is not None and action.name not in allowed:
            return None
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


async def run_chat_session(
    settings: Any,
    *,
    patient_id: str | None = None,
    input_fn: Callable[..., Any] = input,
    output_fn: Callable[[str], Any] = print,
) -> int:
    """``echo-agent chat``: one audited session, built exactly as a voice session's brain/tools.

    The clinic store, vocabulary, local models (the intent classifier) and audit store come
    from ``settings`` as in the server; bookings and every other write are recorded in the
    audit trail (session ``variant`` "chat", transport "text") before they commit, and each
    exchange is filed as a ``chat_turn`` record.
    """
    from clinic.store import ClinicStore
    from pipelines import Session, clinic_brain_and_tools
    from providers.local import LocalModels
    from runtime import load_lexicon, load_patients, load_vocabulary, open_audit_store

    store = ClinicStore(settings.resolved_clinic_db(), timezone=settings.clinic_timezone)
    from datetime import datetime
    from zoneinfo import ZoneInfo

    today = datetime.now(ZoneInfo(settings.clinic_timezone)).date()
    store.seed(load_vocabulary(settings), start=today)
    load_patients(store, settings)
    session_id = uuid.uuid4().hex
    audit_store = open_audit_store(settings)
    recorder = None
    if audit_store is not None:
        from audit import AuditRecorder

        recorder = AuditRecorder(
            audit_store,
            session_id=session_id,
            variant="chat",
            config_hash=settings.config_hash("chat"),
        )
    session = Session(
        session_id=session_id,
        settings=settings,
        transport=None,
        models=LocalModels(settings),
        clinic_store=store,
        lexicon=load_lexicon(settings),
        patient_id=patient_id or f"patient-{session_id[:8]}",
        today=today,
        audit=recorder,
        identified=bool(patient_id),
        transport_name="text",
    )
    brain, tools = clinic_brain_and_tools(session, local=True)
    status = "complete"
    if recorder is not None:
        await recorder.start(transport="text", patient_id=session.patient_id)
    said = {"user": 0, "assistant": 0}

    def record(role: str, text: str) -> None:
        if recorder is not None:
            recorder.submit("chat_turn", {"turn": said["assistant"], "role": role, "text": text})
        said[role] += 1

    async def read(prompt: str) -> str | None:
        line = await _read(input_fn, prompt)
        if line is None:
            raise EOFError
        if line.strip() and line.strip().lower() not in EXIT_WORDS:
            record("user", line.strip())
        return line

    def write(line: str) -> None:
        record("assistant", line.removeprefix("Echo: "))
        output_fn(line)

    try:
        await chat_loop(brain, tools, read, write)
    except BaseException:
        status = "server_error"
        raise
    finally:
        if recorder is not None:
            await recorder.close(status)
        if audit_store is not None:
            audit_store.close()
    return 0
