"""Logging set-up: conversation content and secrets never reach a log line.

Transcripts, LLM text and tool arguments belong in the audit store. Pipecat's own DEBUG lines
quote them (``Transcription: [...]``, ``Generating TTS [...]``), so a filter replaces the
quoted content with its length, and anything shaped like an API key is masked.
"""

from __future__ import annotations

import re
import sys

from loguru import logger

# Pipecat log lines that quote what was said, and the part that holds it.
CONTENT_PATTERNS = [
    re.compile(r"(Transcription: )\[(.*)\]", re.S),
    re.compile(r"(Generating TTS )\[(.*)\]", re.S),
    re.compile(r"(Finished TTS )\[(.*)\]", re.S),
    re.compile(r"(TTS request: \S+ - )(.*)", re.S),
    re.compile(r"(Generating LLM response|Setting up LLM conversation)(.*)", re.S),
    re.compile(r"(with arguments:? )(.*)", re.S),
]
SECRET_PATTERN = re.compile(
    r"\b(sk-[A-Za-z0-9_\-]{8,}|dg-[A-Za-z0-9_\-]{8,}|AIza[0-9A-Za-z_\-]{20,}|"
    r"(?:api[_-]?key|token|authorization)[\"']?\s*[:=]\s*[\"']?(?:Bearer\s+)?[A-Za-z0-9_\-\.]{8,})",
    re.I,
)


def scrub(message: str) -> str:
    """Replace quoted conversation content with its length and mask key-shaped strings."""
    for pattern in CONTENT_PATTERNS:
        message = pattern.sub(
            lambda m: f"{m.group(1)}[<{len(m.group(2))} chars redacted>]", message
        )
    return SECRET_PATTERN.sub("<redacted>", message)


def _patch(record) -> None:
    record["message"] = scrub(record["message"])


def configure(verbose: bool = False) -> None:
    """Send scrubbed logs to stderr (DEBUG when ``verbose``, else INFO)."""
    logger.remove()
    logger.configure(patcher=_patch)
    # Resolve sys.stderr at each write, so redirections (and test capture) are honoured.
    logger.add(lambda line: sys.stderr.write(line), level="DEBUG" if verbose else "INFO")
