"""Piper's time to a reply's first audio, with and without the phrase cut of the first piece.

    .venv/bin/python benchmarks/tts_first_audio.py --replies OUT/*/turns.csv [--repeat 3]

The replies are the ones the bot gave in ``echo-agent bench`` runs (``turns.csv``, column
``reply``; a plain text file, one reply per line, also works). For each reply's first
sentence the TTS service synthesizes the first piece before anything plays
(:func:`providers.phrasing.split_first_clause`): with the phrase cut (a first piece of at
most 6 words when a phrase boundary allows) and without it (the first clause, as before).
It prints, per rule, the first piece's synthesis time (Piper, no phrase cache, median of
``--repeat``) p50 / p90 / max, the share of replies whose first piece changed, and gap
risks: a next piece whose synthesis takes longer than the piece before it plays (the
caller would hear a pause). ``--after-brain`` encodes a caller's sentence with the brain's
sentence encoder just before each timed synthesis, as in a live turn (the reply's audio
starts right after the brain answers). Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import sys
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from clinic.wording.phrases import sentences  # noqa: E402
from config import EchoSettings  # noqa: E402
from providers.local import LocalModels, synthesize_pcm  # noqa: E402
from providers.phrasing import split_first_clause  # noqa: E402

RULES = {"phrase cut (default)": 6, "first clause only": 10**6}


def read_replies(paths: list[Path]) -> list[str]:
    """Distinct non-empty replies from ``turns.csv`` files or plain text files."""
    replies: dict[str, None] = {}
    for path in paths:
        if path.suffix == ".csv":
            with path.open(encoding="utf-8", newline="") as f:
                for row in csv.DictReader(f):
                    replies.setdefault((row.get("reply") or "").strip(), None)
        else:
            for line in path.read_text(encoding="utf-8").splitlines():
                replies.setdefault(line.strip(), None)
    return [r for r in replies if r]


def timed(voice, text: str, repeat: int, before=None) -> tuple[float, float]:
    """Median synthesis time (ms) of ``text`` and its audio length (ms).

    ``before``: called (untimed) right before each synthesis.
    """
    times, pcm = [], b""
    for _ in range(repeat):
        if before is not None:
            before()
        start = time.perf_counter()
        pcm = synthesize_pcm(voice, text)
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), len(pcm) / 2 / voice.config.sample_rate * 1000


def main(argv: list[str] | None = None) -> int:
    """Print first-audio figures per rule."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--replies", type=Path, nargs="+", required=True)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--after-brain", action="store_true")
    args = parser.parse_args(argv)
    replies = read_replies(args.replies)
    models = LocalModels(EchoSettings())
    voice = models.piper()
    synthesize_pcm(voice, "Warming up the voice.")
    before = None
    if args.after_brain:
        intents = models.intents()

        def before() -> None:
            intents.classify("Could somebody look at my knee sometime next week?")
            time.sleep(0.001)

    firsts = [sentences(r)[0] for r in replies if sentences(r)]
    print(f"{len(firsts)} distinct replies")
    heads: dict[str, list[str]] = {rule: [] for rule in RULES}
    first_ms: dict[str, list[float]] = {rule: [] for rule in RULES}
    risks = dict.fromkeys(RULES, 0)
    for text in firsts:  # the rules interleaved, text by text, so load hits both alike
        for rule, words in RULES.items():
            pieces = split_first_clause(text, max_head_words=words)
            heads[rule].append(pieces[0])
            took, playing = timed(voice, pieces[0], args.repeat, before)
            first_ms[rule].append(took)
            for after in pieces[1:]:  # a gap risk: the next piece takes longer than this plays
                took, after_ms = timed(voice, after, 1)
                risks[rule] += took > playing
                playing = after_ms
    for rule, times in first_ms.items():
        times.sort()
        p90 = times[int(0.9 * (len(times) - 1))]
        print(
            f"{rule:22} first piece p50 {statistics.median(times):5.0f} / p90 {p90:5.0f}"
            f" / max {times[-1]:5.0f} ms; gap risks {risks[rule]}"
        )
    changed = sum(a != b for a, b in zip(*heads.values(), strict=True))
    print(f"first piece changed in {changed} of {len(firsts)} replies")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
