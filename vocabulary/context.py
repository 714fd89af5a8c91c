"""What the conversation just said, as the corrector uses it: names offered, a kind asked for.

A caller who answers "Kowalczyk, please." to "I have Doctor Kowalczyk or Doctor Patel on
Tuesday" says a name with no title or cue before it, so the corrector, which matches a
provider only after a title, leaves whatever Whisper heard. The bot's own last line says
which terms the answer is likely to hold. :class:`ConversationContext` carries that:

- ``offered``: the canonical terms the bot's last line named (found literally, with
  :func:`vocabulary.find_terms`, so nothing is guessed);
- ``expected``: the categories the line asked for by name ("which medication …", "which
  doctor …") without offering a term of them: after an offer the answer is most likely
  one of the offered terms, and opening the whole category then cost more right picks
  than it won (tuning split of the context set, ``docs/vocabulary.md``).

:func:`vocabulary.correct` takes it as ``context``: an offered term, and any term of an
expected category in a run of unusual words, count as cued wherever they are in the
answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from vocabulary.correction import find_terms
from vocabulary.lexicon import Lexicon

# Words that ask for a category, by the vocabulary's category names.
CATEGORY_WORDS = {
    "provider": ("doctor", "doctors", "provider", "providers", "physician", "who would you"),
    "medication": ("medication", "medications", "medicine", "prescription", "refill", "drug"),
    "specialty": ("specialty", "specialist", "department", "kind of doctor"),
    "procedure": ("procedure", "test", "scan", "exam"),
}


@dataclass(frozen=True)
class ConversationContext:
    """The terms the bot just named and the categories it asked for.

    Attributes:
        offered: Canonical terms named in the bot's last line, in order.
        expected: Categories the bot's last line asked for without offering a term of them.
    """

    offered: tuple[str, ...] = ()
    expected: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def from_bot_text(cls, text: str | None, lexicon: Lexicon) -> ConversationContext:
        """The context a bot line sets for the caller's answer (empty for no line)."""
        if not text:
            return cls()
        offers = cls(tuple(find_terms(text, lexicon)))
        named = offers.offered_categories(lexicon)
        lowered = text.lower()
        expected = {
            category
            for category in lexicon.categories
            if category not in named
            and any(re.search(rf"\b{w}\b", lowered) for w in CATEGORY_WORDS.get(category, ()))
        }
        return cls(offers.offered, frozenset(expected))

    def forms(self, lexicon: Lexicon) -> frozenset[int]:
        """The lexicon's form indices of the offered terms."""
        by_term = lexicon.forms_by_term
        return frozenset(fid for term in self.offered for fid in by_term.get(term.lower(), ()))

    def offered_categories(self, lexicon: Lexicon) -> frozenset[str]:
        """The categories of the offered terms."""
        return frozenset(
            lexicon.terms[lexicon.forms[fid].term].category for fid in self.forms(lexicon)
        )

    def offers(self) -> ConversationContext:
        """The offered terms alone (what a biased STT pass may take as hotwords)."""
        return ConversationContext(self.offered)

    def __bool__(self) -> bool:
        """Whether the line set any context at all."""
        return bool(self.offered or self.expected)
