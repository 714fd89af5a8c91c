"""Echo's Gemini Live service: Pipecat's, plus clear session-ending errors.

:class:`EchoGeminiLiveLLMService` is Pipecat's ``GeminiLiveLLMService`` with the faults it
would otherwise wait out turned into session-ending errors (an unusable service, which a
failover switcher hands to the local Realtime server, :mod:`pipelines.failover_realtime`):

* a refused handshake (HTTP 401/403: the key; another status; a session closed at setup)
  or an unreachable endpoint. Pipecat's connection task lets these escape, and the service
  goes silent;
* a dropped session reconnects ``max_reconnects`` times (the conversation so far is sent
  again, as Pipecat does); a reconnect that fails, or a drop with none left, ends it.

It also greets: Pipecat seeds an empty first context with the system instruction (as a
``developer`` message) so that the model speaks first, but with an instruction given at
init its adapter reports the empty context as non-empty and nothing is sent; the seed is
added here before Pipecat looks (and :meth:`EchoGeminiLiveLLMService.unseed` takes it out
for a service taking the call over).

Like Echo's OpenAI Realtime service, it makes its first connection during setup (Pipecat's
starts it in the background): a refused key is known before the call starts, not found
out while the greeting is being waited for. It raises ``on_connection_lost`` (reason) when
the session drops, as
:class:`realtime.client.EchoOpenAIRealtimeLLMService` does. ``http_options`` (Pipecat's)
points it at another endpoint: google-genai always connects with ``wss://`` to
``<base>/ws/google.ai.generativelanguage.<version>.GenerativeService.BidiGenerateContent``.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from google.genai import errors as genai_errors
from loguru import logger
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.google.gemini_live.llm import GeminiLiveLLMService
from pipecat.utils.errors import ErrorCategory
from websockets.exceptions import InvalidStatus

from realtime.client import EndsOnce

# Close codes with which the Live API refuses a session (bad key, model or setup).
_REFUSING_CLOSE_CODES = (1007, 1008)


def describe_fault(error: Exception, *, reconnecting: bool = False) -> tuple[str, ErrorCategory]:
    """A one-line description and category of a failed Gemini Live connection (pure).

    Args:
        error: What escaped the connection: a refused handshake, a close, a socket error.
        reconnecting: The connection was a reconnect after a dropped session.
    """
    if isinstance(error, InvalidStatus):
        status = error.response.status_code
        if status in (401, 403):
            text = f"Gemini Live rejected the API key (HTTP {status}): check GOOGLE_API_KEY"
            category = ErrorCategory.AUTHENTICATION
        else:
            text = f"Gemini Live refused the connection (HTTP {status})"
            category = ErrorCategory.INVALID_REQUEST if status < 500 else ErrorCategory.SERVER
    elif isinstance(error, genai_errors.APIError):
        detail = error.details if isinstance(error.details, str) else error.message
        text = f"Gemini Live closed the session ({error.code}): {detail or 'no reason given'}"
        refused = error.code in _REFUSING_CLOSE_CODES
        category = ErrorCategory.INVALID_REQUEST if refused else ErrorCategory.SERVER
    elif isinstance(error, OSError):
        text = f"could not connect to Gemini Live: {type(error).__name__}"
        category = ErrorCategory.CONNECTIVITY
    else:
        text = f"the Gemini Live connection failed: {type(error).__name__}"
        category = ErrorCategory.UNKNOWN
    if reconnecting:
        text = f"the Gemini Live session dropped and its reconnect failed: {text}"
    return text, category


class EchoGeminiLiveLLMService(EndsOnce, GeminiLiveLLMService):
    """Gemini Live that ends itself (an unusable service) on a fault it cannot get past.

    Args:
        max_reconnects: Reconnections allowed in one session after a dropped session.
        setup_wait_secs: Longest wait in setup for the first session (``setupComplete``)
            or its failure; a slower one is waited for by the call, not the setup.
        **kwargs: Passed to ``GeminiLiveLLMService`` (``api_key``, ``settings``,
            ``http_options``...).
    """

    def __init__(self, *, max_reconnects: int = 1, setup_wait_secs: float = 4.0, **kwargs: Any):
        super().__init__(**kwargs)
        self._setup_wait_secs = setup_wait_secs
        self._attempted = asyncio.Event()  # the first connection is up, or failed
        self._reconnects_left = max_reconnects
        self._lost = False  # the session dropped at least once
        self._register_event_handler("on_connection_lost")

    def unseed(self, context: Any) -> None:
        """Take out of ``context`` the system instruction seeded into it (see the module).

        With no messages in the first context, the system instruction goes in as a
        ``developer`` message so that the model greets; another service taking the call
        over has instructions of its own.
        """
        seed = self._system_instruction_from_init
        messages = context.get_messages()
        kept = [m for m in messages if not _is_seed(m, seed)]
        if len(kept) != len(messages):
            context.set_messages(kept)

    async def _handle_context(
        self, context: Any, direction: FrameDirection = FrameDirection.DOWNSTREAM
    ):
        seed = self._system_instruction_from_init
        first = self._context is None and not context.get_messages()
        if first and self._inference_on_context_initialization and seed:
            context.add_message({"role": "developer", "content": seed})
        await super()._handle_context(context, direction)

    async def setup(self, setup: Any):
        """Set up the service, waiting (a bounded time) for the first connection attempt."""
        await super().setup(setup)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._attempted.wait(), self._setup_wait_secs)

    async def _handle_session_ready(self, session: Any):
        await super()._handle_session_ready(session)
        self._attempted.set()

    async def _connection_task_handler(self, config: Any):
        # Pipecat's handler lets a failed handshake escape the task: the service would be
        # silent for the rest of the call.
        try:
            await super()._connection_task_handler(config)
        except Exception as e:  # a cancelled task is not an Exception: it goes through
            if not self._disconnecting:
                await self._end(*describe_fault(e, reconnecting=self._lost))
        finally:
            self._attempted.set()

    async def _handle_connection_error(self, error: Exception) -> bool:
        self._lost = True
        reason = describe_fault(error)[0]
        logger.warning(f"{self}: Gemini Live session dropped: {reason}")
        await self._call_event_handler("on_connection_lost", reason)
        if self._reconnects_left <= 0 or not self.is_usable:
            await self._end(
                f"the Gemini Live session dropped ({reason}) and no reconnect is left",
                ErrorCategory.CONNECTIVITY,
            )
            return False
        self._reconnects_left -= 1
        return True


def _is_seed(message: Any, seed: Any) -> bool:
    return (
        isinstance(message, dict)
        and message.get("role") == "developer"
        and bool(seed)
        and message.get("content") == seed
    )
