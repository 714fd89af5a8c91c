"""``POST /api/vision/image?pc_id=…``: an image upload into a live vision call.

The page knows its ``pc_id`` and ``pc_token`` from the offer answer; the token goes in the
``pc_token`` query parameter or the ``X-Echo-PC-Token`` header (without it, only from the
address that made the connection: :mod:`transports.pc_binding`). The body is the image
itself (any ``Content-Type``: the bytes are sniffed). Errors answer JSON
``{"error": …, "code": …}`` and leave the call as it was:

* 404 ``unknown_session``: no live call with that ``pc_id``;
* 403 ``not_your_call``: a wrong token, or none from another address;
* 409 ``no_vision``: the call runs a variant without images;
* 413 ``too_large``: more than ``ECHO_VISION_MAX_IMAGE_BYTES`` (from ``Content-Length``, or
  while reading: the rest of the body is not read);
* 415 ``unsupported_type``: not PNG, JPEG, WebP or GIF;
* 413 ``too_many_pixels``: a decompression bomb, refused from its header;
* 400 ``corrupt_image``: truncated or corrupt.

On success the image becomes the call's current image, joins the LLM context, and the
answer is ``{"ok": true, "image": {sha256, byte_size, mime, width, height, source}}``.
"""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse
from loguru import logger

from config import EchoSettings
from transports.pc_binding import TOKEN_HEADER, BindingError
from vision.images import ImageError, ImageTooLarge, prepare, read_limited, upload_limits


def _refuse(status: int, code: str, error: str) -> JSONResponse:
    return JSONResponse(status_code=status, content={"error": error, "code": code})


def vision_routes(settings: EchoSettings) -> APIRouter:
    """The vision upload route."""
    router = APIRouter()

    @router.post("/api/vision/image")
    async def upload_image(
        request: Request,
        pc_id: str = Query(..., max_length=200),
        pc_token: str | None = Query(None, max_length=200),
    ):
        runtime = request.app.state.runtime
        session = getattr(runtime, "pc_sessions", {}).get(pc_id)
        if session is None:
            return _refuse(404, "unknown_session", "no live call with this pc_id")
        bindings = getattr(runtime, "pc_bindings", None)
        if bindings is not None:  # only the caller who made the connection shows it images
            try:
                bindings.authorize(
                    pc_id,
                    token=pc_token or request.headers.get(TOKEN_HEADER),
                    address=request.client.host if request.client else None,
                )
            except BindingError as e:
                return _refuse(e.status, "not_your_call", str(e))
        conversation = getattr(session, "vision", None)
        if conversation is None:
            return _refuse(
                409,
                "no_vision",
                "this call's pipeline takes no images: use 'vision' or 'speech_native'",
            )
        limits = upload_limits(settings)
        limit = limits["max_bytes"]
        try:
            declared = int(request.headers.get("content-length") or 0)
        except ValueError:
            declared = 0
        try:
            if declared > limit:
                raise ImageTooLarge(f"image is larger than the {limit / 2**20:g} MB limit")
            data = await read_limited(request.stream(), limit)
            prepared = await asyncio.to_thread(
                prepare,
                data,
                source="upload",
                **limits,
            )
        except ImageError as e:
            logger.info(f"vision: upload refused for session {session.session_id}: {e.code}")
            return _refuse(e.status, e.code, str(e))
        await conversation.add_upload(prepared)
        ref = prepared.ref
        logger.info(
            f"vision: session {session.session_id} image {ref.sha256[:12]} "
            f"{ref.mime} {ref.width}x{ref.height} {ref.byte_size} bytes"
        )
        return {"ok": True, "image": ref.to_dict()}

    return router
