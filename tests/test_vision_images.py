"""Image intake: types by their bytes, size and pixel limits, corrupt files, re-encoding."""

import hashlib
import io
import struct
import zlib

import pytest
from PIL import Image

from tests.vision_drawings import encoded, error_dialog, skin_photo
from vision.conversation import bound_images, image_message
from vision.images import (
    CorruptImage,
    ImageBomb,
    ImageTooLarge,
    UnsupportedImage,
    prepare,
    prepare_rgb,
    read_limited,
    sniff,
)


def png_with_header(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` (a decompression bomb)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@pytest.mark.parametrize("fmt,mime", [("PNG", "image/png"), ("JPEG", "image/jpeg"),
                                      ("WEBP", "image/webp"), ("GIF", "image/gif")])  # fmt: skip
def test_the_four_types_are_accepted_by_their_bytes(fmt, mime):
    data = encoded(skin_photo(size=(320, 240)), fmt)
    assert sniff(data) == mime
    prepared = prepare(data, source="upload")
    assert prepared.ref.mime == mime
    assert prepared.ref.sha256 == hashlib.sha256(data).hexdigest()
    assert prepared.ref.byte_size == len(data)
    assert (prepared.ref.width, prepared.ref.height) == (320, 240)
    assert prepared.mime in ("image/png", "image/jpeg")


@pytest.mark.parametrize(
    "data",
    [b"%PDF-1.7 not an image", b"<html><body>hello</body></html>", b"BM6\x00\x00\x00" + b"\0" * 64],
)
def test_other_bytes_are_415(data):
    with pytest.raises(UnsupportedImage) as err:
        prepare(data, source="upload")
    assert err.value.status == 415


def test_over_the_size_limit_is_413():
    with pytest.raises(ImageTooLarge) as err:
        prepare(encoded(skin_photo()), source="upload", max_bytes=1000)
    assert err.value.status == 413


async def test_the_body_is_read_only_up_to_the_limit():
    pulled = []

    async def chunks():
        for i in range(1000):
            pulled.append(i)
            yield b"\0" * 64 * 1024

    with pytest.raises(ImageTooLarge):
        await read_limited(chunks(), 1024 * 1024)
    assert len(pulled) == 17  # stopped one chunk past 1 MB, not after 64 MB


def test_a_decompression_bomb_is_refused_from_its_header():
    bomb = png_with_header(10000, 10000)  # 100 Mpx: ours, under Pillow's own check
    assert len(bomb) < 200
    with pytest.raises(ImageBomb) as err:
        prepare(bomb, source="upload", max_pixels=40_000_000)
    assert err.value.status == 413 and "10000x10000" in str(err.value)


def test_pillows_own_bomb_check_maps_to_the_same_refusal():
    bomb = png_with_header(20000, 20000)  # 400 Mpx: over Pillow's 2x MAX_IMAGE_PIXELS
    with pytest.raises(ImageBomb):
        prepare(bomb, source="upload", max_pixels=10**12)


@pytest.mark.parametrize("fmt", ["PNG", "JPEG", "GIF", "WEBP"])
def test_truncated_images_are_400(fmt):
    data = encoded(error_dialog(size=(640, 360)), fmt)
    with pytest.raises(CorruptImage) as err:
        prepare(data[: len(data) // 2], source="upload")
    assert err.value.status == 400


def test_garbage_after_a_valid_magic_is_400():
    with pytest.raises(CorruptImage):
        prepare(b"\x89PNG\r\n\x1a\n" + b"\x13" * 500, source="upload")


def test_large_images_are_downscaled_and_reencoded():
    img = skin_photo(size=(4000, 3000))
    prepared = prepare(encoded(img, "JPEG"), source="upload", max_side=1568)
    assert max(prepared.size) == 1568 and prepared.mime == "image/jpeg"
    assert Image.open(io.BytesIO(prepared.data)).size == prepared.size
    png = prepare(encoded(error_dialog()), source="upload")
    assert png.mime == "image/png" and png.size == (1280, 720)


def test_camera_frames_are_encoded_with_their_pixel_digest():
    img = error_dialog(size=(640, 360))
    prepared = prepare_rgb(img.tobytes(), img.size)
    assert prepared.ref.source == "camera" and prepared.mime == "image/jpeg"
    assert prepared.ref.sha256 == hashlib.sha256(img.tobytes()).hexdigest()


def test_only_the_newest_images_stay_in_the_model_input():
    first = prepare(encoded(skin_photo(size=(64, 64), seed=1)), source="upload")
    second = prepare(encoded(skin_photo(size=(64, 64), seed=2)), source="upload")
    messages = [
        {"role": "system", "content": "hi"},
        image_message(first, detail="low"),
        {"role": "assistant", "content": "ok"},
        image_message(second, detail="low"),
    ]
    assert messages[1]["content"][1]["image_url"]["detail"] == "low"
    assert bound_images(messages, keep=1) == 1
    assert messages[1]["content"][1]["type"] == "text"
    assert first.ref.sha256 in messages[1]["content"][0]["text"]  # kept by reference
    assert messages[3]["content"][1]["image_url"]["url"].startswith("data:image/png;base64,")
