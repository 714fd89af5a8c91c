"""One call's images: the current image, its reading, the references of earlier ones.

:class:`VisionConversation` is the per-session state the upload route, the camera grabber
and the ``read_image`` tool share. A new image (upload or camera) replaces the current one;
earlier ones are kept only by reference (:class:`vision.images.ImageRef`) here and in the
audit trail, and :func:`bound_images` drops their pixels from the model input. Readings are
cached by sha256, so a follow-up question about the same image does not run OCR again.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import time
from collections.abc import Callable
from typing import Any

from loguru import logger

from vision.images import PreparedImage
from vision.reader import read_image

IMAGE_NOTE = "[image sha256={sha256} source={source} {width}x{height}]"


def image_message(prepared: PreparedImage, *, detail: str = "auto", note: str = "") -> dict:
    """An OpenAI-format user message carrying the image as a base64 data URL."""
    ref = prepared.ref
    tag = IMAGE_NOTE.format(
        sha256=ref.sha256, source=ref.source, width=ref.width, height=ref.height
    )
    url = f"data:{prepared.mime};base64,{base64.b64encode(prepared.data).decode('ascii')}"
    return {
        "role": "user",
        "content": [
            {"type": "text", "text": f"{note} {tag}".strip()},
            {"type": "image_url", "image_url": {"url": url, "detail": detail}},
        ],
    }


def model_frame(prepared: PreparedImage) -> Any:
    """The model copy of an image as the raw RGB frame Pipecat's realtime services take."""
    from pipecat.frames.frames import InputImageRawFrame

    img = prepared.pil().convert("RGB")
    return InputImageRawFrame(image=img.tobytes(), size=img.size, format="RGB")


def bound_images(messages: list[Any], keep: int) -> int:
    """Replace all but the last ``keep`` image parts in ``messages`` by a text reference.

    The note text before an image (``[image sha256=…]``) stays, so the conversation still
    says which image was shown. Returns the number of image parts dropped.
    """
    parts = []
    for message in messages:
        content = message.get("content") if isinstance(message, dict) else None
        if isinstance(content, list):
            parts += [(content, i) for i, p in enumerate(content) if _is_image(p)]
    dropped = 0
    for content, i in parts[: max(0, len(parts) - keep)]:
        content[i] = {"type": "text", "text": "[earlier image: not sent again]"}
        dropped += 1
    return dropped


def _is_image(part: Any) -> bool:
    return isinstance(part, dict) and part.get("type") == "image_url"


def thumbnail_data_url(prepared: PreparedImage, side: int = 160) -> str:
    """A small JPEG data URL of the image, for the page's thumbnail."""
    img = prepared.pil()
    img.thumbnail((side, side))
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=70)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


