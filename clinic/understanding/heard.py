"""Everything understood in one caller utterance, in one pure call.

The dialogue policy replays the whole transcript on every turn; :func:`understand` is what it
runs (and caches) per utterance: the rule-based parsers, the meaning classifier and the cues.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, time

from clinic.understanding.care_words import find_medication
from clinic.understanding.choices import asks_for_more, parse_yes_no, says_anyone
from clinic.understanding.cues import (
    asks_callback,
    complaint_specialty,
    frustration_score,
    mentions_insurance,
    provider_question,
    red_flag,
)
from clinic.understanding.intent import Intent, detect_intent, extract_reason
from clinic.understanding.meaning import Meaning
from clinic.understanding.providers import ProviderMatch, match_provider, match_specialty
from clinic.understanding.text import normalize
from clinic.understanding.when import parse_day, parse_part_of_day, parse_time

_EARLIEST_RE = re.compile(
    r"\b(?:earliest|soonest|first available|next available|as soon as possible|asap|"
    r"whoever|who ?ever|anybody|anyone|any doctor|any provider|any of the doctors|"
    r"first thing|any openings?|anything)\b"
)


@dataclass(frozen=True)
class Heard:
    """Everything understood in one user utterance."""

    text: str
    raw: str
    intent: Intent
    meaning: Meaning
    emergency: bool
    medication: str | None
    complaint: str | None
    frustration: float
    earliest: bool
    callback: bool
    insurance: bool
    provider_question: bool
    provider: ProviderMatch
    specialty: str | None
    day: date | None
    part: str | None
    time: time | None
    yes_no: bool | None
    more: bool
    anyone: bool
    reason: str | None

    @property
    def names_whom(self) -> bool:
        """A provider (even one the clinic does not have) or a specialty was named."""
        return bool(self.provider.name or self.provider.heard or self.specialty)


def understand(
    text: str,
    *,
    classify: Callable[[str], Meaning],
    today: date,
    provider_names: Sequence[str],
    specialties: list[str],
    medications: list[str],
    plans: list[str],
) -> Heard:
    """Parse one utterance against the clinic's providers, specialties, medications and plans.

    Args:
        text: What the caller said (speech-to-text output).
        classify: The meaning classifier (called only when there are words).
        today: The clinic-local date (resolves "tuesday").
        provider_names: Every bookable provider, as the directory spells them.
        specialties: Every specialty offered.
        medications: The vocabulary's medication names.
        plans: The insurance plans the clinic lists.
    """
    norm = normalize(text)
    return Heard(
        text=norm,
        raw=str(text),
        intent=detect_intent(text),
        meaning=classify(text) if norm else Meaning(None, 0.0),
        emergency=red_flag(norm),
        medication=find_medication(text, medications),
        complaint=complaint_specialty(norm, specialties),
        frustration=frustration_score(text) if norm else 0.0,
        earliest=bool(_EARLIEST_RE.search(norm)) or says_anyone(text),
        callback=asks_callback(norm),
        insurance=mentions_insurance(norm, plans),
        provider_question=provider_question(norm),
        provider=match_provider(text, provider_names),
        specialty=match_specialty(text, specialties),
        day=parse_day(text, today),
        part=parse_part_of_day(text),
        time=parse_time(text),
        yes_no=parse_yes_no(text),
        more=asks_for_more(text),
        anyone=says_anyone(text),
        reason=extract_reason(text),
    )
