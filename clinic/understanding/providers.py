"""Provider names (fuzzy, tolerant of speech-to-text errors) and specialties in free speech."""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from clinic.understanding.text import WEEKDAY_ALIASES, normalize

_TITLE_RE = re.compile(r"^(?:doctor|dr|doc)\b\.?\s*", re.IGNORECASE)

# Words that are never a provider's name (for fuzzy matching of free speech).
_STOPWORDS = frozenset(
    """
    a an the i i'd i'm id im me my mine we our you your he she they them it it's its this that
    these those to of for on at in into by with from about as and or but not no yes yeah yep
    sure ok okay please thanks thank hi hello hey bye good morning afternoon evening day days
    today tomorrow week next this last first second third one two three four five six seven
    eight nine ten eleven twelve am pm like would want need see book booking appointment
    appointments schedule make set up get can could will would should may might do does did
    doctor doctors dr provider providers specialist someone somebody anyone anybody any some
    visit check checkup time times slot slots open available earliest latest soon possible
    is are was were be been have has had there here what which who when where how why
    cancel cancelled reschedule move change actually instead rather then also just only
    monday tuesday wednesday thursday friday saturday sunday noon o'clock oclock thirty
    fifteen half past quarter around about after before early late later earlier other
    another else more less dermatologist cardiologist new patient name called named
    """.split()
)


@dataclass(frozen=True)
class ProviderMatch:
    """Result of matching a provider name in free text.

    Attributes:
        name: The provider (as spelled in the directory) when the match is confident.
        suggestions: Close names when the match is not confident (best first).
        heard: The name-like word the caller used ("Zzyzx") when no confident match was found.
    """

    name: str | None = None
    suggestions: tuple[str, ...] = field(default_factory=tuple)
    heard: str | None = None


def provider_key(name: str) -> str:
    """Comparison key of a provider name: no title, no punctuation, no spaces, lowercase."""
    t = _TITLE_RE.sub("", str(name).strip())
    t = re.sub(r"^(?:doctor|dr|doc)\b\.?\s*", "", t.lower().strip())
    return re.sub(r"[^a-z0-9]", "", t)


def _similar(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b).ratio()


def match_provider(text: str, provider_names: Sequence[str]) -> ProviderMatch:
    """Find the provider the caller named, tolerating titles, case and small STT errors.

    Words right after "doctor"/"Dr." are matched fuzzily (difflib): a close and unambiguous
    match is accepted, a weaker one becomes a suggestion, and an unknown name is reported in
    ``heard``. Elsewhere in the sentence only exact surnames (or very close long ones) count,
    so ordinary words never turn into doctors.
    """
    keys: dict[str, str] = {}
    for name in provider_names:
        key = provider_key(name)
        if key:
            keys.setdefault(key, name)
    if not keys:
        return ProviderMatch()
    tokens = [re.sub(r"'s$", "", tok) for tok in normalize(text).split()]

    def score(candidate: str) -> list[tuple[float, str]]:
        scored = [(_similar(candidate, k), k) for k in keys]
        scored.sort(key=lambda item: (-item[0], item[1]))
        return scored

    # 1. Exact surnames anywhere (also two words joined: "rama swamy" -> "ramaswamy").
    for i, tok in enumerate(tokens):
        if tok in keys and tok not in _STOPWORDS:
            return ProviderMatch(name=keys[tok])
        if i + 1 < len(tokens):
            joined = tok + tokens[i + 1]
            if joined in keys:
                return ProviderMatch(name=keys[joined])
        if i + 2 < len(tokens):
            joined3 = tok + tokens[i + 1] + tokens[i + 2]
            if joined3 in keys:
                return ProviderMatch(name=keys[joined3])

    # 2. Fuzzy: the word(s) after a title.
    for i, tok in enumerate(tokens):
        if tok not in ("doctor", "doc") or i + 1 >= len(tokens):
            continue
        first = tokens[i + 1]
        if first in _STOPWORDS or WEEKDAY_ALIASES.get(first) is not None or first.isdigit():
            continue
        options = [first]
        if i + 2 < len(tokens) and tokens[i + 2] not in _STOPWORDS:
            options.append(first + tokens[i + 2])
        best: list[tuple[float, str]] = []
        for option in options:
            scored = score(option)
            if not best or scored[0][0] > best[0][0]:
                best = scored
        top_score, top_key = best[0]
        second_score = best[1][0] if len(best) > 1 else 0.0
        if top_score >= 0.8 and top_score - second_score >= 0.06:
            return ProviderMatch(name=keys[top_key])
        suggestions = tuple(keys[k] for s, k in best[:3] if s >= 0.6)
        return ProviderMatch(suggestions=suggestions, heard=first)

    # 3. Very close long words anywhere ("patell", "nakashimo").
    for tok in tokens:
        if len(tok) < 5 or tok in _STOPWORDS:
            continue
        scored = score(tok)
        top_score, top_key = scored[0]
        second_score = scored[1][0] if len(scored) > 1 else 0.0
        if top_score >= 0.88 and top_score - second_score >= 0.06:
            return ProviderMatch(name=keys[top_key])
    return ProviderMatch()


