"""What a caller wants, by meaning: a nearest-example classifier over sentence embeddings.

Each label has a handful of example requests (:data:`clinic.understanding.examples.EXAMPLES`).
A caller's sentence is embedded with :class:`clinic.understanding.encoder.SentenceEncoder` and
gets the label of its most similar examples (cosine similarity, the mean of the two best per
label); below :data:`MIN_SIMILARITY` it gets none. A paraphrase of a request that no rule
anticipated still lands near its examples, which is the point: the rule-based parsers (days,
times, names, choices) keep the details, this decides the task.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from clinic.understanding.examples import EXAMPLES

MIN_SIMILARITY = 0.42  # below it no label; set on the dev callers (docs/brain.md)


@dataclass(frozen=True)
class Meaning:
    """The label of one sentence and how sure: ``score`` and the runner-up's."""

    label: str | None
    score: float
    runner_up: str | None = None
    runner_up_score: float = 0.0


class IntentClassifier:
    """Nearest-example intent labels over sentence embeddings.

    Args:
        encoder: Anything with ``encode(list[str]) -> (n, d)`` unit vectors.
        examples: Label → example sentences (default :data:`EXAMPLES`).
        cache_dir: Where to keep the examples' embeddings between runs (keyed by content).
    """

    def __init__(self, encoder, *, examples=None, cache_dir: Path | None = None):
        self.encoder = encoder
        self.examples = dict(examples or EXAMPLES)
        self.labels: list[str] = []
        texts: list[str] = []
        for label, sentences in self.examples.items():
            for sentence in sentences:
                self.labels.append(label)
                texts.append(sentence)
        self._label_array = np.array(self.labels)
        self._matrix = self._embed_examples(texts, cache_dir)

    def _embed_examples(self, texts: list[str], cache_dir: Path | None) -> np.ndarray:
        """The examples' embeddings, from a content-addressed cache when one is there.

        Looked up in ``cache_dir`` and in the machine's temp directory (shared by every
        data directory, e.g. the test suite's), written to both.
        """
        import tempfile

        digest = hashlib.sha256(json.dumps(texts).encode()).hexdigest()[:16]
        name = f"intent-examples-{digest}.npy"
        dirs = [Path(d) for d in (cache_dir, Path(tempfile.gettempdir()) / "echo-intents") if d]
        for directory in dirs:
            try:
                matrix = np.load(directory / name)
            except (OSError, ValueError):
                continue
            if matrix.shape == (len(texts), 384):
                return matrix
        matrix = self.encoder.encode(texts)
        for directory in dirs:
            try:
                directory.mkdir(parents=True, exist_ok=True)
                np.save(directory / f".{name}.{id(self)}.npy", matrix)
                (directory / f".{name}.{id(self)}.npy").replace(directory / name)
            except OSError:
                pass
        return matrix

    def classify(self, text: str) -> Meaning:
        """The label of ``text`` (None below :data:`MIN_SIMILARITY`)."""
        if not text.strip():
            return Meaning(None, 0.0)
        sims = self._matrix @ self.encoder.encode([text])[0]
        scores: dict[str, float] = {}
        for label in self.examples:
            top = np.sort(sims[self._label_array == label])[-2:]
            scores[label] = float(top.mean())
        ranked = sorted(scores.items(), key=lambda kv: kv[1], reverse=True)
        (best, score), (second, second_score) = ranked[0], ranked[1]
        return Meaning(best if score >= MIN_SIMILARITY else None, score, second, second_score)


@lru_cache(maxsize=1)
def default_classifier(cache_dir: str | None = None) -> IntentClassifier:
    """One shared classifier on the bundled encoder (loaded once per process)."""
    from clinic.understanding.encoder import SentenceEncoder

    return IntentClassifier(SentenceEncoder(), cache_dir=Path(cache_dir) if cache_dir else None)
