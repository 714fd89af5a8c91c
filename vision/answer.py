"""The short spoken answer about a reading, and the follow-up it offers.

:func:`describe_reading` turns the local reader's *reading* (see :mod:`vision.reader`) and
the caller's question into one or two spoken sentences (at most 25 words, at most one
question, no markdown) plus an optional offer the dialogue follows up on a "yes":
``{"action": "refill", "medication": "Metformin"}`` or ``{"action": "book", "specialty":
"Dermatology"}``. It only says what the text says: no guessing, no diagnosis.
:func:`answer_image` is the ``read_image`` result both the vision tools and the offline
Realtime server give: the reading (a reader failure counts as an unreadable image) plus its
``answer`` and ``offer``.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable

from loguru import logger

from vision.reader import failed_reading

MAX_WORDS = 25
NO_VISION_MODEL = (
    "I can't tell from here: I can only read text in pictures; a vision model endpoint "
    "(the ECHO VISION BASE URL setting) would be needed."
)
SKIN_WORDS = re.compile(
    r"\b(rash|skin|mole|spot|spots|itch\w*|bump|bumps|lesion|hives|eczema|acne|blister\w*|"
    r"sore|swelling|swollen|bite|bites|redness|wound|burn)\b",
    re.IGNORECASE,
)
ORDINALS = {
    "first": 1, "1st": 1, "one": 1, "second": 2, "2nd": 2, "two": 2, "third": 3, "3rd": 3,
    "three": 3, "fourth": 4, "4th": 4, "four": 4, "fifth": 5, "5th": 5, "five": 5,
    "sixth": 6, "6th": 6, "six": 6, "seventh": 7, "seven": 7, "eighth": 8, "eight": 8,
}  # fmt: skip
LINE_RE = re.compile(
    r"\b(?:(?P<ord>\w+)\s+line|line\s+(?:number\s+)?(?P<num>\w+)|(?P<last>last|bottom)\s+line"
    r"|(?P<top>top)\s+line)\b",
    re.IGNORECASE,
)


def clip_words(text: str, n: int) -> str:
    """The first ``n`` words of ``text`` (with "…" dropped: it is spoken)."""
    words = text.split()
    return " ".join(words[:n]) if len(words) > n else text


def _plain(text: str) -> str:
    """Text safe to speak: no markdown characters, single spaces."""
    return " ".join(re.sub(r"[*_#`>|\[\]]", " ", text).split())


def _quote(text: str, budget: int) -> str:
    said = clip_words(_plain(text), budget).rstrip(" .,:;")
    return said + "."


def asked_line(question: str, n_lines: int) -> int | None:
    """Index of the line a question asks about ("the second line", "line 3", "last line")."""
    m = LINE_RE.search(question or "")
    if not m or n_lines == 0:
        return None
    if m.group("last"):
        return n_lines - 1
    if m.group("top"):
        return 0
    word = (m.group("ord") or m.group("num") or "").lower()
    if word in ("last", "bottom"):
        return n_lines - 1
    if word == "next":
        return None
    number = ORDINALS.get(word) or (int(word) if word.isdigit() else None)
    return number - 1 if number else None


def describe_reading(reading: dict, question: str = "") -> tuple[str, dict | None]:
    """The spoken answer about a reading, and an optional follow-up offer.

    Args:
        reading: The local reader's reading dict.
        question: The caller's words.

    Returns:
        ``(answer, offer)``; ``offer`` is None or ``{"action": "refill", "medication": …}``
        / ``{"action": "book", "specialty": …}``.
    """
    if not reading.get("ok"):
        error = reading.get("error")
        if error == "no_camera":
            return "I can't see your camera. Please share it, or upload a photo instead.", None
        if error == "unreadable":
            return "I couldn't open that image. Could you send it again?", None
        return "I don't have an image yet. You can upload a photo or share your camera.", None

    lines: list[str] = reading.get("lines") or []
    index = asked_line(question, len(lines))
    if index is not None:
        if 0 <= index < len(lines):
            return f"Line {index + 1} says: {_quote(lines[index], 18)}", None
        return f"I only see {len(lines)} line{'s' if len(lines) != 1 else ''} of text.", None

    kind = reading.get("kind")
    if kind == "no_text":
        if SKIN_WORDS.search(question or ""):
            return (
                "I can't tell from here; I only read text in pictures, and a vision model "
                "would be needed. Would you like a dermatology appointment?",
                {"action": "book", "specialty": "Dermatology"},
            )
        return NO_VISION_MODEL, None

    if kind == "error_message":
        said = reading.get("error_text") or reading.get("text") or ""
        where = reading.get("error_source")
        intro = (
            f"It's an error message from {_plain(where)}." if where else "It's an error message."
        )
        if len(intro.split()) > 10:
            intro = "It's an error message."
        return f"{intro} It says: {_quote(said, MAX_WORDS - 2 - len(intro.split()))}", None

    medications = reading.get("medications") or []
    if medications and kind in ("medication_label", "text", "letter"):
        med = medications[0]
        dose = f" {med['dose']}" if med.get("dose") else ""
        if kind == "medication_label" or not reading.get("specialties"):
            return (
                f"The label says {med['name']}{dose}. Would you like me to request a refill?",
                {"action": "refill", "medication": med["name"]},
            )

    specialties = reading.get("specialties") or []
    if specialties and kind in ("letter", "text"):
        specialty = specialties[0]
        spoken = specialty if specialty.isupper() else specialty.lower()
        providers = reading.get("providers") or []
        who = f"{providers[0]} in {spoken}" if providers else spoken
        what = "The letter refers you to" if kind == "letter" else "It mentions"
        return (
            f"{what} {who}. Would you like to hear the earliest openings?",
            {"action": "book", "specialty": specialty},
        )

    if kind == "medication_label":
        return (
            f"It looks like a medication label. It says: {_quote(reading.get('text', ''), 14)}",
            None,
        )
    return f"It says: {_quote(reading.get('text', ''), 20)}", None


async def answer_image(
    question: str, reading: Awaitable[dict] | str, *, source: str = "upload", sha256: str = ""
) -> dict:
    """The ``read_image`` result: the reading plus the spoken ``answer`` and any ``offer``.

    Args:
        question: The caller's words.
        reading: The reading under way (awaited here), or why there is no image to read
            (``"no_image"``, ``"no_camera"``).
        source: Where the image came from (for an unreadable image's reading).
        sha256: The image's digest (likewise).

    Returns:
        The reading dict of :mod:`vision.reader` with ``answer`` and ``offer`` added. A
        reader that failed gives the reading of an unreadable image, not an error.
    """
    if isinstance(reading, str):
        result = failed_reading(reading)
    else:
        try:
            result = await reading
        except Exception as e:  # a reader failure is an unreadable image, not a crash
            logger.warning(f"vision: reader failed: {type(e).__name__}")
            result = failed_reading("unreadable", source=source, sha256=sha256)
    answer, offer = describe_reading(result, question)
    return {**result, "answer": answer, "offer": offer}
