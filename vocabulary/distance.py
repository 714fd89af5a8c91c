"""A sound-aware edit distance over :func:`vocabulary.phonetic.phonetic_key` keys.

``key_distance`` makes likely confusions cheap: voicing pairs, sibilants, nasals, liquids
and vowels are cheap to swap; vowels and "h" are cheap to drop; a key's last sound is
cheap to clip. ``key_similarity`` normalises it to 0..1. Plain functions, no state.

A general-purpose library distance (rapidfuzz's Levenshtein, 0.2 µs a call against
~40 µs here) has no per-symbol costs; swapped in, it found 465 instead of 474 of the 578
terms said in the dev sets, inventing as many (``docs/vocabulary.md``), so this one is
kept. Spelling similarity (Jaro-Winkler) and word-level edit distance come from rapidfuzz.
"""

from __future__ import annotations

from vocabulary.phonetic import VOWEL

_CHEAP_PAIRS = {
    0.25: ["PB", "TD", "KG", "FV", "SZ", "XJ", "XC", "CJ", "SX"],
    0.4: ["ZX", "ZJ", "SC", "SJ", "MN", "T0", "D0", "F0", "BV", "GJ", "KC", "YJ", "WV"],
    0.55: ["LR", "PF", "TK", "PT", "BD", "DG", "PK", "BG", "WL", "YW", "S0", "Z0", "TC", "DJ"],
}
_SUB: dict[tuple[str, str], float] = {}
for _cost, _pairs in _CHEAP_PAIRS.items():
    for _a, _b in _pairs:
        _SUB[(_a, _b)] = _cost
        _SUB[(_b, _a)] = _cost

# Cost of dropping or inserting one symbol.
_INDEL = {VOWEL: 0.45, "H": 0.3, "Y": 0.5, "W": 0.5, "R": 0.7, "N": 0.8, "M": 0.85}


# A key's last sound is often clipped or added by the recognizer ("Lauren"/"Laurent").
FINAL_DROP = 0.6


def _indel(sym: str) -> float:
    return _INDEL.get(sym, 1.0)


def _sub(a: str, b: str) -> float:
    if a == b:
        return 0.0
    if a == VOWEL or b == VOWEL:
        return _indel(a) + _indel(b)
    return _SUB.get((a, b), 1.0)


_ALPHABET = VOWEL + "0ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# Lookup tables (read-only after import): deletion cost and substitution cost per symbol.
_INDEL_COST = {sym: _indel(sym) for sym in _ALPHABET}
_SUB_COST = {a: {b: _sub(a, b) for b in _ALPHABET} for a in _ALPHABET}


def key_weight(key: str) -> float:
    """Weighted length of a key: what it costs to delete every symbol."""
    return sum(_INDEL_COST[sym] for sym in key)


def key_distance(a: str, b: str, limit: float = float("inf")) -> float:
    """Sound-aware edit distance between two keys.

    Args:
        a: A key from :func:`phonetic_key`.
        b: Another key.
        limit: Stop early and return ``limit`` once the distance cannot stay below it.

    Returns:
        The cheapest total cost of symbol substitutions, insertions and deletions.
    """
    if a == b:
        return 0.0
    indel = _INDEL_COST
    ins_b = [indel[sym] for sym in b]
    if ins_b:
        ins_b[-1] *= FINAL_DROP
    prev = [0.0]
    total = 0.0
    for cost in ins_b:
        total += cost
        prev.append(total)
    last = len(a) - 1
    lb = len(b)
    for i, ca in enumerate(a):
        del_a = indel[ca] * (FINAL_DROP if i == last else 1.0)
        row = _SUB_COST[ca]
        left = prev[0] + del_a
        cur = [left]
        row_min = left
        for j in range(lb):
            value = prev[j + 1] + del_a
            other = left + ins_b[j]
            if other < value:
                value = other
            other = prev[j] + row[b[j]]
            if other < value:
                value = other
            cur.append(value)
            left = value
            if value < row_min:
                row_min = value
        if row_min >= limit:
            return limit
        prev = cur
    return prev[-1]


def key_similarity(
    a: str,
    b: str,
    floor: float = 0.0,
    weight_a: float | None = None,
    weight_b: float | None = None,
) -> float:
    """Similarity 0..1 of two keys: 1 minus distance over the longer weighted length.

    Args:
        a: A key.
        b: Another key.
        floor: Similarities below this may be reported as ``floor`` (lets the distance stop
            early).
        weight_a: ``key_weight(a)`` if already known.
        weight_b: ``key_weight(b)`` if already known.
    """
    length = max(
        key_weight(a) if weight_a is None else weight_a,
        key_weight(b) if weight_b is None else weight_b,
    )
    if length == 0:
        return 1.0 if a == b else 0.0
    limit = (1.0 - floor) * length if floor > 0 else float("inf")
    dist = key_distance(a, b, limit + 1e-9)
    return max(0.0, 1.0 - dist / length)
