"""A small English sound key and a weighted distance over it.

``phonetic_key`` turns a spelling into a string of sound classes, one character per
sound, so that words that sound alike get keys a short, cheap edit apart:

- vowels (and vowel-like ``w``/``y``) collapse to ``a``; a run of vowels is one ``a``;
- consonants map to one capital letter per sound: ``P B T D K G F V S Z M N L R W Y H``,
  ``X`` for "sh"/"zh", ``C`` for "ch", ``J`` for "j"/soft "g", ``0`` for "th";
- digraphs and common spellings are folded ("ph" → F, "ck" → K, soft "c" → S,
  "tion" → X, Polish "cz"/"sz"/"rz", "sch", silent initial "kn"/"wr"/"ps", final silent e).

``key_distance`` is an edit distance with sound-aware costs (voicing pairs, sibilants,
nasals, liquids and vowels are cheap to swap; vowels and "h" are cheap to drop), and
``key_similarity`` normalises it to 0..1. Both are plain functions with no state.
"""

from __future__ import annotations

import re

VOWEL = "a"
_VOWEL_LETTERS = frozenset("aeiou")

_DIGITS = {
    "0": "zero",
    "1": "one",
    "2": "two",
    "3": "three",
    "4": "four",
    "5": "five",
    "6": "six",
    "7": "seven",
    "8": "eight",
    "9": "nine",
}

# How a capital letter is said when an acronym is spelled out ("EKG" → "ee kay gee").
LETTER_NAMES = {
    "a": "ay",
    "b": "bee",
    "c": "see",
    "d": "dee",
    "e": "ee",
    "f": "ef",
    "g": "gee",
    "h": "aitch",
    "i": "eye",
    "j": "jay",
    "k": "kay",
    "l": "el",
    "m": "em",
    "n": "en",
    "o": "oh",
    "p": "pee",
    "q": "cue",
    "r": "ar",
    "s": "ess",
    "t": "tee",
    "u": "you",
    "v": "vee",
    "w": "double you",
    "x": "ex",
    "y": "why",
    "z": "zee",
}


def spell_digits(word: str) -> str:
    """Replace each digit by its English name ("a1c" → "aonec")."""
    if not any(ch.isdigit() for ch in word):
        return word
    return "".join(_DIGITS.get(ch, ch) for ch in word)


def spell_letters(word: str) -> str:
    """An acronym said letter by letter ("ekg" → "eekaygee"); digits become names."""
    return "".join(LETTER_NAMES.get(ch, _DIGITS.get(ch, "")) for ch in word.lower())


def _is_vowel(word: str, i: int) -> bool:
    ch = word[i]
    if ch in _VOWEL_LETTERS:
        return True
    if ch == "y":
        # "y" is a consonant before a vowel ("yilmaz", "oyelaran"), a vowel otherwise.
        nxt = word[i + 1] if i + 1 < len(word) else ""
        return nxt not in _VOWEL_LETTERS
    return False


_SILENT_T = re.compile(r"(?<=[aeiou])st(?=(?:en|le)s?\b)")


