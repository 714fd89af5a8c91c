"""OCR benchmark for the vision variant's local reader (a command printing figures, not a test).

Generates screenshots (error dialogs, 1280x720) and medication labels at three font sizes,
sharp and lightly blurred, in two disjoint sets fixed before any tuning:

* ``tuning``: DejaVu Sans / Serif, the first half of the vocabulary's medications and the
  first error messages (what the reader's rules were written against);
* ``held-out``: Liberation Sans / Serif / Mono and DejaVu Sans Mono, the other half of the
  medications and other error messages. Reported first.

For each OCR engine it reports character accuracy (1 - CER over the whole text, whitespace
normalised, case-insensitive), medication-name accuracy (the reader's first medication is the
drawn one, through the vocabulary) and OCR time p50/p95 for a 1280x720 screenshot.

Engines: ``rapidocr`` (what Echo ships: rapidocr 3.x, bundled PP-OCRv6 small models),
``rapidocr-onnxruntime`` (1.4.x, PP-OCRv4; needs ``--rapidocr-onnxruntime-path DIR`` where
it was installed with ``pip install --no-deps --target DIR``: its wheel pins
``opencv-python``, which clashes with the ``opencv-python-headless`` Echo already has) and
``tesseract`` (Debian ``tesseract-ocr``, when on PATH)::

    python benchmarks/ocr_bench.py [--per-cell 3] [--timing-runs 20] [--engines rapidocr,tesseract]
"""

from __future__ import annotations

import argparse
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from config import EchoSettings  # noqa: E402
from vision.matching import similarity  # noqa: E402
from vision.reader import (  # noqa: E402
    OcrBox,
    RapidOcrEngine,
    reading_from_lines,  # noqa: E402
    reading_order,
)
from vocabulary import Lexicon  # noqa: E402

FONTS = {
    "tuning": ["DejaVuSans.ttf", "DejaVuSerif.ttf"],
    "held-out": [
        "LiberationSans-Regular.ttf",
        "LiberationSerif-Regular.ttf",
        "LiberationMono-Regular.ttf",
        "DejaVuSansMono.ttf",
    ],
}
ERRORS = {
    "tuning": [
        ("Patient Portal", "Error 0x80070005", "Access is denied."),
        ("Video Visit", "Camera not found", "Check that no other app is using it."),
        ("Sign in", "Login failed", "Your password is incorrect."),
    ],
    "held-out": [
        ("Insurance Upload", "Error 413", "The file you selected is too large."),
        ("Pharmacy App", "Connection timed out", "Please try again in a few minutes."),
        ("Lab Results", "Unable to load document", "The server returned an invalid response."),
    ],
}
SIZES = {"small": 16, "medium": 22, "large": 30}
BLURS = {"sharp": 0.0, "blur": 0.8}
DOSES = ["5 mg", "10 mg", "20 mg", "25 mg", "40 mg", "50 mg", "100 mg", "250 mg", "500 mg"]


def split_medications(lexicon: Lexicon) -> dict[str, list[str]]:
    """The vocabulary's medications, first half for tuning, second half held out."""
    meds = [t.text for t in lexicon.terms if t.category == "medication"]
    half = len(meds) // 2
    return {"tuning": meds[:half], "held-out": meds[half:]}


def font(name: str, size: int) -> ImageFont.FreeTypeFont:
    """A TrueType font by file name."""
    return ImageFont.truetype(name, size)


def draw_dialog(
    fnt: str, px: int, title: str, head: str, body: str
) -> tuple[Image.Image, str, None]:
    """A 1280x720 screenshot of an error dialog, and its text."""
    img = Image.new("RGB", (1280, 720), (45, 95, 150))
    d = ImageDraw.Draw(img)
    d.rectangle((300, 200, 980, 520), fill=(242, 242, 242), outline=(80, 80, 80), width=2)
    d.text((320, 212), title, fill="black", font=font(fnt, px))
    d.text((340, 212 + 3 * px), head, fill="black", font=font(fnt, int(px * 1.2)))
    d.text((340, 212 + 5 * px), body, fill="black", font=font(fnt, px))
    d.text((800, 520 - 2 * px), "OK", fill="black", font=font(fnt, px))
    return img, f"{title}\n{head}\n{body}\nOK", None


