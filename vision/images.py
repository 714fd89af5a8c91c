"""Image intake: sniff the bytes, enforce the limits, decode safely, downscale, re-encode.

Everything here is plain functions over bytes, so the upload route, the camera path and the
CLI share one set of rules:

* the type is read from the magic bytes (PNG, JPEG, WebP, GIF), never from a file name or a
  declared ``Content-Type`` → :class:`UnsupportedImage` (HTTP 415);
* more than ``max_bytes`` → :class:`ImageTooLarge` (413), raised by :func:`read_limited`
  while reading, before the whole body arrived;
* more than ``max_pixels`` in the header → :class:`ImageBomb` (413), before any pixel is
  decoded (Pillow's own ``DecompressionBombError`` maps to the same);
* a truncated or corrupt file → :class:`CorruptImage` (400);
* the decoded image is turned upright (EXIF), flattened to RGB, downscaled so its longest
  side is at most ``max_side`` and re-encoded (PNG for PNG/GIF screenshots, JPEG otherwise)
  before any model sees it.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from typing import Any, Literal

import numpy as np
from PIL import Image, ImageOps

Source = Literal["camera", "upload"]

MIME_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "GIF": "image/gif"}


class ImageError(ValueError):
    """An image Echo refuses; ``status`` is the HTTP status, ``code`` a stable name."""

    status = 400
    code = "bad_image"


class UnsupportedImage(ImageError):
    """Not a PNG, JPEG, WebP or GIF (judged by its bytes)."""

    status = 415
    code = "unsupported_type"


class ImageTooLarge(ImageError):
    """More bytes than the size limit."""

    status = 413
    code = "too_large"


class ImageBomb(ImageError):
    """More pixels than the pixel limit (a decompression bomb), refused before decoding."""

    status = 413
    code = "too_many_pixels"


class CorruptImage(ImageError):
    """Truncated or corrupt image data."""

    status = 400
    code = "corrupt_image"


@dataclass(frozen=True)
class ImageRef:
    """What Echo keeps about an image besides the model copy: never the bytes.

    Attributes:
        sha256: Hex digest of the bytes as received (camera: as first encoded).
        byte_size: Length of those bytes.
        mime: Sniffed type, e.g. ``image/png``.
        width: Pixel width as received.
        height: Pixel height as received.
        source: ``"camera"`` or ``"upload"``.
    """

    sha256: str
    byte_size: int
    mime: str
    width: int
    height: int
    source: Source

    def to_dict(self) -> dict:
        """JSON-ready fields."""
        return asdict(self)


@dataclass(frozen=True)
class PreparedImage:
    """An accepted image: its reference and the downscaled, re-encoded copy for models.

    Attributes:
        ref: The image reference (of the original bytes).
        data: Re-encoded bytes (PNG or JPEG) at most ``max_side`` on the longest side.
        mime: MIME type of ``data``.
        size: ``(width, height)`` of ``data``.
    """

    ref: ImageRef
    data: bytes
    mime: str
    size: tuple[int, int]

    def pil(self) -> Image.Image:
        """The model copy decoded as an RGB Pillow image."""
        return Image.open(io.BytesIO(self.data)).convert("RGB")


def sniff(data: bytes) -> str:
    """MIME type from the magic bytes.

    Raises:
        UnsupportedImage: Not PNG, JPEG, WebP or GIF.
    """
    head = data[:16]
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "image/gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    raise UnsupportedImage("not an image Echo accepts: send a PNG, JPEG, WebP or GIF")


async def read_limited(chunks: AsyncIterator[bytes], max_bytes: int) -> bytes:
    """Join an async stream of chunks, stopping as soon as it passes ``max_bytes``.

    Raises:
        ImageTooLarge: The stream is longer than ``max_bytes`` (the rest is not read).
    """
    buf = bytearray()
    async for chunk in chunks:
        buf += chunk
        if len(buf) > max_bytes:
            raise ImageTooLarge(f"image is larger than the {_mb(max_bytes)} limit")
    return bytes(buf)


def upload_limits(settings: Any) -> dict[str, int]:
    """:func:`prepare`'s limits for an image a caller sends, from ``EchoSettings``.

    Returns:
        ``max_bytes``, ``max_pixels`` and ``max_side`` (the ``vision_max_*`` settings).
    """
    return {
        "max_bytes": settings.vision_max_image_bytes,
        "max_pixels": settings.vision_max_pixels,
        "max_side": settings.vision_max_side,
    }


def prepare(
    data: bytes,
    *,
    source: Source,
    max_bytes: int = 10 * 1024 * 1024,
    max_pixels: int = 40_000_000,
    max_side: int = 1568,
) -> PreparedImage:
    """Check, decode and re-encode an image for the models.

    Args:
        data: The encoded image as received.
        source: Where it came from.
        max_bytes: Size limit.
        max_pixels: Pixel-count limit, checked on the header before decoding.
        max_side: Longest side of the model copy.

    Raises:
        ImageError: One of its subclasses, naming the problem.
    """
    if len(data) > max_bytes:
        raise ImageTooLarge(f"image is larger than the {_mb(max_bytes)} limit")
    if not data:
        raise CorruptImage("the image is empty")
    mime = sniff(data)
    try:
        with Image.open(io.BytesIO(data), formats=[_pil_format(mime)]) as img:
            width, height = img.size  # from the header; nothing decoded yet
            if width <= 0 or height <= 0 or width * height > max_pixels:
                raise ImageBomb(
                    f"image is {width}x{height} pixels, more than the {max_pixels:,} allowed"
                )
            img.load()
            model = _model_copy(img, max_side)
    except ImageError:
        raise
    except Image.DecompressionBombError as e:
        raise ImageBomb(f"image refused as a decompression bomb: {e}") from e
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise CorruptImage(f"the {mime} image is truncated or corrupt") from e
    out_mime = "image/png" if mime in ("image/png", "image/gif") else "image/jpeg"
    encoded = encode(model, out_mime)
    ref = ImageRef(hashlib.sha256(data).hexdigest(), len(data), mime, width, height, source)
    return PreparedImage(ref=ref, data=encoded, mime=out_mime, size=model.size)


def prepare_rgb(
    pixels: bytes, size: tuple[int, int], *, pixel_format: str = "RGB", max_side: int = 1568
) -> PreparedImage:
    """Encode a raw camera frame (as a transport delivers it) for the models, as JPEG.

    The reference is of the raw pixels (sha256, length, ``image/x-raw-rgb``), the digest the
    audit trail's turn record also gives the frame.
    """
    fmt = pixel_format or "RGB"
    img = Image.frombytes(fmt, size, pixels).convert("RGB")
    digest = hashlib.sha256(pixels).hexdigest()
    ref = ImageRef(digest, len(pixels), f"image/x-raw-{fmt.lower()}", *size, "camera")
    model = _model_copy(img, max_side)
    return PreparedImage(
        ref=ref, data=encode(model, "image/jpeg"), mime="image/jpeg", size=model.size
    )


def encode(img: Image.Image, mime: str) -> bytes:
    """PNG or JPEG bytes of an RGB image (metadata dropped)."""
    buf = io.BytesIO()
    if mime == "image/png":
        img.save(buf, format="PNG", optimize=False)
    else:
        img.save(buf, format="JPEG", quality=88)
    return buf.getvalue()


def _model_copy(img: Image.Image, max_side: int) -> Image.Image:
    img.seek(0) if getattr(img, "is_animated", False) else None  # first frame of a GIF
    upright = ImageOps.exif_transpose(img)
    if upright.mode in ("RGBA", "LA", "P", "PA"):
        rgba = upright.convert("RGBA")
        flat = Image.new("RGB", rgba.size, "white")
        flat.paste(rgba, mask=rgba.getchannel("A"))
    else:
        flat = upright.convert("RGB")
    if max(flat.size) > max_side:
        flat.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return flat


def _pil_format(mime: str) -> str:
    return {v: k for k, v in MIME_TYPES.items()}[mime]


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):g} MB"


SAME_SCENE_MAX_DIFF = 12.0  # mean absolute difference (0-255) of a coarse grid of pixels


def same_scene(a: Any, b: Any) -> bool:
    """Whether two camera frames show the same scene (a coarse pixel comparison)."""
    if tuple(a.size) != tuple(b.size) or a.format != b.format:
        return False
    w, h = a.size
    channels = len(a.image) // (w * h)
    grid_a = np.frombuffer(a.image, np.uint8).reshape(h, w, channels)[::8, ::8]
    grid_b = np.frombuffer(b.image, np.uint8).reshape(h, w, channels)[::8, ::8]
    diff = np.abs(grid_a.astype(np.int16) - grid_b.astype(np.int16)).mean()
    return float(diff) <= SAME_SCENE_MAX_DIFF
