"""Clinic information from the deployment's data file, never invented.

``clinic/data/clinic_info.json`` (``EchoSettings.clinic_info_path``) holds what the clinic
publishes: hours, address, visit kinds, insurance plans accepted, cancellation and late
policies, languages, who sees children, who follows up on refills and call-backs.
:func:`answer` turns one topic into a short spoken answer plus the facts it used; what the file
does not say is answered with "I don't know" and who can answer. Both the ``clinic_info`` tool
(for any LLM) and the local brain use it, so the wording of a fact lives here only.
"""

from __future__ import annotations

import json
import re
from datetime import time
from functools import lru_cache
from pathlib import Path
from typing import Any

from clinic.wording.spoken import format_time, join_words

DEFAULT_INFO = Path(__file__).resolve().parent / "data" / "clinic_info.json"
TOPICS = (
    "hours",
    "address",
    "visits",
    "insurance",
    "cancellation",
    "late",
    "languages",
    "children",
    "telehealth",
    "refills",
    "other",
)
_DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


@lru_cache(maxsize=8)
def load_info(path: str | Path = DEFAULT_INFO) -> dict[str, Any]:
    """The clinic information file as a dict (cached per path)."""
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _clock(hhmm: str) -> str:
    hour, minute = (int(x) for x in hhmm.split(":"))
    return format_time(time(hour, minute))


def _hours(info: dict, day: str | None) -> str:
    hours = info.get("hours") or {}
    if day in _DAYS:
        span = hours.get(day)
        if not span:
            return f"We're closed on {day.capitalize()}s."
        return f"On {day.capitalize()}s we're open {_clock(span[0])} to {_clock(span[1])}."
    groups: list[tuple[tuple[str, str] | None, list[str]]] = []
    for d in _DAYS:
        span = tuple(hours[d]) if hours.get(d) else None
        if groups and groups[-1][0] == span:
            groups[-1][1].append(d)
        else:
            groups.append((span, [d]))
    parts, closed = [], []
    for span, days in groups:
        name = days[0].capitalize() + (f" to {days[-1].capitalize()}" if len(days) > 1 else "")
        if span is None:
            closed += [d.capitalize() for d in days]
        else:
            parts.append(f"{name} {_clock(span[0])} to {_clock(span[1])}")
    text = f"We're open {join_words(parts)}."
    return text + (f" Closed {join_words(closed)}." if closed else "")


def _plan_match(plan: str, accepted: list[str]) -> str | None:
    key = re.sub(r"[^a-z]", "", plan.lower())
    for name in accepted:
        words = [w for w in re.split(r"\W+", name.lower()) if len(w) > 2]
        if key and (key in re.sub(r"[^a-z]", "", name.lower()) or any(w in key for w in words)):
            return name
    return None


def answer(
    topic: str,
    *,
    info: dict[str, Any],
    provider: str | None = None,
    provider_specialty: str | None = None,
    plan: str | None = None,
    day: str | None = None,
) -> dict[str, Any]:
    """One topic answered from ``info``: ``{"ok", "topic", "answer", "known"}``.

    Args:
        topic: One of :data:`TOPICS`.
        info: The clinic information (:func:`load_info`).
        provider: A provider the question is about ("Dr. Nguyen"), if any.
        provider_specialty: That provider's specialty, from the directory.
        plan: An insurance plan the caller named, if any.
        day: A weekday name, for hours on one day.
    """
    who = info.get("general_contact", "the front desk")
    known = True
    if topic == "hours":
        text = _hours(info, day)
    elif topic == "address":
        text = f"Our office is at {info['address']}." if info.get("address") else ""
        if info.get("visits"):
            text = f"{text} {info['visits'].split('.')[0]}.".strip()
    elif topic in ("visits", "telehealth"):
        text = info.get("telehealth") or info.get("visits") or ""
    elif topic == "insurance":
        accepted = list(info.get("insurance_accepted") or [])
        contact = info.get("insurance_contact", who)
        if plan:
            found = _plan_match(plan, accepted)
            text = (
                f"Yes, we accept {found}. {contact.capitalize()} can confirm your coverage."
                if found
                else f"I don't see {plan} on our list of accepted plans; {contact} can check."
            )
        else:
            named = join_words(accepted[:4])
            text = f"We accept {named} and a few others; {contact} can confirm yours."
    elif topic == "cancellation":
        text = info.get("cancellation_policy", "")
    elif topic == "late":
        text = info.get("late_policy", "")
    elif topic == "languages":
        langs = info.get("languages") or {}
        per = langs.get("providers") or {}
        if provider and provider in per:
            text = f"{_spoken(provider)} speaks {join_words(per[provider])}."
        elif provider:
            text = f"I don't have the languages {_spoken(provider)} speaks; {who} can tell you."
            known = False
        else:
            others = sorted(
                {lang for v in per.values() for lang in v} - set(langs.get("clinic", []))
            )
            text = f"Our staff speak {join_words(langs.get('clinic', ['English']))}"
            text += f", and some doctors also speak {join_words(others[:4])}." if others else "."
    elif topic == "children":
        kids = info.get("children") or {}
        specialties = [s.lower() for s in kids.get("specialties", [])]
        if provider and provider_specialty:
            if provider_specialty.lower() in specialties:
                text = f"Yes, {_spoken(provider)} in {provider_specialty} sees children."
            else:
                text = (
                    f"I don't know whether {_spoken(provider)} sees children; "
                    "our pediatrics doctors do."
                )
                known = False
        else:
            text = kids.get("note", "")
    elif topic == "refills":
        text = f"For a refill, {info.get('refill_followup', 'the care team follows up')}."
    else:
        text = ""
    if not text:
        known = False
        text = f"I'm sorry, I don't know that. {who.capitalize()} can answer it."
    return {"ok": True, "topic": topic, "answer": text, "known": known}


def _spoken(name: str) -> str:
    return re.sub(r"^Dr\.?\s+", "Doctor ", name.strip())
