"""Write the fresh held-out vocabulary set: templates × terms never used in any earlier set.

The rule, fixed before any vocabulary change is measured on it:

1. Terms: clinic vocabulary terms (providers, medications, specialties, procedures) that
   appear in no earlier evaluation or calibration set (the shared dev utterances and
   ``vocabulary/data/*_utterances.tsv``). A category with fewer such terms than
   ``PER_CATEGORY`` is topped up with its used terms (every one of the clinic's 20
   specialties and 18 procedures is in an earlier set), said in the new templates.
2. Templates: the sentences below, written for this set, four to six per category, none of
   them the shape of an earlier set's sentence.
3. Pairing: per category, the unused terms are shuffled with ``random.Random(SEED)`` and
   taken in turn, the n-th term with template n mod len(templates), at most ``PER_CATEGORY``
   per category. Ids are ``fh000``… in that order.

Run once; the output is committed and never edited (re-running reproduces it):

    .venv/bin/python scripts/make_fresh_heldout.py \
        --out vocabulary/data/fresh_heldout_utterances.tsv
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEED = 20261205
PER_CATEGORY = 18
EARLIER = [
    ROOT.parent / "shared" / "data" / "dev_utterances.tsv",
    *sorted((ROOT / "vocabulary" / "data").glob("*_utterances.tsv")),
]
TEMPLATES = {
    "providers": [
        "My neighbor recommended {spoken}, is she taking new patients?",
        "Could you put me down for a visit with {spoken} sometime in March?",
        "I saw {spoken} last year and would like to go back.",
        "Please check whether {spoken} works on Thursdays.",
        "The hospital told me to follow up with {spoken}.",
        "Is {spoken} in the office this afternoon?",
    ],
    "medications": [
        "The pharmacy says my {term} needs a new authorization.",
        "I have been taking {term} for about six months now.",
        "Can the nurse tell me if {term} is safe with coffee?",
        "My daughter needs her {term} renewed before the weekend.",
        "I think the {term} is giving me a headache.",
    ],
    "specialties": [
        "My insurance asked for a referral to {term}.",
        "Who handles {term} questions at your clinic?",
        "I was told to get an appointment in {term} within two weeks.",
        "Do you have anyone in {term} who sees teenagers?",
    ],
    "procedures": [
        "When can I schedule my {term}?",
        "My doctor ordered a {term} before the surgery.",
        "How long do the results of a {term} usually take?",
        "Do I need to fast before the {term}?",
    ],
}


def used_terms(paths: list[Path]) -> set[str]:
    """Terms named in the ``terms`` column of earlier sets (lowercase)."""
    used: set[str] = set()
    for path in paths:
        if not path.exists():
            continue
        with path.open(encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f, delimiter="\t"):
                for term in (row.get("terms") or "").split(";"):
                    if term.strip():
                        used.add(term.strip().lower())
    return used


def spoken(term: str) -> str:
    """A provider as said: "Dr. Okafor" → "Doctor Okafor"."""
    return term.replace("Dr. ", "Doctor ", 1)


def build(vocabulary: dict, used: set[str]) -> list[tuple[str, str, str]]:
    """The ``(id, text, term)`` rows by the rule in the module docstring."""
    rows: list[tuple[str, str, str]] = []
    rng = random.Random(SEED)
    for category, templates in TEMPLATES.items():
        terms = [t if isinstance(t, str) else t["term"] for t in vocabulary.get(category, [])]
        fresh = [t for t in terms if t.lower() not in used]
        again = [t for t in terms if t.lower() in used]
        rng.shuffle(fresh)
        rng.shuffle(again)
        for n, term in enumerate((fresh + again)[:PER_CATEGORY]):
            text = templates[n % len(templates)].format(term=term, spoken=spoken(term))
            rows.append((f"fh{len(rows):03d}", text, term))
    return rows


def main(argv: list[str] | None = None) -> int:
    """Write the set as a TSV with ``id``, ``text`` and ``terms`` columns."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--vocabulary", type=Path, default=ROOT / "clinic/data/clinic_vocabulary.json"
    )
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    vocabulary = json.loads(args.vocabulary.read_text(encoding="utf-8"))
    missing = [p for p in EARLIER if not p.exists()]
    if missing:
        print(f"note: not found, not excluded: {', '.join(map(str, missing))}", file=sys.stderr)
    rows = build(vocabulary, used_terms(EARLIER))
    with args.out.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter="\t", lineterminator="\n")
        writer.writerow(["id", "text", "terms"])
        writer.writerows(rows)
    print(f"{len(rows)} utterances → {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
