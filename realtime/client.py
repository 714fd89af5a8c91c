"""Echo's OpenAI Realtime service: Pipecat's, plus clear errors and one reconnect.

:class:`EchoOpenAIRealtimeLLMService` is Pipecat's ``OpenAIRealtimeLLMService`` with:

* an optional ``before_connect`` hook (starts Echo's in-process Realtime server on demand);
* the interruption policy applied on both sides: the aggregator's turn strategy and the
  server's ``turn_detection.interrupt_response``;
* clear, session-ending errors for a rejected key (HTTP 401/403), an unknown model or voice,
  and any other ``error`` event (the API treats them as fatal to the connection);
* a dropped WebSocket reconnects once (the conversation so far is restored on the new
  connection); if that fails, or the connection drops again, the session ends with an
  ``ErrorFrame`` saying why, which the audit observer records;
* ``connect_lazily``: a standby (the local server behind a cloud one, see
  :mod:`pipelines.failover_realtime`) connects only when first given work, and
  :meth:`EchoOpenAIRealtimeLLMService.take_over` hands it a call's conversation so far.

The same class talks to ``wss://api.openai.com/v1/realtime`` and to the local server: only
``base_url`` differs.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from loguru import logger
from pipecat.frames.frames import (
    LLMFullResponseEndFrame,
    LLMServiceMetadataFrame,
    ProposedUserStartedSpeakingFrame,
    TTSStoppedFrame,
)
from pipecat.services.openai.realtime import events
from pipecat.services.openai.realtime.llm import OpenAIRealtimeLLMService
from pipecat.turns.user_turn_strategies import ExternalUserTurnStrategies
from pipecat.utils.errors import ErrorCategory
from websockets.asyncio.client import connect as websocket_connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

# Settings a user can change when the API refuses a value, by error parameter.
_SETTING_HINTS = {
    "model": "ECHO_REALTIME_MODEL",
    "voice": "ECHO_REALTIME_VOICE",
    "turn_detection": "ECHO_REALTIME_TURN_DETECTION",
    "transcription": "ECHO_REALTIME_TRANSCRIPTION_MODEL",
}
_CATEGORIES = {
    "invalid_api_key": ErrorCategory.AUTHENTICATION,
    "model_not_found": ErrorCategory.INVALID_REQUEST,
    "invalid_value": ErrorCategory.INVALID_REQUEST,
    "unknown_parameter": ErrorCategory.INVALID_REQUEST,
    "insufficient_quota": ErrorCategory.QUOTA,
    "rate_limit_exceeded": ErrorCategory.RATE_LIMIT,
}


def describe_error(code: str | None, message: str, param: str | None) -> str:
    """A one-line, actionable description of a Realtime ``error`` event (pure)."""
    text = f"Realtime API error ({code or 'unknown'}): {message}"
    for key, setting in _SETTING_HINTS.items():
        if param and key in param or (key == "model" and code == "model_not_found"):
            return f"{text} (set {setting})"
    return text


class EndsOnce:
    """A speech-to-speech service that reports a session-ending error once, then is unusable.

    Mixed into Echo's Realtime and Gemini Live services (before Pipecat's class): the worker,
    or a failover switcher, acts on that one error.
    """

    _ended = False

    @property
    def ended(self) -> bool:
        """Whether the service reported a session-ending error."""
        return self._ended

    async def _end(self, reason: str, category: ErrorCategory) -> None:
        if self._ended:
            return
        self._ended = True
        logger.error(f"{self}: {reason}")
        await self.push_error(error_msg=reason, category=category, force_treat_as_permanent=True)


class EchoOpenAIRealtimeLLMService(EndsOnce, OpenAIRealtimeLLMService):
    """OpenAI Realtime with Echo's error handling, reconnect and interruption policy.

    Args:
        before_connect: Awaited before every connection attempt (starts a local server).
        interruptions: Whether the user speaking stops the bot (barge-in).
        max_reconnects: Reconnections allowed in one session after a dropped socket.
        connect_lazily: Connect on the first context or :meth:`take_over`, not at setup.
        **kwargs: Passed to ``OpenAIRealtimeLLMService`` (``api_key``, ``base_url``,
            ``settings``...).

    """

    def __init__(
        self,
        *,
        before_connect: Callable[[], Awaitable[Any]] | None = None,
        interruptions: bool = True,
        max_reconnects: int = 1,
        connect_lazily: bool = False,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self._connect_lazily = connect_lazily
        self._before_connect = before_connect
        self._interruptions = interruptions
        self._reconnects_left = max_reconnects
        self._restore_history = False  # send the conversation again once the session is up
        self._replay_audio: list = []  # a caller's turn to send once the session is up
        self._register_event_handler("on_connection_lost")

    # --- interruption policy -----------------------------------------------------------------

    def service_metadata_frame(self) -> LLMServiceMetadataFrame:
        """Recommend external turn strategies carrying Echo's interruption policy."""
        frame = super().service_metadata_frame()
        if frame.user_turn_strategies is not None:
            frame.user_turn_strategies = ExternalUserTurnStrategies(
                enable_interruptions=self._interruptions
            )
        return frame

    async def send_client_event(self, event: events.ClientEvent):
        """Send an event; ``session.update`` carries the interruption policy for server VAD."""
        data = event.model_dump(exclude_none=True)
        if isinstance(event, events.SessionUpdateEvent):
            audio_in = (data.get("session", {}).get("audio") or {}).get("input") or {}
            td = audio_in.get("turn_detection")
            if isinstance(td, dict) and td.get("type", "server_vad") == "server_vad":
                td.setdefault("interrupt_response", self._interruptions)
                td.setdefault("create_response", True)
        await self._ws_send(data)

    async def _handle_evt_speech_started(self, evt):
        if self._interruptions:
            await super()._handle_evt_speech_started(evt)
            return
        # Barge-in off: the bot keeps talking, so nothing is truncated.
        await self.broadcast_frame(ProposedUserStartedSpeakingFrame)

    # --- connection ------------------------------------------------------------------------

    async def setup(self, setup):
        """Set up the service; connect now unless it connects lazily."""
        if not self._connect_lazily:
            await super().setup(setup)
            return
        # OpenAIRealtimeLLMService.setup connects: skip it, keep the base setup.
        await super(OpenAIRealtimeLLMService, self).setup(setup)

    async def _handle_context(self, context, direction):
        if self._connect_lazily:
            await self._connect()  # its first work (a no-op once connected)
        await super()._handle_context(context, direction)

    async def take_over(self, context, *, respond: bool, audio: list | None = None) -> None:
        """Carry on a call another service began: its conversation so far, then maybe a reply.

        Args:
            context: The call's ``LLMContext`` (the aggregators' shared one), or None.
            respond: Ask for a response to it at once (a reply was due).
            audio: The caller's ``InputAudioRawFrame``s of a turn the other service never
                answered: sent after the conversation, for this server to hear and answer.
        """
        self._replay_audio = list(audio or [])
        if context is not None:
            self._context = context
            self._llm_needs_conversation_setup = True
            await self._process_completed_function_calls(send_new_results=False)
        await self._connect()
        if respond and context is not None:
            await self._create_response()  # sends the conversation first, once ready
        elif context is not None:
            self._restore_history = True

    async def _connect(self):
        if self._websocket or self._ended:
            return
        try:
            if self._before_connect is not None:
                await self._before_connect()
            self._websocket = await websocket_connect(
                uri=self.base_url, additional_headers=await self._auth_headers()
            )
        except InvalidStatus as e:
            self._websocket = None
            status = e.response.status_code
            if status in (401, 403):
                await self._end(
                    f"the Realtime API rejected the API key (HTTP {status}): check OPENAI_API_KEY",
                    ErrorCategory.AUTHENTICATION,
                )
            else:
                await self._end(
                    f"the Realtime API refused the connection (HTTP {status})",
                    ErrorCategory.INVALID_REQUEST if status < 500 else ErrorCategory.SERVER,
                )
            return
        except Exception as e:
            self._websocket = None
            await self._end(
                f"could not connect to the Realtime API: {type(e).__name__}: {e}",
                ErrorCategory.CONNECTIVITY,
            )
            return
        self._receive_task = self.create_task(self._receive_task_handler())

    async def _receive_task_handler(self):
        reason = "closed by the server"
        try:
            await super()._receive_task_handler()
        except ConnectionClosed as e:
            reason = f"connection closed ({e.rcvd.code if e.rcvd else 'no close frame'})"
        if self._disconnecting or self._ended:
            return
        await self._connection_lost(reason)

    async def _connection_lost(self, reason: str) -> None:
        logger.warning(f"{self}: Realtime WebSocket dropped: {reason}")
        await self._call_event_handler("on_connection_lost", reason)
        if self._reconnects_left <= 0:
            await self._end(
                f"the Realtime connection dropped ({reason}) and no reconnect is left; "
                "session ended",
                ErrorCategory.CONNECTIVITY,
            )
            return
        self._reconnects_left -= 1
        # _disconnect cancels the receive task, which is this one: reconnect from another.
        self.create_task(self._reconnect(reason))

    async def _reconnect(self, reason: str) -> None:
        await self._disconnect()
        if self._current_audio_response is not None or self._current_assistant_response:
            await self.push_frame(TTSStoppedFrame())
            await self.push_frame(LLMFullResponseEndFrame())
        self._current_audio_response = None
        self._current_assistant_response = None
        self._llm_needs_conversation_setup = True
        if self._context is not None:
            await self._process_completed_function_calls(send_new_results=False)
            self._restore_history = True
        await self._connect()
        if self._websocket is None:
            return  # _connect reported why and ended the session
        logger.info(f"{self}: Realtime WebSocket reconnected after: {reason}")

    async def _handle_evt_session_updated(self, evt):
        await super()._handle_evt_session_updated(evt)
        if self._restore_history and self._context is not None:
            self._restore_history = False
            await self._send_conversation_history()
        replay, self._replay_audio = self._replay_audio, []
        for frame in replay:
            await self._send_user_audio(frame)

    async def _send_conversation_history(self) -> None:
        """Put the conversation so far into a fresh connection, without asking for a reply."""
        adapter = self.get_llm_adapter()
        params = await adapter.get_llm_invocation_params(self._context)
        for item in params["messages"]:
            evt = events.ConversationItemCreateEvent(item=item)
            self._messages_added_manually[evt.item.id] = True
            await self.send_client_event(evt)
        self._llm_needs_conversation_setup = False

    async def _handle_evt_error(self, evt):
        err = evt.error
        await self._end(
            describe_error(err.code, err.message, err.param),
            _CATEGORIES.get(err.code or "", ErrorCategory.UNKNOWN),
        )
