"""Finding Echo's vocabulary in OCR'd text, by spelling rather than by sound.

OCR slips are letter slips ("Metformn", "Cardiolgy"), so terms are matched by edit distance
over runs of up to three words, the best match winning; specialties also match their
practitioner forms ("dermatologist" → dermatology); providers are found after a title
("Dr. Patel", "Doctor Nguyen's").
"""

from __future__ import annotations

import re
from typing import Any

from rapidfuzz.distance import Levenshtein

DOSE_RE = re.compile(r"(\d+(?:[.,]\d+)?)\s*(mg|mcg|µg|ug|ml|g|units?|iu|%)(?![a-z])", re.IGNORECASE)
PROVIDER_RE = re.compile(r"\b(?:Dr\.?|Doctor)\s+([A-Z][A-Za-z'\-]+)")
WORD_RE = re.compile(r"[A-Za-z][A-Za-z'\-]*")


def similarity(a: str, b: str) -> float:
    """1 - Levenshtein distance / longer length (case-insensitive)."""
    return Levenshtein.normalized_similarity(a.lower(), b.lower())


def display_name(term: str) -> str:
    """A vocabulary term as spoken and shown ("metformin" → "Metformin"; "ENT" stays)."""
    return term[:1].upper() + term[1:] if term.islower() else term


def _terms(lexicon: Any, category: str) -> list[Any]:
    if lexicon is None:
        return []
    return [t for t in lexicon.terms if t.category == category]


def _word_spans(line: str, max_words: int) -> list[tuple[str, int, int]]:
    """Runs of 1..max_words words of a line, with their start and end offsets."""
    words = list(WORD_RE.finditer(line))
    out = []
    for i in range(len(words)):
        for n in range(1, max_words + 1):
            if i + n > len(words):
                break
            text = " ".join(w.group() for w in words[i : i + n])
            out.append((text, words[i].start(), words[i + n - 1].end()))
    return out


def find_medications(lines: list[str], lexicon: Any) -> list[dict]:
    """Medications named in the lines, with the dose written after them (if any).

    Every run of up to three words is compared by spelling with every medication; the best
    matches win, one term per run of text ("Lorazepam" is lorazepam, not clonazepam).
    """
    terms = _terms(lexicon, "medication")
    found: dict[str, dict] = {}
    for k, line in enumerate(lines):
        candidates = []
        for span, start, end in _word_spans(line, 3):
            if len(span) < 4:
                continue
            for term in terms:
                if abs(len(term.text) - len(span)) > 3:
                    continue
                score = similarity(span, term.text)
                if score >= (0.8 if len(term.text) >= 7 else 0.9):
                    candidates.append((score, len(span), start, end, term))
        taken: list[tuple[int, int]] = []
        for _, _, start, end, term in sorted(candidates, key=lambda c: (-c[0], -c[1])):
            name = display_name(term.text)
            if name in found or any(start < e and s < end for s, e in taken):
                continue
            taken.append((start, end))
            after = line[end:] + " " + (lines[k + 1] if k + 1 < len(lines) else "")
            dose = DOSE_RE.search(after[:40])
            found[name] = {
                "name": name,
                "dose": f"{dose.group(1).replace(',', '.')} {_unit(dose.group(2))}"
                if dose
                else None,
                "_at": (k, start),
            }
    ordered = sorted(found.values(), key=lambda m: m.pop("_at"))
    return ordered


def find_specialties(lines: list[str], lexicon: Any) -> list[str]:
    """Specialties named in the lines ("dermatologist" and "Dermatology" alike)."""
    found: list[str] = []
    for term in _terms(lexicon, "specialty"):
        text = term.text
        for line in lines:
            if _mentions_specialty(line, text):
                name = display_name(text)
                if name not in found:
                    found.append(name)
                break
    return found


def _mentions_specialty(line: str, term: str) -> bool:
    if term.isupper() or "-" in term:  # ENT, OB-GYN: as written
        return re.search(rf"(?<![A-Za-z]){re.escape(term)}(?![A-Za-z])", line) is not None
    n_words = len(term.split())
    for span, _, _ in _word_spans(line, n_words):
        if len(span.split()) != n_words:
            continue
        a, b = span.lower(), term.lower()
        common = len(_common_prefix(a, b))
        if common >= max(6, len(b) - 3) and len(a) <= len(b) + 4:  # dermatologist
            return True
        if len(b) >= 7 and similarity(a, b) >= 0.85:  # OCR slips
            return True
    return False


def _common_prefix(a: str, b: str) -> str:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


def find_providers(lines: list[str], lexicon: Any) -> list[str]:
    """Providers written with a title ("Dr. Patel", "Doctor Nguyen") found in the lines."""
    terms = _terms(lexicon, "provider")
    found: list[str] = []
    for line in lines:
        for m in PROVIDER_RE.finditer(line):
            surname = re.sub(r"['’]s$", "", m.group(1))
            best = max(terms, key=lambda t: similarity(surname, t.name), default=None)
            if best is not None and similarity(surname, best.name) >= 0.8:
                if best.text not in found:
                    found.append(best.text)
    return found


def _unit(unit: str) -> str:
    u = unit.lower()
    return {"ug": "mcg", "µg": "mcg", "iu": "IU", "ml": "mL", "unit": "units"}.get(u, u)
