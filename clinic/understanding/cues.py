"""Cues in what a caller said: red flags, complaints, call-back and insurance words, frustration.

Safety does not depend on the meaning classifier alone: :func:`red_flag` matches red-flag
symptom phrases (chest pain, can't breathe, unresponsive, stroke signs, suicidal thoughts, severe
bleeding), and either signal triggers the emergency answer. Also here: lay complaint words to a
specialty (:func:`complaint_specialty`) and the text cue of frustration
(:func:`frustration_score`, VADER's lexicon).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path

COMPLAINTS_PATH = Path(__file__).resolve().parents[1] / "data" / "complaints.json"

# Red-flag phrases, by the usual emergency categories (breathing, consciousness, heart, stroke,
# seizure, severe bleeding, poisoning or overdose, anaphylaxis, suicide or self-harm); matched on
# normalized text, any one is enough (high recall by design).
_SELF_HARM_WORDS = (
    r"suicid\w*|kill (?:myself|himself|herself)|end(?:ing)? (?:my|his|her) (?:own )?life|"
    r"take (?:my|his|her) own life|end it all|better off dead|"
    r"(?:don'?t|do not) want to (?:be alive|live|be here)|want to die|"
    r"hurt(?:ing)? (?:myself|himself|herself)|self ?harm"
)
_SELF_HARM = re.compile(rf"\b(?:{_SELF_HARM_WORDS})\b")
_RED_FLAGS = re.compile(
    r"\b(?:"
    # breathing
    r"can'?t (?:breathe|breath|catch (?:my|his|her) breath)|cannot breathe|not breathing|"
    r"stopped breathing|struggling to breathe|gasping|turning blue|(?:lips|face) (?:are |is )?"
    r"(?:turning )?blue|choking|"
    # consciousness
    r"un ?responsive|unconscious|not responding|won'?t wake up|can'?t wake (?:him|her|them)|"
    r"passed out|collapsed|fainted|"
    # heart
    r"chest (?:pain|pains|hurts|tightness|pressure)|heart attack|"
    # stroke
    r"stroke|face (?:is )?(?:drooping|numb)|slurred|numb on one side|"
    r"can'?t (?:move|lift|feel) (?:my|his|her) (?:arm|leg|face)|"
    # seizure
    r"seizure|seizing|convulsing|fitting|"
    # bleeding
    r"(?:bleeding|blood) (?:a lot|heavily|badly|everywhere|won'?t stop|that won'?t stop)|"
    r"blood everywhere|bleeding out|severe bleeding|"
    # poisoning, overdose
    r"overdos\w*|too many (?:pills|tablets)|took (?:way )?too (?:much|many)|"
    r"swallowed (?:a |the |some |his |her |my )?(?:whole )?(?:bottle of |pack of )?"
    r"(?:pills|tablets|poison|bleach|chemicals|medicine|medication|battery|batteries)|"
    r"poisoned|"
    # anaphylaxis
    r"throat (?:is )?(?:closing|swelling)|can'?t swallow|"
    # suicide, self-harm
    rf"{_SELF_HARM_WORDS}"
    r")\b"
)


_CALLBACK_CUE = re.compile(
    r"\b(?:(?:call|phone|ring) (?:me|us|him|her)(?: back)?|call ?back|"
    r"give (?:me|us) a (?:call|ring)|get back to me)\b"
)
_INSURANCE_WORDS = re.compile(
    r"\b(?:insurance|insurer|coverage|covered|copay|co-pay|in network|out of network|"
    r"medicare|medicaid|hmo|ppo)\b"
)
_PROVIDER_QUESTION = re.compile(
    r"^(?:(?:so|and|um|uh|hi|hey|also)\s+)*(?:does|do|is|can|will|would) (?:doctor|dr)\b"
)
_AVAILABILITY = re.compile(
    r"\b(?:available|availability|free|open|opening|openings|time|anything|slots?|"
    r"appointments? (?:on|this|next|tomorrow)|see me|fit me in|book)\b"
)


def asks_callback(normalized_text: str) -> bool:
    """Whether the words ask to be called back ("have someone call me", "give me a ring")."""
    return bool(_CALLBACK_CUE.search(normalized_text))


def mentions_insurance(normalized_text: str, plans: list[str]) -> bool:
    """Insurance words, or a plan the clinic lists (each name's distinctive words)."""
    if _INSURANCE_WORDS.search(normalized_text):
        return True
    words = {w for plan in plans for w in re.findall(r"[a-z]{4,}", plan.lower())}
    words -= {"blue", "cross", "shield", "care", "health"}  # too common alone
    return any(re.search(rf"\b{re.escape(w)}\b", normalized_text) for w in words)


def provider_question(normalized_text: str) -> bool:
    """A yes/no question about a provider that is not about their openings.

    "Does Doctor Lee speak Korean?" or "Is Doctor Lee taking video visits?" ask for a fact;
    "Does Doctor Lee have time Monday?" asks for openings.
    """
    return bool(_PROVIDER_QUESTION.search(normalized_text)) and not _AVAILABILITY.search(
        normalized_text
    )


def self_harm(normalized_text: str) -> bool:
    """Whether the (normalized) words speak of suicide or self-harm (one group of red flags)."""
    return bool(_SELF_HARM.search(normalized_text))


def red_flag(normalized_text: str) -> bool:
    """Whether the (normalized) words name a red-flag symptom."""
    return bool(_RED_FLAGS.search(normalized_text))


@lru_cache(maxsize=1)
def _complaint_patterns() -> list[tuple[str, re.Pattern]]:
    data = json.loads(COMPLAINTS_PATH.read_text(encoding="utf-8"))
    out = []
    for specialty, words in data.items():
        if specialty.startswith("_"):
            continue
        alternatives = "|".join(re.escape(w.lower()) for w in sorted(words, key=len, reverse=True))
        out.append((specialty, re.compile(rf"\b(?:{alternatives})s?\b")))
    return out


def complaint_specialty(normalized_text: str, specialties: list[str]) -> str | None:
    """The specialty a lay complaint points to ("my knee is swollen" → orthopedics).

    A specific body part or complaint wins over a child being mentioned (a child's earache is
    ENT); pediatrics only when nothing more specific was said. Only specialties the clinic has.
    """
    have = {s.lower(): s for s in specialties}
    found: list[tuple[int, str]] = []
    for specialty, pattern in _complaint_patterns():
        if specialty.lower() not in have:
            continue
        m = pattern.search(normalized_text)
        if m:
            found.append((m.start(), have[specialty.lower()]))
    specific = [f for f in found if f[1].lower() != "pediatrics"]
    chosen = min(specific or found, default=None)
    return chosen[1] if chosen else None


@lru_cache(maxsize=1)
def _vader():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def frustration_score(text: str) -> float:
    """VADER's negative compound score of ``text`` as 0..1 (0 = not negative at all)."""
    return max(0.0, -float(_vader().polarity_scores(text)["compound"]))
