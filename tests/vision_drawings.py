"""Images the vision tests draw themselves with Pillow (no fixtures on disk)."""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw, ImageFilter, ImageFont

FONT_DIR = "/usr/share/fonts/truetype/dejavu/"


def font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont:
    try:
        return ImageFont.truetype(f"DejaVuSans{'-Bold' if bold else ''}.ttf", size)
    except OSError:
        return ImageFont.load_default(size)


def error_dialog(size=(1280, 720)) -> Image.Image:
    """A desktop with an error dialog: title bar, icon, message, buttons."""
    img = Image.new("RGB", size, (40, 90, 150))
    d = ImageDraw.Draw(img)
    x0, y0, x1, y1 = 340, 220, 940, 500
    d.rectangle((x0, y0, x1, y1), fill=(240, 240, 240), outline=(90, 90, 90), width=2)
    d.rectangle((x0, y0, x1, y0 + 44), fill=(255, 255, 255))
    d.text((x0 + 16, y0 + 10), "Patient Portal", fill="black", font=font(22))
    d.ellipse((x0 + 24, y0 + 80, x0 + 74, y0 + 130), fill=(200, 30, 30))
    d.text((x0 + 42, y0 + 88), "x", fill="white", font=font(30, bold=True))
    d.text((x0 + 100, y0 + 80), "Error 0x80070005", fill="black", font=font(26, bold=True))
    d.text((x0 + 100, y0 + 125), "Access is denied. Unable to", fill="black", font=font(22))
    d.text((x0 + 100, y0 + 158), "upload your insurance card.", fill="black", font=font(22))
    for i, label in enumerate(("OK", "Cancel")):
        bx = x1 - 250 + i * 120
        d.rectangle((bx, y1 - 60, bx + 100, y1 - 20), fill=(225, 225, 225), outline="gray")
        d.text((bx + 22, y1 - 53), label, fill="black", font=font(20))
    return img


def pill_label(size=(1000, 600), drug="METFORMIN HCL", dose="500 MG") -> Image.Image:
    """A pharmacy label on a bottle-coloured background."""
    img = Image.new("RGB", size, (230, 140, 40))
    d = ImageDraw.Draw(img)
    d.rectangle((80, 80, size[0] - 80, size[1] - 80), fill="white")
    d.text((110, 100), "Main Street Pharmacy", fill="black", font=font(24, bold=True))
    d.text((110, 150), "Rx# 4418207   Dr. Patel", fill="black", font=font(22))
    d.text((110, 210), f"{drug} {dose} TABLETS", fill="black", font=font(32, bold=True))
    d.text((110, 270), "Take 1 tablet by mouth twice", fill="black", font=font(24))
    d.text((110, 305), "daily with meals", fill="black", font=font(24))
    d.text((110, 370), "Qty: 60   Refills: 2", fill="black", font=font(22))
    return img


def referral_letter(size=(1000, 1200), specialty_line="to a dermatologist") -> Image.Image:
    """A referral letter."""
    img = Image.new("RGB", size, "white")
    d = ImageDraw.Draw(img)
    d.text((80, 70), "Riverside Family Medicine", fill="black", font=font(34, bold=True))
    lines = [
        "March 3, 2026",
        "",
        "Dear Ms. Lopez,",
        "",
        f"I am referring you {specialty_line} for",
        "evaluation of a changing mole on your arm.",
        "Please book a consultation with Dr. Patel.",
        "",
        "Sincerely,",
        "Dr. Nguyen",
    ]
    y = 170
    for line in lines:
        if line:
            d.text((80, y), line, fill="black", font=font(26))
        y += 46
    return img


def skin_photo(size=(800, 600), seed: int = 7) -> Image.Image:
    """A photo-like picture with no text: skin tone, reddish blotches, blur."""
    rnd = random.Random(seed)
    img = Image.new("RGB", size, (224, 172, 140))
    d = ImageDraw.Draw(img)
    for _ in range(40):
        x, y, r = rnd.randint(0, size[0]), rnd.randint(0, size[1]), rnd.randint(6, 40)
        d.ellipse((x - r, y - r, x + r, y + r), fill=(200 + rnd.randint(0, 40), 90, 90))
    return img.filter(ImageFilter.GaussianBlur(6))


def encoded(img: Image.Image, fmt: str = "PNG") -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt)
    return buf.getvalue()
