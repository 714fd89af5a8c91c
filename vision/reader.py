"""The offline local image reader: OCR, then what the text is (error, label, letter).

OCR is RapidOCR (PP-OCR det + rec ONNX models that ship inside the ``rapidocr`` wheel, run
on onnxruntime; nothing is downloaded). Its boxes are put in reading order (rows top to
bottom, boxes in a row left to right) and the text is matched against Echo's vocabulary
spelling-wise (an OCR misreading "Metformn" is one letter off "metformin"), then classified
by general cues. :func:`read_image` returns the *reading* dict the brain answers from::

    {"ok": True, "error": None, "source": "upload", "sha256": "…",
     "kind": "error_message" | "medication_label" | "letter" | "text" | "no_text",
     "text": "…", "lines": ["…"], "title": "…", "error_text": "…", "error_source": "…",
     "medications": [{"name": "Metformin", "dose": "500 mg"}],
     "specialties": ["Dermatology"], "providers": ["Dr. Patel"]}
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from vision.matching import (
    DOSE_RE,
    WORD_RE,
    find_medications,
    find_providers,
    find_specialties,
)

DET_MAX_SIDE = 736  # chosen on the OCR benchmark's tuning split (benchmarks/ocr_bench.py)
READING_KINDS = ("error_message", "medication_label", "letter", "text", "no_text")

ERROR_WORDS = {
    "error", "errors", "failed", "failure", "fail", "fatal", "exception", "denied", "invalid",
    "unable", "cannot", "can't", "couldn't", "warning", "crashed", "unexpected", "problem",
    "timeout", "timed", "refused", "unavailable", "offline", "blocked", "expired", "wrong",
}  # fmt: skip
DIALOG_BUTTONS = {"ok", "cancel", "retry", "close", "try again", "details", "dismiss", "abort"}
LABEL_WORDS = {
    "rx", "tablet", "tablets", "capsule", "capsules", "take", "daily", "refill", "refills",
    "qty", "quantity", "pharmacy", "dose", "doses", "mouth", "prescribed", "ndc", "tab", "tabs",
    "caps", "by", "every", "hours", "once", "twice", "directions", "discard", "expires",
}  # fmt: skip
LETTER_WORDS = {
    "dear", "referral", "refer", "referred", "referring", "sincerely", "regards", "re",
    "patient", "appointment", "consultation", "consult", "evaluation", "specialist",
    "clinic", "letter", "thank", "please", "yours", "assessment", "date", "dob",
}  # fmt: skip


# --- OCR -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OcrBox:
    """One text box: its text, confidence and bounding box (x0, y0, x1, y1)."""

    text: str
    score: float
    box: tuple[float, float, float, float]

    @property
    def height(self) -> float:
        """Box height in pixels (a proxy for font size)."""
        return self.box[3] - self.box[1]


# The PP-OCR models inside the rapidocr==3.10.0 wheel, loaded by path (RapidOCR would
# download a replacement for a missing or damaged file; Echo refuses instead).
OCR_MODELS = {
    "Det": (
        "PP-OCRv6_det_small.onnx",
        "090f04abcd9d9a7498bc4ebf677e4cb9bdce1fe4197ddb7e529f1ef44e1ff94f",
    ),
    "Rec": (
        "PP-OCRv6_rec_small.onnx",
        "6f327246b50388f3c176ae304bd95767ea6dc0c9ae92153ef8cbe210b3c14884",
    ),
    "Cls": (
        "ch_ppocr_mobile_v2.0_cls_mobile.onnx",
        "e47acedf663230f8863ff1ab0e64dd2d82b838fceb5957146dab185a89d6215c",
    ),
}


def ocr_model_paths() -> dict[str, str]:
    """Paths of the bundled OCR models, each checked against its sha256.

    Raises:
        RuntimeError: A model file is missing or not the one the pinned wheel ships.
    """
    import hashlib
    from pathlib import Path

    import rapidocr

    folder = Path(rapidocr.__file__).resolve().parent / "models"
    paths = {}
    for stage, (name, sha256) in OCR_MODELS.items():
        path = folder / name
        digest = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
        if digest != sha256:
            raise RuntimeError(
                f"OCR model {path} is missing or damaged: reinstall rapidocr==3.10.0"
            )
        paths[f"{stage}.model_path"] = str(path)
    return paths


class RapidOcrEngine:
    """RapidOCR with its bundled PP-OCR ONNX models, loaded once, thread-safe."""

    def __init__(self, *, threads: int = 2, det_side: int = DET_MAX_SIDE):
        """Load the models (about 1 s).

        Args:
            threads: onnxruntime intra-op threads.
            det_side: Longest side the text detector sees (RapidOCR's own default scales
                the shortest side up to 736 instead).
        """
        import logging

        from rapidocr import RapidOCR

        logging.getLogger("RapidOCR").setLevel(logging.ERROR)  # model paths at INFO
        self._engine = RapidOCR(
            params={
                **ocr_model_paths(),
                "Global.log_level": "error",
                "Global.use_cls": False,  # upright text: the angle classifier only costs time
                "Det.limit_type": "max",
                "Det.limit_side_len": det_side,
                "EngineConfig.onnxruntime.intra_op_num_threads": threads,
                "EngineConfig.onnxruntime.inter_op_num_threads": 1,
            }
        )
        self._lock = threading.Lock()

    def __call__(self, image: Image.Image) -> list[OcrBox]:
        """Text boxes found in an RGB image."""
        with self._lock:
            result = self._engine(np.asarray(image.convert("RGB")))
        boxes = getattr(result, "boxes", None)
        if boxes is None or result.txts is None:
            return []
        out = []
        for pts, text, score in zip(boxes, result.txts, result.scores, strict=False):
            pts = np.asarray(pts, dtype=float)
            x0, y0 = pts.min(axis=0)
            x1, y1 = pts.max(axis=0)
            if text.strip():
                out.append(OcrBox(text.strip(), float(score), (x0, y0, x1, y1)))
        return out


_ENGINE: RapidOcrEngine | None = None
_ENGINE_LOCK = threading.Lock()


def default_engine() -> RapidOcrEngine:
    """The process-wide OCR engine (loaded on first use)."""
    global _ENGINE
    with _ENGINE_LOCK:
        if _ENGINE is None:
            _ENGINE = RapidOcrEngine()
        return _ENGINE


def reading_order(boxes: list[OcrBox]) -> list[list[OcrBox]]:
    """Boxes grouped into rows (top to bottom), each row left to right."""
    rows: list[list[OcrBox]] = []
    for box in sorted(boxes, key=lambda b: (b.box[1] + b.box[3]) / 2):
        centre = (box.box[1] + box.box[3]) / 2
        if rows:
            last = rows[-1]
            last_centre = sum((b.box[1] + b.box[3]) / 2 for b in last) / len(last)
            tolerance = 0.5 * min(box.height, min(b.height for b in last))
            if abs(centre - last_centre) <= tolerance:
                last.append(box)
                continue
        rows.append([box])
    return [sorted(row, key=lambda b: b.box[0]) for row in rows]


# --- classification --------------------------------------------------------------------------


def _words(text: str) -> list[str]:
    return [w.lower() for w in WORD_RE.findall(text)]


def classify(lines: list[str], medications: list[dict], specialties: list[str]) -> str:
    """The kind of text: error message, medication label, letter, other text, or none."""
    text = " ".join(lines)
    if sum(c.isalnum() for c in text) < 2:
        return "no_text"
    words = _words(text)
    lowered = [line.strip().lower() for line in lines]
    error = sum(w in ERROR_WORDS for w in words)
    error += 2 * bool(re.search(r"\b0x[0-9a-f]{4,}\b|\berror\s*(code)?\s*:?\s*\d+", text, re.I))
    error += sum(line in DIALOG_BUTTONS for line in lowered)
    label = sum(w in LABEL_WORDS for w in words) + 2 * len(DOSE_RE.findall(text))
    label += 2 * bool(medications)
    letter = sum(w in LETTER_WORDS for w in words)
    letter += 2 * any(line.startswith("dear ") for line in lowered)
    letter += bool(specialties) * 2 * any(w.startswith("refer") for w in words)
    scores = {"medication_label": label, "letter": letter, "error_message": error}
    kind, best = max(scores.items(), key=lambda kv: kv[1])
    if kind == "medication_label" and not (medications or DOSE_RE.search(text)):
        best -= 2
    return kind if best >= 3 else "text"


def _is_buttons(line: str) -> bool:
    words = _words(line)
    return bool(words) and all(w in DIALOG_BUTTONS for w in words)


def _has_error_cue(line: str) -> bool:
    return any(w in ERROR_WORDS for w in _words(line)) or bool(re.search(r"\b0x[0-9a-f]{4,}", line))


def error_text(lines: list[str]) -> str | None:
    """The lines that carry an error message: from the first error cue on, buttons left out.

    A stray one-character token at a line's start (an icon read as "x" or "!") is dropped.
    """
    start = next((i for i, line in enumerate(lines) if _has_error_cue(line)), 0)
    kept = []
    for line in lines[start:]:
        if _is_buttons(line):
            continue
        kept.append(re.sub(r"^\W?[A-Za-z!]\W?\s+(?=\S{2,})", "", line) if len(line) > 3 else line)
    return " ".join(kept) or None


def error_source(lines: list[str]) -> str | None:
    """The window or app title above an error message (the line before its first cue)."""
    start = next((i for i, line in enumerate(lines) if _has_error_cue(line)), 0)
    return lines[start - 1] if start >= 1 and not _has_error_cue(lines[start - 1]) else None


# --- the reading -------------------------------------------------------------------------------


def failed_reading(error: str, *, source: str = "upload", sha256: str = "") -> dict:
    """A reading for when there is no image to read (``no_image`` / ``no_camera``/…)."""
    return {
        "ok": False,
        "error": error,
        "source": source,
        "sha256": sha256,
        "kind": "no_text",
        "text": "",
        "lines": [],
        "title": None,
        "error_text": None,
        "error_source": None,
        "medications": [],
        "specialties": [],
        "providers": [],
    }


def reading_from_lines(
    lines: list[str], *, lexicon: Any, source: str, sha256: str, title: str | None = None
) -> dict:
    """The reading of text already in reading order."""
    lines = [line.strip() for line in lines if line.strip()]
    medications = find_medications(lines, lexicon)
    specialties = find_specialties(lines, lexicon)
    providers = find_providers(lines, lexicon)
    kind = classify(lines, medications, specialties)
    return {
        "ok": True,
        "error": None,
        "source": source,
        "sha256": sha256,
        "kind": kind,
        "text": "\n".join(lines),
        "lines": lines,
        "title": (title or lines[0]) if lines else None,
        "error_text": error_text(lines) if kind == "error_message" else None,
        "error_source": error_source(lines) if kind == "error_message" else None,
        "medications": medications,
        "specialties": specialties,
        "providers": providers,
    }


def read_image(
    image: Image.Image,
    *,
    lexicon: Any,
    source: str,
    sha256: str,
    engine: Any | None = None,
    min_score: float = 0.5,
) -> dict:
    """Read an RGB image: OCR in reading order, vocabulary matches, kind.

    Args:
        image: The (downscaled) image.
        lexicon: Echo's vocabulary (``vocabulary.Lexicon``) or None.
        source: ``"camera"`` or ``"upload"``.
        sha256: The image reference's digest.
        engine: An OCR callable (``image → list[OcrBox]``); the bundled RapidOCR by default.
        min_score: Boxes recognised with less confidence are left out.
    """
    boxes = [b for b in (engine or default_engine())(image) if b.score >= min_score]
    rows = reading_order(boxes)
    lines = [" ".join(b.text for b in row) for row in rows]
    title = None
    if rows:
        tallest = max(range(len(rows)), key=lambda i: (max(b.height for b in rows[i]), -i))
        if max(b.height for b in rows[tallest]) > 1.15 * np.median([b.height for b in boxes]):
            title = lines[tallest]
    return reading_from_lines(lines, lexicon=lexicon, source=source, sha256=sha256, title=title)