# Lay and professional names of each specialty (keys are lowercase vocabulary specialties).
_SPECIALTY_ALIASES: dict[str, tuple[str, ...]] = {
    "ent": (
        "ent",
        "e n t",
        "ear nose and throat",
        "ear nose throat",
        "otolaryngolog",
        "ear doctor",
    ),
    "cardiology": ("cardiolog", "heart"),
    "dermatology": ("dermatolog", "skin", "derm", "rash", "acne", "mole"),
    "endocrinology": ("endocrin", "thyroid", "diabetes", "hormone"),
    "gastroenterology": ("gastroenterolog", "gastro", "stomach", "digestive", "gi doctor"),
    "ob-gyn": (
        "ob-gyn",
        "ob gyn",
        "obgyn",
        "o b g y n",
        "gynecolog",
        "gynaecolog",
        "obstetric",
        "gyno",
        "women's health",
        "pregnan",
    ),
    "orthopedics": ("orthoped", "orthopaed", "ortho", "bone", "joint", "knee", "hip", "fracture"),
    "podiatry": ("podiatr", "foot", "feet", "ankle"),
    "rheumatology": ("rheumatolog", "rheumat", "arthritis", "lupus"),
    "nephrology": ("nephrolog", "kidney", "renal"),
    "pulmonology": ("pulmonolog", "pulmonar", "lung", "breathing", "asthma"),
    "urology": ("urolog", "bladder", "prostate", "urinary"),
    "ophthalmology": ("ophthalmolog", "opthalmolog", "ophthalmic", "eye", "vision"),
    "oncology": ("oncolog", "cancer", "tumor"),
    "neurology": ("neurolog", "brain", "migraine", "seizure"),
    "psychiatry": ("psychiatr", "mental health", "depression", "anxiety", "psych"),
    "pediatrics": (
        "pediatr",
        "paediatr",
        "child",
        "children",
        "kid",
        "kids",
        "baby",
        "son",
        "daughter",
    ),
    "allergist": ("allerg",),
    "audiology": ("audiolog", "hearing"),
    "physical therapy": ("physical therap", "physiotherap", "physio", "pt", "rehab"),
}
_WHOLE_WORD_ALIASES = frozenset(
    {
        "ent",
        "e n t",
        "pt",
        "son",
        "kid",
        "kids",
        "eye",
        "hip",
        "mole",
        "rash",
        "derm",
        "gi doctor",
        "ortho",
        "psych",
        "gyno",
        "baby",
        "heart",
        "lung",
        "foot",
        "bone",
        "skin",
        "child",
        "brain",
    }
)


def _specialty_patterns(specialty: str) -> list[str]:
    key = specialty.lower()
    aliases = list(_SPECIALTY_ALIASES.get(key, ()))
    base = re.sub(r"[^a-z ]", " ", key).strip()
    if base:
        aliases.append(base)
        # generic stems: "neurology" -> "neurolog", "pediatrics" -> "pediatri"
        for suffix in ("ology", "ics", "ry", "y"):
            if base.endswith(suffix) and len(base) - len(suffix) >= 4:
                aliases.append(base[: len(base) - len(suffix) + (3 if suffix == "ology" else 0)])
                break
    return aliases


def match_specialty(text: str, specialties: Sequence[str]) -> str | None:
    """The specialty (as spelled in ``specialties``) the caller asks for, or None.

    Understands the specialty itself, its practitioner ("dermatologist", "pediatrician") and
    lay terms ("skin doctor", "heart", "eye doctor").
    """
    t = " " + normalize(text).replace("-", " ") + " "
    best: tuple[int, int, str] | None = None  # (alias length, -position, specialty)
    for specialty in specialties:
        for alias in _specialty_patterns(specialty):
            alias_norm = alias.replace("-", " ")
            full_word = len(alias_norm) <= 3 or alias_norm in _WHOLE_WORD_ALIASES
            pattern = rf"\b{re.escape(alias_norm)}" + (r"s?\b" if full_word else "")
            m = re.search(pattern, t)
            if m is None:
                continue
            rank = (len(alias_norm), -m.start(), specialty)
            if best is None or rank[:2] > best[:2]:
                best = rank
    return best[2] if best else None
