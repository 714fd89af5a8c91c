"""The bench's held-out prompt set: written once by a fixed rule, then frozen.

Rule (documented so the set can be judged, never edited to suit the code):

* The templates below were written once, before any turn-taking or speed change they are
  used to measure, and are not edited afterwards. None of them is a bench ``short`` or
  ``paused`` prompt or a paraphrase chosen to match a rule in ``pipelines/turn_taking.py``.
* Each template is filled once with a seeded random choice (``SEED``) from the clinic
  vocabulary (``clinic/data/clinic_vocabulary.json``: providers, medications, specialties)
  and from small general lists (days, parts of the day, countries, numbers).
* A ``|`` in a paused template is where the caller pauses; the pause length is drawn
  uniformly from ``PAUSE_RANGE`` seconds.
* ``python -m benchmarks.voice.heldout --write`` writes ``benchmarks/data/prompts_heldout.tsv``;
  the bench reads only that file and checks its sha256 (:data:`FROZEN_SHA256`), so the set
  cannot drift with the code. The tuning set is the bench's own ``short`` and ``paused`` prompts.

A second held-out set, ``benchmarks/data/prompts_heldout2.tsv`` (:data:`HELDOUT2_PATH`), was
written blind: by a writer who saw neither the code nor the turn-taking rules, only the
clinic vocabulary and a brief (natural, varied caller speech; 30 sentences with one pause
each, spread over many grammatical places, no two opening alike and none opening like a
sentence of the other sets; 15 one-breath questions, 10 clinic and 5 general). It was
frozen (:data:`FROZEN2_SHA256`) before the turn-taking rules it measures were final, and
evaluated once after. It then served for tuning, and a third set written the same way,
``benchmarks/data/prompts_heldout3.tsv`` (:data:`HELDOUT3_PATH`), replaced it as the blind one.
A fourth, ``benchmarks/data/prompts_heldout4.tsv`` (:data:`HELDOUT4_PATH`; 40 paused, 25
one-breath, none opening like a sentence of the earlier sets), was written the same way and
frozen (:data:`FROZEN4_SHA256`) before the learned end-of-turn judge it measures was built.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import random
from pathlib import Path

from benchmarks.voice.prompts import Prompt

SEED = 20261206
PAUSE_RANGE = (0.45, 0.7)
DATA_DIR = Path(__file__).resolve().parents[1] / "data"  # benchmarks/data
HELDOUT_PATH = DATA_DIR / "prompts_heldout.tsv"
VOCABULARY = Path(__file__).resolve().parents[2] / "clinic" / "data" / "clinic_vocabulary.json"
HELDOUT2_PATH = DATA_DIR / "prompts_heldout2.tsv"
FROZEN2_SHA256 = "c4d9df3f0b9cc2681ed1b2210ed923cac25acfca6e8bce18ac6d95dfc0898aa0"
HELDOUT3_PATH = DATA_DIR / "prompts_heldout3.tsv"
FROZEN3_SHA256 = "736d54aefed2cc1a42f6c336d06837fe00247271f602d8f6777544b1e5e9f99c"
HELDOUT4_PATH = DATA_DIR / "prompts_heldout4.tsv"
FROZEN4_SHA256 = "8808b4c511dc297423b75d69916df88eee7e41306206c8fe4f96c9e57b6cd251"
FROZEN_SHA256 = "0adc76b13e0de8c3fc3d8e60943cbb2905251a0e169f8ab80e15faf81f2e8d50"

DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday"]
PARTS = ["morning", "afternoon"]
WHEN = ["this week", "next week", "as soon as possible", "before the end of the month"]
RELATIONS = [("daughter", "She"), ("son", "He"), ("mother", "She"), ("husband", "He")]
COUNTRIES = ["Japan", "Canada", "Italy", "Kenya", "Peru", "Norway", "Egypt", "Australia"]
SYMPTOMS = ["a sore throat", "bad headaches", "an itchy rash", "pain in my knee"]

# Unpaused: one breath each. {p} provider, {m} medication, {s} specialty, {d} day,
# {t} part of the day, {w} when, {c} country, {a}/{b} numbers, {r} relation.
CLINIC = [
    "Do you have any openings with {p} on {d} {t}?",
    "I'd need to see someone in {s} {w}.",
    "What time does the clinic open on {d}?",
    "I'm running low on {m}, could you send a refill to my pharmacy?",
    "Is {p} taking new patients at the moment?",
    "Please move my appointment to {d} {t}.",
    "Where exactly is your clinic?",
    "Could somebody from {s} call me back today?",
    "My {r} has {y} and needs to be seen {w}.",
    "Which days does {p} work?",
    "Does the clinic take my insurance?",
    "I want to cancel my visit with {p}.",
]
GENERAL = [
    "What's the capital of {c}?",
    "How many minutes are there in {a} hours?",
    "What is {a} times {b}?",
    "Could you tell me a fun fact about {c}?",
    "What day comes after {d}?",
    "How do you spell the word {m}?",
]
# Paused: ``|`` marks the pause.
PAUSED = [
    "Do you happen to have | anything open with {p} on {d} {t}?",
    "I need | a refill of my {m}.",
    "Could you look up | when my next appointment is?",
    "The doctor I usually see | is {p}. Is there time with them on {d}?",
    "It's for my {r}. {R} | needs to see someone in {s}.",
    "Before I forget, | can you tell me your address?",
    "I was wondering if | I could come in on {d} {t}.",
    "Can you check whether | {p} has time {w}?",
    "I'm calling about | my appointment on {d}.",
    "What I'd really like is | an appointment in {s} {w}.",
    "So the thing is, | my prescription for {m} ran out.",
    "Would it be possible to | move my visit to {d}?",
    "I've been having | {y} for a few days.",
    "Is there any way | I could see {p} before {d}?",
    "We need | two appointments on {d} {t}.",
    "And also, | what are your opening hours on {d}?",
]


def _fill(template: str, rng: random.Random, vocab: dict) -> str:
    relation, pronoun = rng.choice(RELATIONS)
    values = {
        "p": rng.choice(vocab["providers"]).replace("Dr.", "Doctor"),
        "m": rng.choice(vocab["medications"][:40]),
        "s": rng.choice([s for s in vocab["specialties"] if s.endswith(("logy", "ics", "try"))]),
        "d": rng.choice(DAYS),
        "t": rng.choice(PARTS),
        "w": rng.choice(WHEN),
        "c": rng.choice(COUNTRIES),
        "a": str(rng.randint(2, 9)),
        "b": str(rng.randint(3, 12)),
        "r": relation,
        "R": pronoun,
        "y": rng.choice(SYMPTOMS),
    }
    return template.format(**values)


def generate() -> list[Prompt]:
    """The held-out prompts, by the rule in the module docstring (deterministic)."""
    rng = random.Random(SEED)
    vocab = json.loads(VOCABULARY.read_text())
    prompts = []
    for k, template in enumerate(CLINIC):
        prompts.append(Prompt(f"h-clinic-{k + 1:02d}", (_fill(template, rng, vocab),)))
    for k, template in enumerate(GENERAL):
        prompts.append(Prompt(f"h-general-{k + 1:02d}", (_fill(template, rng, vocab),)))
    for k, template in enumerate(PAUSED):
        text = _fill(template, rng, vocab)
        parts = tuple(p.strip() for p in text.split("|"))
        pause = round(rng.uniform(*PAUSE_RANGE), 2)
        prompts.append(Prompt(f"h-paused-{k + 1:02d}", parts, pause, "paused"))
    return prompts


def write(path: Path = HELDOUT_PATH) -> str:
    """Write the set as TSV (id, kind, pause_secs, parts joined by ``|``); return its sha256."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        out = csv.writer(f, delimiter="\t", lineterminator="\n")
        out.writerow(["id", "kind", "pause_secs", "parts"])
        for p in generate():
            out.writerow([p.id, p.kind, f"{p.pause_secs:.2f}", " | ".join(p.parts)])
    return hashlib.sha256(path.read_bytes()).hexdigest()


