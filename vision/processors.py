"""Two thin processors for the vision variant.

* :class:`CameraFrameGrabber` sits right after the input transport: a camera frame that
  answers a ``read_image`` request goes to the waiting tool call (and on, so Pipecat's user
  aggregator can add it to a vision model's context); in ``prefetch`` mode it asks for one
  frame when the caller starts speaking (``UserStartedSpeakingFrame``, broadcast upstream by
  the user aggregator) and has it read while they talk; in ``latest`` mode the sampled
  frames are kept (only the newest) and not passed on: nothing streams to the model. For a
  speech-to-speech model (``conversation.to_model``) the frame taken as the caller starts
  speaking goes on to the model as an ``InputImageRawFrame`` when the scene has changed.
* :class:`ImageHistoryLimiter` sits between the user aggregator and the LLM: before each
  inference it drops the pixels of all but the newest images from the context (their
  ``[image sha256=…]`` notes stay; the audit trail has the references).
"""

from __future__ import annotations

import time

from pipecat.frames.frames import (
    Frame,
    LLMContextFrame,
    UserImageRawFrame,
    UserImageRequestFrame,
    UserStartedSpeakingFrame,
)
from pipecat.processors.frame_processor import FrameDirection, FrameProcessor

from vision.conversation import VisionConversation, bound_images


class CameraFrameGrabber(FrameProcessor):
    """Hands requested camera frames to the ``read_image`` call that asked for them."""

    def __init__(self, *, conversation: VisionConversation, prefetch: bool = False, **kwargs):
        """Initialize the grabber.

        Args:
            conversation: The call's image state (holds the waiting tool calls).
            prefetch: Take a frame when the caller starts speaking.
            **kwargs: Passed to ``FrameProcessor``.
        """
        super().__init__(**kwargs)
        self._conversation = conversation
        self._prefetch = prefetch
        self._requests: set[int] = set()  # ids of our own prefetch requests

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        """Route camera frames; pass every other frame through."""
        await super().process_frame(frame, direction)
        if isinstance(frame, UserImageRawFrame) and direction == FrameDirection.DOWNSTREAM:
            request = frame.request
            if request is not None and request.id in self._requests:
                self._requests.discard(request.id)
                if self._conversation.to_model:
                    self.create_task(self._forward(frame))
                else:
                    self._conversation.prefetch(frame)
                return  # ours: read in the background, not streamed on
            if request is not None and request.tool_call_id:
                self._conversation.camera_frame(request.tool_call_id, frame)
            elif request is None:
                self._conversation.latest_frame = (time.monotonic(), frame)
                return  # a sampled frame: kept here, never streamed on
        elif (
            isinstance(frame, UserStartedSpeakingFrame)
            and direction == FrameDirection.UPSTREAM
            and self._prefetch
        ):
            await self._request_frame()
        await self.push_frame(frame, direction)

    async def _forward(self, frame: UserImageRawFrame) -> None:
        """Send this turn's camera frame to a speech-to-speech model, if the scene changed."""
        image = await self._conversation.camera_to_model(frame)
        if image is not None:
            await self.push_frame(image)

    async def _request_frame(self) -> None:
        async def refused(result) -> None:  # no camera shared: nothing to read ahead
            self._requests.discard(request.id)
            self._conversation.prefetched = None  # an older frame is no longer on camera

        request = UserImageRequestFrame(
            user_id="", video_source="camera", append_to_context=False, result_callback=refused
        )
        self._requests.add(request.id)
        await self.push_frame(request, FrameDirection.UPSTREAM)


class ImageHistoryLimiter(FrameProcessor):
    """Keeps at most ``keep`` images' pixels in the context the LLM gets."""

    def __init__(self, *, keep: int = 1, **kwargs):
        """Initialize the limiter.

        Args:
            keep: Images whose pixels stay in the model input (the newest).
            **kwargs: Passed to ``FrameProcessor``.
        """
        super().__init__(**kwargs)
        self._keep = keep

    async def process_frame(self, frame: Frame, direction: FrameDirection):
        """Trim older images from each context on its way to the LLM."""
        await super().process_frame(frame, direction)
        if isinstance(frame, LLMContextFrame) and direction == FrameDirection.DOWNSTREAM:
            bound_images(frame.context.get_messages(), self._keep)
        await self.push_frame(frame, direction)


def capture_camera_on_connect(transport, *, latest: bool = False) -> None:
    """Capture the caller's camera once connected: on request only, or once a second."""

    @transport.event_handler("on_client_connected")
    async def capture_camera(transport, client):
        peer = transport.get_client_id(client)
        if latest:
            await transport.capture_participant_video(peer, framerate=1)
        else:
            await transport.capture_participant_video(peer, on_request_only=True)
