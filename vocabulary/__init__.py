"""Echo's deployment vocabulary: load it, find its terms, correct misrecognitions.

Speech recognition, which uses the vocabulary to bias Whisper, is :mod:`speech`.
"""

from vocabulary.context import ConversationContext
from vocabulary.correction import (
    DEFAULT_THRESHOLD,
    Candidate,
    Change,
    Correction,
    apply_changes,
    candidates,
    correct,
    find_terms,
)
from vocabulary.entries import SpokenForm, Term, VocabularyError
from vocabulary.keyterms import keyterms
from vocabulary.lexicon import Lexicon

__all__ = [
    "DEFAULT_THRESHOLD",
    "Candidate",
    "Change",
    "ConversationContext",
    "Correction",
    "Lexicon",
    "SpokenForm",
    "Term",
    "VocabularyError",
    "apply_changes",
    "candidates",
    "correct",
    "find_terms",
    "keyterms",
]