def phonetic_key(text: str) -> str:
    """Sound key of a word or of several words said together (spaces are ignored).

    Args:
        text: Letters (any case); digits are read as English numbers, other characters
            are skipped.

    Returns:
        The key, e.g. ``phonetic_key("metformin") == phonetic_key("met for men")``.

    """
    # A silent "t" in "-sten"/"-stle" at the end of a word ("listen", "castle").
    text = _SILENT_T.sub("s", text.lower())
    word = "".join(ch for ch in spell_digits(text) if "a" <= ch <= "z")
    if not word:
        return ""
    # Silent or folded beginnings.
    for prefix, repl in (("kn", "n"), ("gn", "n"), ("pn", "n"), ("ps", "s"), ("wr", "r")):
        if word.startswith(prefix) and len(word) > 2:
            word = repl + word[2:]
            break
    if word.startswith("x"):
        word = "z" + word[1:]
    # Final silent "e" after a consonant ("prednisone", "sertraline").
    if len(word) > 3 and word.endswith("e") and word[-2] not in _VOWEL_LETTERS | {"l", "y"}:
        word = word[:-1]
    out: list[str] = []
    n = len(word)
    i = 0

    def emit(sym: str) -> None:
        if not out or out[-1] != sym:
            out.append(sym)

    while i < n:
        ch = word[i]
        nxt = word[i + 1] if i + 1 < n else ""
        nxt2 = word[i + 2] if i + 2 < n else ""
        if _is_vowel(word, i):
            emit(VOWEL)
            i += 1
            continue
        two = ch + nxt
        three = two + nxt2
        if three == "sch":
            emit("X")
            i += 3
        elif three == "tch":
            emit("C")
            i += 3
        elif three in ("tio", "tia", "sio") and i > 0:
            emit("X")
            i += 2
        elif two == "ch":
            emit("K" if nxt2 in ("r", "l") or (i > 0 and word[i - 1] == "s") else "C")
            i += 2
        elif two in ("sh", "sz"):
            emit("X")
            i += 2
        elif two in ("zh", "dg", "dj"):
            emit("J")
            i += 2
        elif two == "cz":
            emit("C")
            i += 2
        elif two == "rz":
            emit("X")
            i += 2
        elif two == "ph":
            emit("F")
            i += 2
        elif two == "th":
            emit("0")
            i += 2
        elif two == "gh":
            if i == 0:
                emit("G")
            i += 2
        elif two == "ck":
            emit("K")
            i += 2
        elif two == "qu":
            emit("K")
            emit("W")
            i += 2
        elif ch == "q":
            emit("K")
            i += 1
        elif ch == "x":
            emit("K")
            out.append("S")
            i += 1
        elif ch == "c":
            emit("S" if nxt in ("e", "i", "y") else "K")
            i += 1
        elif ch == "g":
            emit("J" if nxt in ("e", "i", "y") and i > 0 else "G")
            i += 1
        elif ch == "w":
            if nxt and _is_vowel(word, i + 1):
                emit("W")
            else:
                emit(VOWEL)
            i += 1
        elif ch == "y":
            emit("Y")
            i += 1
        elif ch == "h":
            prev_vowel = i == 0 or _is_vowel(word, i - 1)
            if prev_vowel and nxt and _is_vowel(word, i + 1):
                emit("H")
            i += 1
        elif ch == "j":
            emit("J")
            i += 1
        else:
            emit(ch.upper())
            i += 1
    return "".join(out)


# --- weighted distance ----------------------------------------------------------------------

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


def letter_similarity(a: str, b: str) -> float:
    """Plain Levenshtein similarity 0..1 of two spellings."""
    if a == b:
        return 1.0
    if not a or not b:
        return 0.0
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return 1.0 - prev[-1] / max(len(a), len(b))


def jaro_winkler(a: str, b: str) -> float:
    """Jaro-Winkler similarity 0..1 of two spellings (rewards a shared beginning)."""
    if a == b:
        return 1.0
    la, lb = len(a), len(b)
    if not la or not lb:
        return 0.0
    window = max(0, max(la, lb) // 2 - 1)
    used = [False] * lb
    matches_a = []
    for i, ch in enumerate(a):
        lo, hi = max(0, i - window), min(lb, i + window + 1)
        for j in range(lo, hi):
            if not used[j] and b[j] == ch:
                used[j] = True
                matches_a.append(ch)
                break
    m = len(matches_a)
    if not m:
        return 0.0
    matches_b = [b[j] for j in range(lb) if used[j]]
    transpositions = sum(x != y for x, y in zip(matches_a, matches_b, strict=True)) / 2
    jaro = (m / la + m / lb + (m - transpositions) / m) / 3
    prefix = 0
    for x, y in zip(a[:4], b[:4], strict=False):
        if x != y:
            break
        prefix += 1
    return jaro + prefix * 0.1 * (1 - jaro)


def skeleton(key: str) -> str:
    """The consonant classes of a key, coarse enough that sound-alike keys share bigrams."""
    coarse = {
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
    out: list[str] = []
    for sym in key:
        mapped = coarse.get(sym, sym)
        if mapped and (not out or out[-1] != mapped):
            out.append(mapped)
    return "".join(out)