class VisionConversation:
    """The images of one call and what was read from them."""

    def __init__(
        self,
        *,
        settings: Any,
        lexicon: Any,
        audit: Any | None = None,
        camera: bool = False,
        reader: Callable[..., dict] = read_image,
        to_model: bool = False,
        session_id: str = "",
    ):
        """Create the state for one call.

        Args:
            settings: Echo's settings (``vision_*``).
            lexicon: The vocabulary the reader matches against.
            audit: The session's audit recorder (``submit(kind, body)``) or None.
            camera: Whether the transport can deliver camera frames.
            reader: ``(image, lexicon=, source=, sha256=) → reading``.
            to_model: The model takes images itself as ``InputImageRawFrame`` (a
                speech-to-speech service): uploads and camera frames are forwarded to it
                instead of going into a chat context and the local reader.
            session_id: The call's session (names its folder of kept images).
        """
        self.settings = settings
        self.lexicon = lexicon
        self.audit = audit
        self.camera = camera
        self.reader = reader
        self.to_model = to_model
        self.session_id = session_id
        self.current: PreparedImage | None = None
        self.unread = False  # the current image arrived after the last reading
        self.history: list[dict] = []  # references of every image of the call
        self.worker: Any | None = None  # set by the pipeline: where uploads are queued
        self.latest_frame: tuple[float, Any] | None = None  # camera "latest" mode
        self.camera_waiters: dict[str, asyncio.Future] = {}  # tool_call_id → frame
        self.tool_ms: list[float] = []  # read_image call → result, for the benchmarks
        # "prefetch" mode: the frame taken as the caller started speaking, being read
        self.prefetched: tuple[float, Any, asyncio.Task] | None = None
        self._forwarded: Any | None = None  # the last camera frame sent to the model
        self._readings: dict[str, dict] = {}
        self._pending: dict[str, asyncio.Task] = {}

    # --- images ---------------------------------------------------------------------------

    def set_current(self, prepared: PreparedImage, *, unread: bool = True) -> None:
        """Make ``prepared`` the current image (the previous one is kept by reference)."""
        self.current = prepared
        self.unread = unread
        self.history.append({**prepared.ref.to_dict(), "at": time.time()})

    async def add_upload(self, prepared: PreparedImage) -> None:
        """An uploaded image joins the conversation: current image, message in the context.

        The OCR starts at once in the background, so the reading is ready (or nearly) when
        the caller asks about the image.
        """
        self.set_current(prepared)
        self.record(prepared, None, event="received")
        if self.to_model:
            to_model = await asyncio.to_thread(model_frame, prepared)
        else:
            self.start_reading(prepared)
            from pipecat.frames.frames import LLMMessagesAppendFrame

            message = image_message(
                prepared,
                detail=self.settings.vision_detail,
                note="The caller uploaded this image.",
            )
            to_model = LLMMessagesAppendFrame(messages=[message], run_llm=False)
        if self.worker is not None:
            from pipecat.frames.frames import OutputTransportMessageUrgentFrame

            client = OutputTransportMessageUrgentFrame(message=self.client_message(prepared))
            await self.worker.queue_frames([to_model, client])

    async def camera_to_model(self, frame: Any) -> Any | None:
        """A camera frame for a speech-to-speech model, or None when the scene is unchanged.

        The frame becomes the current image (audited, shown on the page) and is returned
        downscaled as an ``InputImageRawFrame``.
        """
        from vision.images import same_scene

        if self._forwarded is not None and same_scene(self._forwarded, frame):
            return None
        self._forwarded = frame
        prepared = await self.prepare_frame(frame)
        self.set_current(prepared, unread=False)
        self.record(prepared, None, event="received")
        if self.worker is not None:
            from pipecat.frames.frames import OutputTransportMessageUrgentFrame

            message = await asyncio.to_thread(self.client_message, prepared)
            await self.worker.queue_frames([OutputTransportMessageUrgentFrame(message=message)])
        return await asyncio.to_thread(model_frame, prepared)

    def client_message(self, prepared: PreparedImage) -> dict:
        """The data-channel message telling the page which image is current."""
        return {
            "type": "echo-vision-image",
            "image": prepared.ref.to_dict(),
            "thumbnail": thumbnail_data_url(prepared),
        }

    def camera_frame(self, tool_call_id: str | None, frame: Any) -> bool:
        """Hand a camera frame to the tool call waiting for it; False if none waits."""
        waiter = self.camera_waiters.pop(tool_call_id or "", None)
        if waiter is None or waiter.done():
            return False
        waiter.set_result(frame)
        return True

    async def prepare_frame(self, frame: Any) -> PreparedImage:
        """A camera frame (raw pixels) encoded and downscaled for the models, off the loop."""
        from vision.images import prepare_rgb

        return await asyncio.to_thread(
            prepare_rgb,
            frame.image,
            frame.size,
            pixel_format=frame.format or "RGB",
            max_side=self.settings.vision_max_side,
        )

    def prefetch(self, frame: Any) -> None:
        """Keep a frame taken at the start of the caller's turn and start reading it."""

        async def prepare_and_read() -> PreparedImage:
            prepared = await self.prepare_frame(frame)
            await self.start_reading(prepared)
            return prepared

        self.prefetched = (time.monotonic(), frame, asyncio.create_task(prepare_and_read()))

    async def reading_ready(self, wait: float = 0.0) -> bool:
        """Whether ``read_image`` will find its reading done, waiting up to ``wait`` s."""
        task: asyncio.Task | None = None
        if self.current is not None and self.unread:
            task = self._pending.get(self.current.ref.sha256)
        elif self.prefetched is not None:
            task = self.prefetched[2]
        elif self.current is not None:
            task = self._pending.get(self.current.ref.sha256)
        if task is None:
            return self.current is not None or self.prefetched is not None
        if not task.done() and wait > 0:
            await asyncio.wait([task], timeout=wait)
        return task.done()

    # --- readings -------------------------------------------------------------------------

    def start_reading(self, prepared: PreparedImage) -> asyncio.Task:
        """Read an image in a worker thread (once per sha256)."""
        sha = prepared.ref.sha256
        task = self._pending.get(sha)
        if task is None:
            task = asyncio.create_task(asyncio.to_thread(self._read, prepared))
            self._pending[sha] = task
        return task

    def _read(self, prepared: PreparedImage) -> dict:
        started = time.perf_counter()
        reading = self.reader(
            prepared.pil(),
            lexicon=self.lexicon,
            source=prepared.ref.source,
            sha256=prepared.ref.sha256,
        )
        ms = (time.perf_counter() - started) * 1000
        logger.debug(f"vision: read {prepared.ref.sha256[:12]} in {ms:.0f} ms")
        return reading

    async def reading(self, prepared: PreparedImage) -> dict:
        """The reading of an image (cached by sha256)."""
        sha = prepared.ref.sha256
        if sha not in self._readings:
            self._readings[sha] = await self.start_reading(prepared)
            self._pending.pop(sha, None)
        if self.current is not None and self.current.ref.sha256 == sha:
            self.unread = False
        return self._readings[sha]

    # --- audit ----------------------------------------------------------------------------

    def _keep(self, prepared: PreparedImage) -> dict[str, Any]:
        """Write the model copy under the kept-images folder; where, and its digest."""
        ext = prepared.mime.split("/")[-1].replace("jpeg", "jpg")
        from audit.audio import safe_name

        name = f"{safe_name(self.session_id, 'session')}/{prepared.ref.sha256}.{ext}"
        path = self.settings.audit_images_dir() / name
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(prepared.data)
        except OSError as e:
            logger.warning(f"vision: image not kept: {type(e).__name__}")
            return {"error": type(e).__name__}
        return {"file": name, "sha256": hashlib.sha256(prepared.data).hexdigest()}

    def record(self, prepared: PreparedImage | None, result: dict | None, *, event: str) -> None:
        """Audit an image event by reference: digest, size, type, pixels, source, output."""
        if self.audit is None:
            return
        body: dict[str, Any] = {"event": event}
        if prepared is not None:
            body["image"] = prepared.ref.to_dict()
            body["model_copy"] = {"mime": prepared.mime, "size": list(prepared.size)}
            if event == "received" and self.settings.audit_keep_images:
                body["kept"] = self._keep(prepared)
        if result is not None:
            body["produced"] = {
                k: result.get(k)
                for k in ("ok", "error", "kind", "text", "medications", "specialties", "answer")
                if k in result
            }
        try:
            self.audit.submit("image", body)
        except Exception as e:  # the audit recorder reports its own losses
            logger.warning(f"vision: image record not queued: {type(e).__name__}")
