"""RTVI, Pipecat's client protocol, on every variant, so Pipecat's client SDKs work with Echo.

``PipelineWorker`` puts an ``RTVIProcessor`` at the head of the pipeline and an
``RTVIObserver`` beside it (``worker_options`` passes :func:`rtvi_options`). The observer turns
frames into RTVI messages on the transport (the SmallWebRTC data channel, the ``/ws``
WebSocket, Daily app messages): ``user-started-speaking`` / ``user-stopped-speaking``, user
transcripts, ``bot-started-speaking`` / ``bot-stopped-speaking``, ``bot-interrupted``,
``bot-output`` (the text the output transport actually played, so it ends where the caller
interrupted), ``bot-llm-*`` / ``bot-tts-*`` and ``metrics``.

Echo's own client messages (``echo-latency``, ``echo-vision-image``) keep going out as they
are, for Echo's page and :class:`transports.webrtc_client.EchoCaller`; :class:`EchoRTVIObserver`
repeats each as an RTVI ``server-message`` (``data`` is the message itself), which an RTVI
client receives as ``onServerMessage``.

A client may say ``client-ready`` (answered with ``bot-ready``) and ``disconnect-bot``. The rest
of RTVI's client messages (``send-text``, ``send-file``, ``llm-function-call-result``,
``raw-audio``, ``dtmf``, ``client-message``, ``ui-*``) would put text, files or tool results
into the conversation past the audit trail and the caller's identification, so Echo answers
them with an ``error-response`` naming the type and the call goes on.
"""

from __future__ import annotations

from typing import Any

import pipecat.processors.frameworks.rtvi.models as RTVI
from pipecat.frames.frames import OutputTransportMessageFrame, OutputTransportMessageUrgentFrame
from pipecat.observers.base_observer import FrameProcessed
from pipecat.processors.frameworks.rtvi import RTVIObserver, RTVIProcessor
from pipecat.transports.base_output import BaseOutputTransport

ECHO_MESSAGE_PREFIX = "echo-"
ACCEPTED_CLIENT_MESSAGES = frozenset({"client-ready", "disconnect-bot"})


def echo_message(message: Any) -> dict[str, Any] | None:
    """Echo's own client message (``{"type": "echo-…", …}``, no RTVI label), else None."""
    if not isinstance(message, dict) or "label" in message:
        return None
    kind = message.get("type")
    if isinstance(kind, str) and kind.startswith(ECHO_MESSAGE_PREFIX):
        return message
    return None


def refusal(message_type: str) -> str | None:
    """Why Echo refuses an RTVI client message of this type, or None when it accepts it."""
    if message_type in ACCEPTED_CLIENT_MESSAGES:
        return None
    accepted = ", ".join(sorted(ACCEPTED_CLIENT_MESSAGES))
    return f"Echo does not accept '{message_type}' messages (it accepts {accepted})"


class EchoRTVIObserver(RTVIObserver):
    """Pipecat's RTVI observer that also repeats Echo's client messages as server messages."""

    async def on_process_frame(self, data: FrameProcessed):
        """Repeat an Echo message the output transport sends as an RTVI ``server-message``.

        Args:
            data: The processed frame and the processor that handled it.
        """
        await super().on_process_frame(data)
        frame = data.frame
        if not isinstance(frame, (OutputTransportMessageUrgentFrame, OutputTransportMessageFrame)):
            return
        if not isinstance(data.processor, BaseOutputTransport):
            return  # still on its way through the pipeline
        message = echo_message(frame.message)
        if message is not None:
            await self.send_rtvi_message(RTVI.ServerMessage(data=message))


class EchoRTVIProcessor(RTVIProcessor):
    """Pipecat's RTVI processor with Echo's observer and Echo's accepted client messages."""

    def create_rtvi_observer(self, *, params=None, **kwargs) -> EchoRTVIObserver:
        """The observer ``PipelineWorker`` adds beside this processor.

        Args:
            params: RTVI observer settings (Pipecat's defaults when None).
            **kwargs: Passed to the observer.
        """
        return EchoRTVIObserver(self, params=params, **kwargs)

    async def _handle_message(self, message: RTVI.Message, user_id: str | None = None):
        """Handle an accepted client message; answer any other with an ``error-response``."""
        reason = refusal(message.type)
        if reason is not None:
            await self._send_error_response(message.id, reason)
            return
        await super()._handle_message(message, user_id)


def rtvi_options() -> dict[str, Any]:
    """``PipelineWorker`` options that turn RTVI on with Echo's processor and observer."""
    return {"enable_rtvi": True, "rtvi_processor": EchoRTVIProcessor()}
