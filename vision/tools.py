"""The ``read_image`` tool: look at the current image (or the camera) and read it.

The brain (local or a cloud LLM) calls ``read_image`` with the caller's words. The handler
picks the image — a fresh upload first, else a camera frame when the question is about what
the camera shows (or there is no image yet), else the current image for a follow-up — reads
it with the local reader (cached per image) and returns the reading dict of
:mod:`vision.reader` plus ``answer`` and ``offer`` (:func:`vision.answer.answer_image`).

Camera frames are fetched on request, the way Pipecat's ``fetch_user_image`` does: a
``UserImageRequestFrame`` tied to the tool call goes upstream to the input transport, which
answers with the next camera frame as a ``UserImageRawFrame``; the
:class:`vision.processors.CameraFrameGrabber` behind the transport hands it to this handler.
For a cloud model (``append_camera=True``) the same frame is appended to the LLM context
after the tool result by Pipecat's user aggregator. With ``vision_camera_mode=latest`` a
frame the grabber kept at most ``LATEST_MAX_AGE`` ago is used instead of waiting.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any

from pipecat.adapters.llm.schemas.function_schema import FunctionSchema

from vision.answer import answer_image
from vision.conversation import VisionConversation
from vision.images import PreparedImage, same_scene

CAMERA_TIMEOUT_SECS = 1.5
LATEST_MAX_AGE = 2.0
PREFETCH_MAX_AGE = 30.0
CAMERA_WORDS = re.compile(
    r"\b(camera|screen|see|seeing|look|looking|show|showing|holding|hold|this|here|"
    r"front|photo|picture)\b",
    re.IGNORECASE,
)
NAMES_CAMERA = re.compile(r"\b(camera|webcam|video)\b", re.IGNORECASE)
FOLLOW_UP = re.compile(r"\b(line|again|repeat|what about|and the|that one)\b", re.IGNORECASE)

READ_IMAGE_SCHEMA = FunctionSchema(
    name="read_image",
    description=(
        "Look at the image the caller uploaded or their camera and read the text in it "
        "(error messages, medication labels, letters). Returns what was read and a short "
        "spoken answer."
    ),
    properties={
        "question": {
            "type": "string",
            "description": "The caller's question about the image, in their words.",
        }
    },
    required=["question"],
)


class VisionTools:
    """Handles ``read_image`` for one call."""

    def __init__(self, conversation: VisionConversation, *, append_camera: bool = False):
        """Create the handler.

        Args:
            conversation: The call's images and readings.
            append_camera: Also put camera frames into the LLM context (a vision model).
        """
        self.conversation = conversation
        self.append_camera = append_camera
        self.camera_waits_ms: list[float] = []  # request → frame, for the measurements
        self.prefetch_hits = 0

    def register(self, llm: Any) -> None:
        """Register the handler on a Pipecat ``LLMService``."""
        llm.register_function("read_image", self.handle_function_call)

    async def handle_function_call(self, params: Any) -> None:
        """Pipecat function-call handler (``params`` is a ``FunctionCallParams``)."""
        question = str((params.arguments or {}).get("question") or "")
        started = time.perf_counter()
        result = await self.read(question, params=params)
        self.conversation.tool_ms.append((time.perf_counter() - started) * 1000)
        await params.result_callback(result)

    async def read(self, question: str, *, params: Any | None = None) -> dict:
        """The reading for ``question`` plus ``answer`` and ``offer``."""
        conv = self.conversation
        image = await self._choose_image(question, params)
        if isinstance(image, PreparedImage):
            ref = image.ref
            reading = conv.reading(image)
            result = await answer_image(question, reading, source=ref.source, sha256=ref.sha256)
        else:
            result = await answer_image(question, image)
        conv.record(image if isinstance(image, PreparedImage) else None, result, event="read")
        return result

    async def _choose_image(self, question: str, params: Any | None) -> PreparedImage | str:
        conv = self.conversation
        if conv.current is not None and conv.unread:
            return conv.current
        follow_up = conv.current is not None and FOLLOW_UP.search(question)
        wants_camera = bool(CAMERA_WORDS.search(question))
        if conv.camera and not follow_up and (wants_camera or conv.current is None):
            prepared = await self._camera_image(params)
            if prepared is not None:
                conv.set_current(prepared, unread=False)
                conv.record(prepared, None, event="received")
                await self._tell_client(prepared)
                return prepared
        if conv.current is not None:
            return conv.current
        return "no_camera" if conv.camera or NAMES_CAMERA.search(question) else "no_image"

    async def _camera_image(self, params: Any | None) -> PreparedImage | None:
        """The camera image for this turn (a prefetched one if the scene is unchanged)."""
        conv = self.conversation
        frame = await self._camera_frame(params)
        early = None
        if (
            conv.prefetched is not None
            and time.monotonic() - conv.prefetched[0] <= PREFETCH_MAX_AGE
        ):
            early = conv.prefetched
        if frame is None:
            # No fresh frame in time (a loaded machine): the one from this turn's start.
            return await early[2] if early is not None else None
        if early is not None and same_scene(early[1], frame):
            self.prefetch_hits += 1
            return await early[2]  # its reading is under way or done
        return await conv.prepare_frame(frame)

    async def _camera_frame(self, params: Any | None) -> Any | None:
        """A camera frame for this tool call, or None when the camera is not shared."""
        conv = self.conversation
        if conv.latest_frame is not None:
            at, frame = conv.latest_frame
            if time.monotonic() - at <= LATEST_MAX_AGE:
                self.camera_waits_ms.append(0.0)
                return frame
        if params is None or getattr(params, "llm", None) is None:
            return None
        from pipecat.frames.frames import UserImageRequestFrame
        from pipecat.processors.frame_processor import FrameDirection

        loop = asyncio.get_running_loop()
        waiter = loop.create_future()
        conv.camera_waiters[params.tool_call_id] = waiter

        async def refused(result: Any) -> None:  # the transport: no camera track
            if isinstance(result, dict) and result.get("error") and not waiter.done():
                waiter.set_result(None)

        request = UserImageRequestFrame(
            user_id="",
            video_source="camera",
            append_to_context=self.append_camera,
            function_name=params.function_name,
            tool_call_id=params.tool_call_id,
            result_callback=refused,
        )
        started = time.perf_counter()
        await params.llm.push_frame(request, FrameDirection.UPSTREAM)
        try:
            frame = await asyncio.wait_for(waiter, CAMERA_TIMEOUT_SECS)
        except TimeoutError:
            frame = None
        finally:
            conv.camera_waiters.pop(params.tool_call_id, None)
        if frame is not None:
            self.camera_waits_ms.append((time.perf_counter() - started) * 1000)
        return frame

    async def _tell_client(self, prepared: PreparedImage) -> None:
        worker = self.conversation.worker
        if worker is None:
            return
        from pipecat.frames.frames import OutputTransportMessageUrgentFrame

        message = await asyncio.to_thread(self.conversation.client_message, prepared)
        await worker.queue_frames([OutputTransportMessageUrgentFrame(message=message)])
