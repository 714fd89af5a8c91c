"""Images in the offline Realtime server: read by Echo's local reader, answered by the brain.

A client adds a user message with an ``input_image`` part (Pipecat's OpenAI Realtime
service sends camera frames and uploads this way). As the item is added the server checks
the bytes the way an upload is checked (:func:`vision.images.prepare`: type sniffed from the
bytes, size and pixel-bomb limits, corrupt images refused) and starts the local reader (OCR)
in a worker thread. When the brain then wants ``read_image``, the server answers that call
itself from the reading: to a multimodal model, looking at an image is not a tool the client
has to declare. The call and its result are kept with the reply they led to (the item's
``_prelude``), so the brain replays them on later turns (a follow-up about the same image,
the refill a label led to).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from typing import Any

from realtime.protocol.events import ProtocolError, new_id
from realtime.protocol.items import image_bytes

READ_IMAGE = "read_image"


class ImageReadings:
    """The images of one Realtime connection and their readings (newest is current).

    Args:
        read: Blocking ``(PreparedImage) → reading`` (:meth:`realtime.engine.LocalEngine.read`).
        limits: :func:`vision.images.prepare`'s ``max_bytes`` / ``max_pixels`` / ``max_side``,
            the upload path's (:func:`vision.images.upload_limits`).

    """

    def __init__(self, read: Any, limits: Mapping[str, int]):
        self._read = read
        self._limits = dict(limits)
        self._readings: list[tuple[Any, asyncio.Task]] = []  # (image, reading), arrival order

    def __bool__(self) -> bool:
        return bool(self._readings)

    async def add(self, item: dict[str, Any], event: dict[str, Any]) -> None:
        """Check each ``input_image`` part of ``item`` and start reading it.

        Raises:
            ProtocolError: an image that is not PNG, JPEG, WebP or GIF, too large, or corrupt.

        """
        from vision.images import ImageError, prepare

        for i, part in enumerate(item.get("content") or []):
            if part.get("type") != "input_image":
                continue
            try:
                prepared = await asyncio.to_thread(
                    prepare, image_bytes(part), source="upload", **self._limits
                )
            except ImageError as e:
                raise ProtocolError(
                    "invalid_image",
                    f"the image could not be used: {e}",
                    param=f"item.content[{i}].image_url",
                    event_id=event.get("event_id"),
                ) from None
            task = asyncio.create_task(asyncio.to_thread(self._read, prepared))
            self._readings.append((prepared, task))

    async def answer(self, question: str) -> dict[str, Any]:
        """The newest image's reading, with the spoken ``answer`` and any ``offer``."""
        from vision.answer import answer_image

        if not self._readings:
            return await answer_image(question, "no_image")
        prepared, task = self._readings[-1]
        ref = prepared.ref
        return await answer_image(question, task, source=ref.source, sha256=ref.sha256)

    def close(self) -> None:
        """Stop readings still running (the connection closed)."""
        for _, task in self._readings:
            task.cancel()


def tool_exchange(arguments: dict[str, Any], result: dict[str, Any]) -> list[dict[str, Any]]:
    """A ``read_image`` call and its result as chat messages for the brain."""
    call_id = new_id("call")
    return [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": call_id,
                    "type": "function",
                    "function": {"name": READ_IMAGE, "arguments": json.dumps(arguments)},
                }
            ],
        },
        {"role": "tool", "tool_call_id": call_id, "content": json.dumps(result)},
    ]