def draw_label(fnt: str, px: int, med: str, dose: str, rnd: random.Random):
    """A pharmacy label, its text and the medication on it."""
    img = Image.new("RGB", (1000, 600), (235, 150, 50))
    d = ImageDraw.Draw(img)
    d.rectangle((60, 60, 940, 540), fill="white")
    shown = med.upper() if rnd.random() < 0.5 else med.capitalize()
    lines = [
        "Main Street Pharmacy",
        f"Rx# {rnd.randint(1000000, 9999999)}",
        f"{shown} {dose} tablets",
        "Take 1 tablet by mouth daily",
        f"Qty: {rnd.choice([30, 60, 90])} Refills: {rnd.randint(0, 3)}",
    ]
    y = 90
    for i, line in enumerate(lines):
        size = int(px * 1.3) if i == 2 else px
        d.text((90, y), line, fill="black", font=font(fnt, size))
        y += int(size * 1.9)
    return img, "\n".join(lines), med


def samples(split: str, lexicon: Lexicon, per_cell: int, seed: int = 11):
    """Every image of a split: font x size x blur x ``per_cell``, a dialog and a label each."""
    rnd = random.Random(f"{split}-{seed}")
    meds = split_medications(lexicon)[split]
    for fnt in FONTS[split]:
        for size_name, px in SIZES.items():
            for blur_name, radius in BLURS.items():
                for i in range(per_cell):
                    err = ERRORS[split][(i + px) % len(ERRORS[split])]
                    items = [("screenshot", *draw_dialog(fnt, px, *err))]
                    items.append(
                        ("label", *draw_label(fnt, px, rnd.choice(meds), rnd.choice(DOSES), rnd))
                    )
                    for kind, img, truth, med in items:
                        if radius:
                            img = img.filter(ImageFilter.GaussianBlur(radius))
                        yield {"kind": kind, "font": fnt, "size": size_name, "blur": blur_name,
                               "image": img, "truth": truth, "med": med}  # fmt: skip


# --- engines --------------------------------------------------------------------------------


class Rapid14Engine:
    """rapidocr-onnxruntime 1.4.x (PP-OCRv4), from a --target install directory."""

    def __init__(self, path: str):
        sys.path.insert(0, path)
        from rapidocr_onnxruntime import RapidOCR

        self._engine = RapidOCR(use_cls=False, print_verbose=False)

    def __call__(self, image: Image.Image) -> list[OcrBox]:
        """Text boxes of an image."""
        result, _ = self._engine(np.asarray(image.convert("RGB")), use_cls=False)
        out = []
        for pts, text, score in result or []:
            pts = np.asarray(pts, dtype=float)
            (x0, y0), (x1, y1) = pts.min(axis=0), pts.max(axis=0)
            out.append(OcrBox(text, float(score), (x0, y0, x1, y1)))
        return out


class TesseractEngine:
    """Debian's tesseract-ocr through its CLI (TSV output: words with boxes)."""

    def __call__(self, image: Image.Image) -> list[OcrBox]:
        """Text lines of an image, as boxes."""
        with tempfile.NamedTemporaryFile(suffix=".png") as f:
            image.save(f.name)
            tsv = subprocess.run(
                ["tesseract", f.name, "stdout", "--psm", "3", "tsv"],
                capture_output=True, text=True, check=True,
            ).stdout  # fmt: skip
        lines: dict[tuple, list] = {}
        for row in tsv.splitlines()[1:]:
            cols = row.split("\t")
            if len(cols) < 12 or not cols[11].strip() or float(cols[10]) < 0:
                continue
            key = (cols[2], cols[3], cols[4])  # block, paragraph, line
            x, y, w, h = map(int, cols[6:10])
            lines.setdefault(key, []).append(
                (cols[11], float(cols[10]) / 100, (x, y, x + w, y + h))
            )
        out = []
        for words in lines.values():
            xs0, ys0, xs1, ys1 = zip(*(w[2] for w in words), strict=True)
            text = " ".join(w[0] for w in words)
            score = float(np.mean([w[1] for w in words]))
            out.append(OcrBox(text, score, (min(xs0), min(ys0), max(xs1), max(ys1))))
        return out