def load(path: Path = HELDOUT_PATH, *, check: bool = True) -> list[Prompt]:
    """The frozen held-out prompts (the first set by default; :data:`HELDOUT2_PATH` too).

    Raises:
        ValueError: The file's sha256 is not the frozen one (it was edited or regenerated).
    """
    data = path.read_bytes()
    frozen = {
        HELDOUT2_PATH: FROZEN2_SHA256,
        HELDOUT3_PATH: FROZEN3_SHA256,
        HELDOUT4_PATH: FROZEN4_SHA256,
    }.get(path, FROZEN_SHA256)
    if check and hashlib.sha256(data).hexdigest() != frozen:
        raise ValueError(f"{path} is not the frozen held-out set (sha256 differs)")
    rows = csv.DictReader(data.decode().splitlines(), delimiter="\t")
    return [
        Prompt(
            r["id"],
            tuple(p.strip() for p in r["parts"].split("|")),
            float(r["pause_secs"]),
            r["kind"],
        )
        for r in rows
    ]


def main() -> None:
    """``python -m benchmarks.voice.heldout [--write]``: print (or write) the held-out set."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="write the TSV, print its sha256")
    args = parser.parse_args()
    if args.write:
        print(write())
        return
    for p in generate():
        print(p.id, p.pause_secs, " | ".join(p.parts), sep="\t")


if __name__ == "__main__":
    main()
