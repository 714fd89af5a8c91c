"""An index of spoken forms by sound-class grams, to find a span's sound-alike terms fast.

Each form's phonetic keys are reduced to a coarse consonant skeleton and indexed by its
bigrams, skip-bigrams, broad-class bigrams and first/last class (``skeleton_grams``). A
query ranks forms by Dice overlap of grams with numpy (``bincount``), filtered by weight
ratio and category; only the best few then get the (costly) weighted edit distance.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence

import numpy as np

from vocabulary.phonetic import VOWEL

_COARSE = {
    "B": "P",
    "D": "T",
    "G": "K",
    "V": "F",
    "Z": "S",
    "X": "S",
    "C": "S",
    "J": "S",
    "0": "T",
    "M": "N",
    "R": "L",
    "W": "",
    "Y": "",
    "H": "",
    VOWEL: "",
}
_BROAD = {"P": "P", "F": "P", "T": "T", "S": "T", "K": "K", "N": "N", "L": "L"}


def _collapse(symbols: Iterable[str], table: dict[str, str]) -> str:
    """Each symbol mapped through ``table`` (unlisted: itself), runs and blanks dropped."""
    out: list[str] = []
    for sym in symbols:
        mapped = table.get(sym, sym)
        if mapped and (not out or out[-1] != mapped):
            out.append(mapped)
    return "".join(out)


def skeleton(key: str) -> str:
    """The consonant classes of a key, coarse enough that sound-alike keys share bigrams."""
    return _collapse(key, _COARSE)


def skeleton_grams(key: str) -> set[str]:
    """Index grams of a key, robust to one or two misheard sounds.

    Consonant-class bigrams (``b``), bigrams skipping one class (``s``), bigrams of five
    broad classes (``c``: lips, tongue tip, back, nasal, liquid), and the first and last
    broad class (``^``/``$``).
    """
    skel = skeleton(key)
    broad = _collapse(skel, _BROAD)
    grams = {"b" + skel[i : i + 2] for i in range(len(skel) - 1)}
    grams.update("s" + skel[i] + skel[i + 2] for i in range(len(skel) - 2))
    grams.update("c" + broad[i : i + 2] for i in range(len(broad) - 1))
    if broad:
        grams.add("^" + broad[0])
        grams.add("$" + broad[-1])
    else:
        grams.add("^_")
    if len(skel) < 2:
        grams.add("u" + (skel or "_"))
    return grams


class SoundIndex:
    """Spoken forms indexed by sound-class grams (read-only once built).

    Args:
        form_keys: The phonetic keys of each form, in form order.
        form_weights: Each form's key weight (``vocabulary.distance.key_weight``).
        form_categories: Each form's term category.
    """

    def __init__(
        self,
        form_keys: Sequence[Sequence[str]],
        form_weights: Sequence[float],
        form_categories: Sequence[str],
    ):
        postings: dict[str, list[int]] = defaultdict(list)
        gram_counts: list[int] = []
        for fid, keys in enumerate(form_keys):
            grams: set[str] = set()
            for key in keys:
                grams.update(skeleton_grams(key))
            gram_counts.append(len(grams))
            for gram in grams:
                postings[gram].append(fid)
        self._size = len(gram_counts)
        self._postings = {g: np.asarray(ids, dtype=np.int32) for g, ids in postings.items()}
        self._grams = np.asarray(gram_counts, dtype=np.float64)
        self._weights = np.maximum(np.asarray(form_weights, dtype=np.float64), 0.1)
        categories = np.asarray(list(form_categories))
        self._masks = {cat: categories == cat for cat in dict.fromkeys(form_categories)}

    def candidates(
        self,
        keys: Iterable[str],
        limit: int = 16,
        weight: float | None = None,
        ratio: tuple[float, float] = (0.55, 1.8),
        categories: Iterable[str] | None = None,
    ) -> list[int]:
        """Forms sharing sound-class grams with any of ``keys``, best Dice overlap first.

        Args:
            keys: Phonetic keys of a span.
            limit: Most forms returned.
            weight: The span key's weight; forms whose weight is out of ``ratio`` of it are
                skipped.
            ratio: Allowed span-to-form weight ratio.
            categories: Only forms of terms in these categories (default: all).

        Returns:
            Form indices.
        """
        grams: set[str] = set()
        for key in keys:
            grams.update(skeleton_grams(key))
        postings = [self._postings[gram] for gram in grams if gram in self._postings]
        if not postings:
            return []
        counts = np.bincount(np.concatenate(postings), minlength=self._size)
        dice = counts / (len(grams) + self._grams)
        if weight is not None:
            span_to_form = weight / self._weights
            dice[(span_to_form < ratio[0]) | (span_to_form > ratio[1])] = 0.0
        if categories is not None:
            wanted = set(categories)
            if wanted != set(self._masks):
                for category, mask in self._masks.items():
                    if category not in wanted:
                        dice[mask] = 0.0
        hits = int(np.count_nonzero(dice))
        if hits == 0:
            return []
        if hits <= limit:
            top = np.flatnonzero(dice)
        else:
            top = np.argpartition(-dice, limit)[:limit]
        return [int(fid) for fid in top[np.argsort(-dice[top], kind="stable")]]
