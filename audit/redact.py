"""Redact phone numbers, dates of birth and e-mail addresses from exported audit text.

Redaction is for exports only: the audit store keeps the full record (its hash
covers it). Hashes, ids and timestamps are never touched.
"""

from __future__ import annotations

import re
from typing import Any

PHONE_TOKEN = "[PHONE]"
DOB_TOKEN = "[DOB]"
EMAIL_TOKEN = "[EMAIL]"

_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# "john dot smith at example dot com", as speech-to-text writes a spoken address.
_SPOKEN_EMAIL = re.compile(
    r"\b[\w]+(?:\s+(?:dot|period)\s+[\w]+)*\s+at\s+[A-Za-z0-9-]+"
    r"(?:\s+dot\s+[A-Za-z0-9-]+)*\s+dot\s+(?:com|org|net|edu|gov|io|co|uk|us|ca|info)\b",
    re.IGNORECASE,
)
_PHONE = re.compile(
    r"(?<![\w+])"
    r"(?:"
    r"\+\d{1,3}[\s.-]?(?:\(\d{1,4}\)[\s.-]?)?\d{1,4}(?:[\s.-]?\d{2,4}){2,4}"  # +44 20 7946 0958
    r"|(?:\(\d{3}\)\s?|\d{3}[\s.-])\d{3}[\s.-]\d{4}"  # (555) 123-4567, 555-123-4567
    r"|\d{10,11}"  # 5551234567
    r"|\d{3}[\s.-]\d{4}"  # 555-1234
    r")"
    r"(?!\w)"
)
_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?"
    r"|sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_DAY = r"(?:[0-3]?\d)(?:st|nd|rd|th)?"
_YEAR = r"(?:1[89]\d\d|20\d\d)"
_DATE = re.compile(
    r"\b(?:"
    rf"{_YEAR}-[01]?\d-[0-3]?\d"  # 1985-03-07
    r"|[0-3]?\d[/.-][0-3]?\d[/.-](?:\d{4}|\d{2})"  # 03/07/1985, 7.3.85
    rf"|{_MONTH}\s+{_DAY},?\s+{_YEAR}"  # March 7th, 1985
    rf"|{_DAY}\s+(?:of\s+)?{_MONTH},?\s+{_YEAR}"  # 7 March 1985, 7th of March 1985
    r")(?!\w)",
    re.IGNORECASE,
)
# After "born" / "date of birth" / "DOB", a date without a year is a birth date too.
_DOB_CONTEXT = re.compile(
    r"\b(?P<lead>(?:born(?:\s+on)?|date\s+of\s+birth(?:\s+is)?|d\.?o\.?b\.?(?:\s+is)?)[:\s]+)"
    rf"(?P<date>{_MONTH}\s+{_DAY}|{_DAY}\s+(?:of\s+)?{_MONTH}|[0-3]?\d[/.-][0-3]?\d)(?!\w)",
    re.IGNORECASE,
)

# Keys whose values are never redacted: hashes, ids, timestamps, names of things.
_KEEP_KEYS = frozenset(
    {
        "seq",
        "ts",
        "kind",
        "session_id",
        "hash",
        "prev_hash",
        "variant",
        "config_hash",
        "providers",
        "timestamps",
        "latency_ms",
        "status",
        "name",
        "tool_call_id",
        "since",
        "until",
        "reason",
    }
)
_KEEP_SUFFIXES = ("_sha256", "_hash", "_at", "_id", "_ms")


def redact_text(text: str) -> str:
    """Replace e-mails, phone numbers and birth dates in a piece of text.

    Args:
        text: Free text (a transcript, a tool argument...).

    Returns:
        The text with ``[EMAIL]``, ``[PHONE]`` and ``[DOB]`` in their place.
    """
    text = _EMAIL.sub(EMAIL_TOKEN, text)
    text = _SPOKEN_EMAIL.sub(EMAIL_TOKEN, text)
    text = _DATE.sub(DOB_TOKEN, text)
    text = _DOB_CONTEXT.sub(lambda m: m.group("lead") + DOB_TOKEN, text)
    text = _PHONE.sub(PHONE_TOKEN, text)
    return text


def _keep(key: str) -> bool:
    return key in _KEEP_KEYS or key.endswith(_KEEP_SUFFIXES)


def redact_value(value: Any) -> Any:
    """Redact every free-text string inside a JSON value (keys kept as they are).

    Strings under hash, id, timestamp and similar keys are left alone.
    """
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {k: (v if _keep(str(k)) else redact_value(v)) for k, v in value.items()}
    if isinstance(value, list):
        return [redact_value(v) for v in value]
    return value


def redact_record(record: dict[str, Any]) -> dict[str, Any]:
    """A copy of an exported record (``StoredRecord.to_dict()``) with its body redacted."""
    out = dict(record)
    if isinstance(out.get("body"), dict):
        out["body"] = redact_value(out["body"])
    return out
