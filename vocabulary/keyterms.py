"""Vocabulary biasing for cloud STT engines that take a term list (Deepgram ``keyterm``)."""

from __future__ import annotations

from vocabulary.lexicon import Lexicon

# Deepgram's keyterm prompting accepts a bounded prompt (about 500 tokens in total); stay
# well inside it.
DEFAULT_MAX_TERMS = 100


def keyterms(lexicon: Lexicon, *, max_terms: int = DEFAULT_MAX_TERMS) -> list[str]:
    """Terms to boost, for ``DeepgramSTTService.Settings(keyterm=...)``.

    Terms made only of ordinary words ("flu shot", "blood panel") are left out: the engine
    knows them. When more remain than ``max_terms``, categories take turns (in file order)
    so each keeps a share; the corrector after the STT covers the rest.

    Args:
        lexicon: The deployment vocabulary.
        max_terms: Most terms returned.

    Returns:
        Canonical term texts, providers as written ("Dr. Patel").
    """
    queues: dict[str, list[str]] = {}
    for term in lexicon.terms:
        words = term.forms[0].tokens
        if all(lexicon.is_common(word) for word in words):
            continue
        queues.setdefault(term.category, []).append(term.text)
    out: list[str] = []
    while len(out) < max_terms and any(queues.values()):
        for queue in queues.values():
            if queue and len(out) < max_terms:
                out.append(queue.pop(0))
    return out
