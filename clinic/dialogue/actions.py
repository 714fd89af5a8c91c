"""What the local brain returns: say something, or call a tool first."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Say:
    """Speak ``text`` to the caller."""

    text: str


@dataclass(frozen=True)
class CallTool:
    """Call the tool ``name`` with ``arguments``."""

    name: str
    arguments: dict[str, Any] = field(default_factory=dict)