def lines_of(boxes: list[OcrBox], min_score: float = 0.5) -> list[str]:
    """Boxes in reading order, joined per row (as the reader does)."""
    rows = reading_order([b for b in boxes if b.score >= min_score])
    return [" ".join(b.text for b in row) for row in rows]


def char_accuracy(truth: str, got: str) -> float:
    """1 - character error rate (edit distance / truth length), floored at 0."""
    t, g = (" ".join(x.lower().split()) for x in (truth, got))
    distance = (1.0 - similarity(t, g)) * max(len(t), len(g))
    return max(0.0, 1.0 - distance / len(t)) if t else 1.0


def evaluate(engine, items, lexicon) -> dict:
    """Character and medication-name accuracy of an engine over some images."""
    chars, meds, by_cell = [], [], {}
    for item in items:
        lines = lines_of(engine(item["image"]))
        acc = char_accuracy(item["truth"], "\n".join(lines))
        chars.append(acc)
        by_cell.setdefault((item["size"], item["blur"]), []).append(acc)
        if item["kind"] == "label":
            reading = reading_from_lines(lines, lexicon=lexicon, source="upload", sha256="")
            found = [m["name"].lower() for m in reading["medications"]]
            meds.append(bool(found) and found[0] == item["med"].lower())
    return {
        "char_accuracy": float(np.mean(chars)),
        "med_accuracy": float(np.mean(meds)) if meds else float("nan"),
        "labels": len(meds),
        "images": len(chars),
        "cells": {k: float(np.mean(v)) for k, v in sorted(by_cell.items())},
    }


def timing(engine, runs: int) -> tuple[float, float]:
    """OCR time p50/p95 (ms) of a 1280x720 screenshot."""
    img, _, _ = draw_dialog("DejaVuSans.ttf", 22, *ERRORS["tuning"][0])
    engine(img)  # warm
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        engine(img)
        times.append((time.perf_counter() - t) * 1000)
    return float(np.percentile(times, 50)), float(np.percentile(times, 95))


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-cell", type=int, default=2, help="images per font/size/blur cell")
    parser.add_argument("--timing-runs", type=int, default=20)
    parser.add_argument("--engines", default="rapidocr,rapidocr-onnxruntime,tesseract")
    parser.add_argument("--rapidocr-onnxruntime-path", default=None)
    parser.add_argument("--det-side", type=int, default=None, help="rapidocr detector side")
    parser.add_argument("--splits", default="held-out,tuning")
    args = parser.parse_args(argv)

    lexicon = Lexicon.load(EchoSettings(_env_file=None).vocabulary_path)
    engines = {}
    for name in args.engines.split(","):
        if name == "rapidocr":
            engines[name] = RapidOcrEngine(**({"det_side": args.det_side} if args.det_side else {}))
        elif name == "rapidocr-onnxruntime" and args.rapidocr_onnxruntime_path:
            engines[name] = Rapid14Engine(args.rapidocr_onnxruntime_path)
        elif name == "tesseract" and shutil.which("tesseract"):
            engines[name] = TesseractEngine()
        else:
            print(f"(skipping {name}: not available)")
    sets = {s: list(samples(s, lexicon, args.per_cell)) for s in args.splits.split(",")}
    for name, engine in engines.items():
        p50, p95 = timing(engine, args.timing_runs)
        print(f"\n== {name}: OCR 1280x720 screenshot p50 {p50:.0f} ms / p95 {p95:.0f} ms")
        for split, items in sets.items():
            r = evaluate(engine, items, lexicon)
            print(
                f"  {split:8s}: char accuracy {r['char_accuracy']:.3f}, medication name "
                f"{r['med_accuracy']:.3f} ({r['labels']} labels, {r['images']} images)"
            )
            cells = ", ".join(f"{s}/{b} {v:.3f}" for (s, b), v in r["cells"].items())
            print(f"            by size/blur: {cells}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
