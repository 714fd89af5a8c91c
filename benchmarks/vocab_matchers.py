"""Per-call cost of the corrector's matchers and the correction time per utterance.

    .venv/bin/python benchmarks/vocab_matchers.py [--vocabulary FILE] [--repeat 5]

1. Per call (µs, best of 3 over 2,000 pairs of the vocabulary's spoken forms, half of them
   with a few letters changed): the weighted sound distance (``key_similarity``, pure
   Python, kept), rapidfuzz's uniform Levenshtein on the same keys (the library
   alternative, rejected on accuracy: ``docs/vocabulary.md``), rapidfuzz's Jaro-Winkler on
   spellings and its word-level Levenshtein (WER).
2. Per utterance (ms, p50/p95/max): ``vocabulary.correct`` and ``vocabulary.candidates`` on
   every sentence of the shipped utterance sets and the ordinary sentences, each
   ``--repeat`` times, with the 2,500-term case-study vocabulary by default. No Whisper:
   ``benchmarks/vocab_bench.py`` times correction on real STT transcripts.

Prints the figures. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import random
import sys
import time
import timeit
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from rapidfuzz.distance import JaroWinkler, Levenshtein  # noqa: E402

from vocabulary import Lexicon, candidates, correct, evaluation  # noqa: E402
from vocabulary.casestudy import CASE_STUDY_VOCABULARY  # noqa: E402
from vocabulary.distance import key_similarity  # noqa: E402
from vocabulary.phonetic import phonetic_key  # noqa: E402

UTTERANCE_SETS = (
    "heldout_utterances.tsv",
    "heldout2_utterances.tsv",
    "calibration_utterances.tsv",
)


def _mutate(word: str, rng: random.Random) -> str:
    letters = list(word)
    for _ in range(rng.randint(1, 3)):
        k = rng.randrange(len(letters)) if letters else 0
        op = rng.random()
        if op < 0.33 and letters:
            del letters[k]
        elif op < 0.66:
            letters.insert(k, rng.choice("abcdefghijklmnopqrstuvwxyz"))
        elif letters:
            letters[k] = rng.choice("abcdefghijklmnopqrstuvwxyz")
    return "".join(letters)


def per_call_us(lexicon: Lexicon, pairs: int = 2000) -> dict[str, float]:
    """Microseconds per call of each matcher on spoken-form pairs of ``lexicon``."""
    rng = random.Random(1)
    spellings = [form.joined for form in lexicon.forms]
    half = pairs // 2
    words = [(rng.choice(spellings), rng.choice(spellings)) for _ in range(half)]
    words += [(w, _mutate(w, rng)) for w in (rng.choice(spellings) for _ in range(half))]
    keys = [(phonetic_key(a), phonetic_key(b)) for a, b in words]
    word_lists = [(a.split("a"), b.split("a")) for a, b in words]

    def best(fn, data) -> float:
        runs = timeit.repeat(lambda: [fn(a, b) for a, b in data], number=1, repeat=3)
        return round(min(runs) / len(data) * 1e6, 2)

    return {
        "key_similarity (weighted sound distance)": best(key_similarity, keys),
        "rapidfuzz Levenshtein on the same keys": best(Levenshtein.normalized_similarity, keys),
        "rapidfuzz Jaro-Winkler on spellings": best(JaroWinkler.similarity, words),
        "rapidfuzz Levenshtein on word lists (WER)": best(Levenshtein.distance, word_lists),
    }


def per_utterance_ms(lexicon: Lexicon, texts: list[str], repeat: int) -> dict[str, dict]:
    """p50/p95/max milliseconds of ``correct`` and ``candidates`` per text."""
    out = {}
    for name, fn in (("correct", correct), ("candidates", candidates)):
        times = []
        for _ in range(repeat):
            for text in texts:
                start = time.perf_counter()
                fn(text, lexicon)
                times.append((time.perf_counter() - start) * 1000)
        out[name] = {
            "p50": round(evaluation.percentile(times, 50), 2),
            "p95": round(evaluation.percentile(times, 95), 2),
            "max": round(max(times), 2),
            "n": len(times),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    """Print the per-call and per-utterance figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vocabulary", type=Path, default=CASE_STUDY_VOCABULARY)
    parser.add_argument("--repeat", type=int, default=5, help="passes over the sentences")
    args = parser.parse_args(argv)
    lexicon = Lexicon.load(args.vocabulary)
    sets = [evaluation.read_utterances(evaluation.DATA_DIR / name) for name in UTTERANCE_SETS]
    texts = [u.text for rows in sets for u in rows]
    texts += evaluation.read_sentences(evaluation.ORDINARY_SENTENCES)
    print(f"vocabulary: {args.vocabulary.name} ({len(lexicon.terms)} terms)")
    for name, micros in per_call_us(lexicon).items():
        print(f"  {name:45s} {micros:8.2f} µs/call")
    for name, figures in per_utterance_ms(lexicon, texts, args.repeat).items():
        print(
            f"  {name:12s} per utterance: p50 {figures['p50']:.2f} ms, "
            f"p95 {figures['p95']:.2f} ms, max {figures['max']:.2f} ms (n={figures['n']})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
