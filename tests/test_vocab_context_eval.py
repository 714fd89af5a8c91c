"""The conversation-context evaluation set and its scoring (no audio, no Whisper)."""

from __future__ import annotations

import hashlib
import importlib.util
import random
import re
from collections import Counter
from pathlib import Path

import pytest

from benchmarks.vocab_context import (
    CONTEXT_SET,
    FROZEN_SHA256,
    ContextRow,
    load_set,
    score_row,
    summarize,
)
from vocabulary import ConversationContext, find_terms

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "make_context_set.py"


@pytest.fixture(scope="module")
def rows() -> list[ContextRow]:
    return load_set()


@pytest.fixture(scope="module")
def generator():
    spec = importlib.util.spec_from_file_location("make_context_set", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_set_is_the_frozen_file(rows, tmp_path):
    assert hashlib.sha256(CONTEXT_SET.read_bytes()).hexdigest() == FROZEN_SHA256
    counts = Counter((r.split, r.kind) for r in rows)
    assert set(counts) == {
        (s, k) for s in ("tuning", "heldout") for k in ("pick", "ask", "other", "none")
    }
    assert all(12 <= n <= 18 for n in counts.values())
    assert len({r.id for r in rows}) == len(rows)
    edited = tmp_path / "edited.tsv"
    edited.write_bytes(CONTEXT_SET.read_bytes().replace(b"works for me", b"suits me"))
    with pytest.raises(ValueError, match="sha256"):
        load_set(edited)


def test_splits_share_no_terms(rows, lexicon):
    used = {"tuning": set(), "heldout": set()}
    for r in rows:
        offered = ConversationContext.from_bot_text(r.bot, lexicon).offered
        used[r.split] |= set(r.terms) | set(offered)
    assert used["tuning"] and used["heldout"]
    assert not used["tuning"] & used["heldout"]


def _pattern(template: str) -> re.Pattern:
    escaped = re.escape(template)
    for slot in ("x", "names", "names_and", "names_days"):
        escaped = escaped.replace(re.escape("{" + slot + "}"), ".+")
    return re.compile(escaped)


def test_splits_share_no_templates_and_rows_use_their_own(rows, generator):
    templates = generator.split_templates(random.Random(generator.SEED + 1))
    texts = generator.all_template_texts(templates)
    assert texts["tuning"] and texts["heldout"]
    assert not texts["tuning"] & texts["heldout"]
    for r in rows:
        own = templates[r.split]
        bots = [_pattern(t) for style in ("offer", "ask") for v in own[style].values() for t in v]
        answers = [_pattern(a[0]) for a in own["caller"][r.kind]]
        assert any(p.fullmatch(r.bot) for p in bots), r.id
        assert any(p.fullmatch(r.text) for p in answers), r.id


def test_kinds_relate_answer_to_bot_line(rows, lexicon):
    for r in rows:
        context = ConversationContext.from_bot_text(r.bot, lexicon)
        assert find_terms(r.text, lexicon) == list(r.terms), r.id
        if r.kind == "pick":
            assert len(r.terms) == 1 and r.terms[0] in context.offered, r.id
            assert 2 <= len(context.offered) <= 3, r.id
        elif r.kind == "other":
            assert len(r.terms) == 1 and r.terms[0] not in context.offered, r.id
            assert 2 <= len(context.offered) <= 3, r.id
        elif r.kind == "ask":
            assert len(r.terms) == 1 and not context.offered, r.id
        else:
            assert r.terms == (), r.id


BOT = "I have Doctor Kowalczyk on Tuesday or Doctor Abernathy on Friday. Which works?"


def test_scoring_counts_right_invented_and_offered_not_said(lexicon):
    pick = ContextRow("p1", "tuning", "pick", BOT, "Kowalczyk works for me.", ("Dr. Kowalczyk",))
    none = ContextRow("n1", "tuning", "none", BOT, "Whichever is sooner.", ())
    cases = [
        score_row(pick, "Kowalczyk works for me.", lexicon),  # right
        score_row(pick, "Abernathy works for me.", lexicon),  # missed; an offered one invented
        score_row(none, "Abernathy, please, and my metformin.", lexicon),  # two invented
        score_row(none, "Whichever is sooner.", lexicon),  # nothing
    ]
    assert cases[0]["offered"] == ["Dr. Kowalczyk", "Dr. Abernathy"]
    assert cases[0]["plain"]["found"] == ["Dr. Kowalczyk"]
    assert cases[1]["plain"]["offered_not_said"] == ["Dr. Abernathy"]
    assert cases[2]["context"]["invented"] == ["Dr. Abernathy", "metformin"]
    assert cases[2]["context"]["offered_not_said"] == ["Dr. Abernathy"]
    summary = summarize(cases)
    assert summary["utterances"] == 4 and summary["terms_said"] == 2
    for arm in ("stt", "plain", "context"):  # terms spelled right: every arm agrees
        s = summary[arm]
        assert (s["terms_right"], s["term_accuracy"]) == (1, 0.5)
        assert (s["invented"], s["invented_per_utterance"]) == (3, 0.75)
        assert (s["utterances_with_invented"], s["offered_not_said"]) == (2, 2)
        lo, hi = s["term_accuracy_ci95"]
        assert lo < 0.5 < hi
