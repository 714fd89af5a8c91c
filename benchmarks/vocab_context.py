"""Conversation context for the corrector: bare answers to the bot's line, with and without it.

Each row of the frozen context set (``vocabulary/data/context_utterances.tsv``, written by
``scripts/make_context_set.py``) is a bot line and the caller's answer, which names an
offered term, a term asked for, another term, or none ("Kowalczyk works for me." after
"I have Doctor Kowalczyk or Doctor Abernathy …"). The answer is synthesized with the voices
and conditions of ``benchmarks/vocab_matrix.py`` (cached WAVs under ``--work``) and
transcribed by the production STT as the cascaded pipeline runs it (the shared
``Transcriber`` from Echo's settings, biased second pass on, correction off: the pipeline
corrects in ``VocabularyCorrectionProcessor`` after the STT). Raw transcripts are cached in
``<work>/transcripts.json`` keyed by voice, condition and id, so rescoring is instant.

Three arms: ``plain`` = ``correct(raw, lexicon)`` (no context anywhere); ``text`` =
``correct(raw, lexicon, context=ConversationContext.from_bot_text(bot, lexicon))`` on the
same raw text (the corrector alone uses the context); ``context`` = the pipeline with the
context everywhere: the STT given it too (its biased pass and audio check,
``Transcriber.transcribe(..., context=...)``), then the corrector; ``stt`` is the raw text
of the context-free STT. Per split × voice × condition and per kind: terms right (the said
term is in the text, :func:`vocabulary.find_terms`) with a 95 % Wilson interval, invented
terms (found, not said) per utterance, the share of utterances with one (Wilson), and
"offered, not said": invented terms the bot's line had offered.

    .venv/bin/python benchmarks/vocab_context.py                  # tuning split
    .venv/bin/python benchmarks/vocab_context.py --split all --cache-only
    .venv/bin/python benchmarks/vocab_context.py --voices piper-a --conditions clean --limit 4
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.vocab_matrix import chosen_cells, synthesize  # noqa: E402
from vocabulary import ConversationContext, Lexicon, correct  # noqa: E402
from vocabulary.evaluation import term_outcome, wilson_interval  # noqa: E402

CONTEXT_SET = ROOT / "vocabulary" / "data" / "context_utterances.tsv"
FROZEN_SHA256 = "8084a53e09b0b546946d68d507dbbecae24cc9ca8185b1870c70918ac79ed082"
COLUMNS = ("id", "split", "kind", "bot", "text", "terms")
SPLITS = ("tuning", "heldout")
KINDS = ("pick", "ask", "other", "none")
CONDITIONS = ("clean", "phone")
ARMS = ("stt", "plain", "text", "context")


@dataclass(frozen=True)
class ContextRow:
    """One exchange: the bot's line and the caller's answer (with the terms said in it)."""

    id: str
    split: str
    kind: str
    bot: str
    text: str
    terms: tuple[str, ...]


def load_set(path: Path = CONTEXT_SET, *, sha256: str | None = FROZEN_SHA256) -> list[ContextRow]:
    """Read the context set; with ``sha256``, refuse a file that is not the frozen one.

    Raises:
        ValueError: A missing column, an unknown split or kind, or a changed file.
    """
    data = path.read_bytes()
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise ValueError(f"{path}: sha256 is not the frozen {sha256[:12]}… (edited?)")
    reader = csv.DictReader(data.decode("utf-8").splitlines(), delimiter="\t")
    if tuple(reader.fieldnames or ()) != COLUMNS:
        raise ValueError(f"{path}: expected the columns {', '.join(COLUMNS)}")
    rows = []
    for line, r in enumerate(reader, 2):
        if r["split"] not in SPLITS or r["kind"] not in KINDS or not r["id"] or not r["text"]:
            raise ValueError(f"{path}:{line}: bad row {r['id']!r}")
        terms = tuple(t.strip() for t in r["terms"].split(";") if t.strip())
        rows.append(ContextRow(r["id"], r["split"], r["kind"], r["bot"], r["text"], terms))
    return rows


def score_row(row: ContextRow, raw: str, lexicon: Lexicon, heard: str | None = None) -> dict:
    """Every arm on one row: texts, terms found, invented, offered-not-said.

    ``raw``: the context-free STT's text; ``heard``: the STT's text when it was given the
    context (default: ``raw``).
    """
    context = ConversationContext.from_bot_text(row.bot, lexicon)
    texts = {
        "stt": raw,
        "plain": correct(raw, lexicon).text,
        "text": correct(raw, lexicon, context=context).text,
        "context": correct(raw if heard is None else heard, lexicon, context=context).text,
    }
    offered = {t.lower() for t in context.offered}
    out = {"id": row.id, "split": row.split, "kind": row.kind, "bot": row.bot, "ref": row.text}
    out["terms"] = list(row.terms)
    out["offered"] = list(context.offered)
    for arm, text in texts.items():
        outcome = term_outcome(row.terms, text, lexicon)
        out[arm] = {
            "text": text,
            "found": outcome["found"],
            "invented": outcome["false"],
            "offered_not_said": [t for t in outcome["false"] if t.lower() in offered],
        }
    return out


def summarize(scored: Iterable[dict]) -> dict:
    """Per arm: terms right [Wilson], invented per utterance, utterances with one [Wilson]."""
    scored = list(scored)
    n = len(scored)
    said = sum(len(r["terms"]) for r in scored)
    out: dict = {"utterances": n, "terms_said": said}
    for arm in ARMS:
        right = sum(len(r[arm]["found"]) for r in scored)
        invented = sum(len(r[arm]["invented"]) for r in scored)
        with_invented = sum(1 for r in scored if r[arm]["invented"])
        out[arm] = {
            "terms_right": right,
            "term_accuracy": round(right / said, 4) if said else None,
            "term_accuracy_ci95": wilson_interval(right, said),
            "invented": invented,
            "invented_per_utterance": round(invented / n, 4) if n else None,
            "utterances_with_invented": with_invented,
            "utterances_with_invented_ci95": wilson_interval(with_invented, n),
            "offered_not_said": sum(len(r[arm]["offered_not_said"]) for r in scored),
        }
    return out


def report(scored: list[dict]) -> dict:
    """Summaries per split × voice × condition, per split × kind, and per split."""
    groups: dict[str, dict] = {"by_run": {}, "by_kind": {}, "by_split": {}}
    for split in sorted({r["split"] for r in scored}):
        mine = [r for r in scored if r["split"] == split]
        groups["by_split"][split] = summarize(mine)
        for voice, condition in sorted({(r["voice"], r["condition"]) for r in mine}):
            key = f"{split}/{voice}/{condition}"
            run = [r for r in mine if (r["voice"], r["condition"]) == (voice, condition)]
            groups["by_run"][key] = summarize(run)
        for kind in KINDS:
            of_kind = [r for r in mine if r["kind"] == kind]
            if of_kind:
                groups["by_kind"][f"{split}/{kind}"] = summarize(of_kind)
    return groups


# --- audio and transcripts ------------------------------------------------------------


def write_subset(rows: list[ContextRow], work: Path) -> Path:
    """The selected rows as an ``id``/``text`` TSV for the synthesizer."""
    path = work / "selected.tsv"
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, delimiter="\t", lineterminator="\n")
        writer.writerow(["id", "text"])
        writer.writerows((r.id, r.text) for r in rows)
    return path


def transcriber_for(condition: str, lexicon: Lexicon, cache: dict) -> tuple[object, str]:
    """The pipeline's STT for a condition (a phone call's model for ``phone``) and its name."""
    from config import EchoSettings
    from vocabulary.cli import build_transcriber

    settings = EchoSettings()
    if condition == "phone":
        settings = settings.for_transport("twilio")
    name = f"{settings.whisper_model}/pad{settings.whisper_pad_seconds:g}"
    name += "/biased" if settings.whisper_biasing else "/plain"
    if name not in cache:
        cache[name] = build_transcriber(settings, lexicon, correction=False)
    return cache[name], name


def build_cache(
    rows: list[ContextRow],
    voices: list[str],
    conditions: list[str],
    work: Path,
    lexicon: Lexicon,
    log: Callable[[str], None] = print,
    tag: str = "",
) -> tuple[dict, dict]:
    """Synthesize and transcribe what is not cached yet; the transcripts and the timings.

    A cached transcript is reused when it was made by the same model settings (and
    ``tag``: the vocabulary, when not the default one); delete ``transcripts.json`` to redo.
    """
    from vocabulary.evaluation import load_wav

    work.mkdir(parents=True, exist_ok=True)
    store = work / "transcripts.json"
    cache = json.loads(store.read_text()) if store.exists() else {}
    subset = write_subset(rows, work)
    transcribers: dict = {}
    timing = {"synthesis_s": 0.0, "transcription_s": 0.0, "transcribed": 0}
    for voice in voices:
        for condition in conditions:
            started = time.perf_counter()
            audio = synthesize(subset, voice, condition, work, None)
            timing["synthesis_s"] += time.perf_counter() - started
            transcriber, model = transcriber_for(condition, lexicon, transcribers)
            model += tag
            started, fresh = time.perf_counter(), 0
            for row in rows:
                key = f"{voice}|{condition}|{row.id}"
                if cache.get(key, {}).get("model") == model and "heard" in cache[key]:
                    continue
                wav = load_wav(audio / f"{row.id}.wav")
                result = transcriber.transcribe(wav)
                said = ConversationContext.from_bot_text(row.bot, lexicon)
                heard = transcriber.transcribe(wav, context=said)
                cache[key] = {"raw": result.raw, "first_pass": result.first_pass}
                cache[key].update(hotwords=list(result.hotwords or []), model=model)
                cache[key].update(heard=heard.raw, heard_hotwords=heard.hotwords or "")
                fresh += 1
            timing["transcription_s"] += time.perf_counter() - started
            timing["transcribed"] += fresh
            if fresh:
                store.write_text(json.dumps(cache, indent=1, sort_keys=True))
            log(f"{voice}/{condition}: {fresh} transcribed, {len(rows) - fresh} cached")
    return cache, {k: round(v, 1) for k, v in timing.items()}


# --- output ---------------------------------------------------------------------------


def _cell(summary: dict, arm: str) -> str:
    s = summary[arm]
    if s["term_accuracy"] is None:
        terms = "-"
    else:
        lo, hi = s["term_accuracy_ci95"]
        terms = f"{s['term_accuracy']:.3f} [{lo:.2f}-{hi:.2f}]"
    return f"{terms:>19s} {s['invented_per_utterance']:>6.3f} {s['offered_not_said']:>4d}"


def _line(key: str, s: dict) -> str:
    stt = s["stt"]["term_accuracy"]
    stt_cell = f"{stt:>9.3f}" if stt is not None else f"{'-':>9s}"
    return (
        f"{key:26s} {s['utterances']:>3d} {stt_cell} | {_cell(s, 'plain')} | {_cell(s, 'text')}"
        f" | {_cell(s, 'context')}"
    )


def print_tables(groups: dict, scored: list[dict], examples: int) -> None:
    """The tables (plain vs context, STT terms beside) and a few example rows."""
    head = f"{'terms [95% CI]':>19s} {'inv/u':>6s} {'offd':>4s}"
    print(
        f"{'':26s} {'':>3s} {'':>9s} | {'plain (no context)':^31s} | {'context, corrector':^31s}"
        f" | {'context, STT + corrector':^31s}"
    )
    print(f"{'split/voice/condition':26s} {'n':>3s} {'stt terms':>9s} | {head} | {head} | {head}")
    for table in ("by_run", "by_kind", "by_split"):
        for key, s in groups[table].items():
            print(_line(key if table != "by_split" else f"{key} (all)", s))
        print()
    print("inv/u: invented terms per utterance; offd: invented terms the bot had offered")
    differ = [r for r in scored if r["plain"]["text"] != r["context"]["text"]]
    wrong = [
        r
        for r in scored
        if r not in differ
        and (r["plain"]["invented"] or len(r["plain"]["found"]) < len(r["terms"]))
    ]
    for r in (differ + wrong)[:examples]:
        print(f"\n[{r['id']} {r['kind']} {r['voice']}/{r['condition']}] said: {r['terms']}")
        print(f"  bot:     {r['bot']}\n  raw:     {r['stt']['text']}")
        print(f"  plain:   {r['plain']['text']}\n  context: {r['context']['text']}")
        print(f"  (corrector alone with the context: {r['text']['text']})")


def main(argv: list[str] | None = None) -> int:
    """Build the cache, score both arms, print the tables and write ``context.json``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=[*SPLITS, "all"], default="tuning")
    parser.add_argument("--voices", default="piper-a,piper-b,espeak-a")
    parser.add_argument("--conditions", default=",".join(CONDITIONS))
    parser.add_argument("--limit", type=int, help="only the first N rows of the split(s)")
    parser.add_argument("--work", type=Path, default=Path("echo_data/audio/context"))
    parser.add_argument("--out", type=Path, default=Path("reports/vocab-context"))
    parser.add_argument("--vocabulary", type=Path, help="default: the clinic vocabulary")
    parser.add_argument("--examples", type=int, default=6, help="example rows to print")
    parser.add_argument("--cache-only", action="store_true", help="build audio+transcripts only")
    args = parser.parse_args(argv)
    voices, conditions = chosen_cells(parser, args.voices, args.conditions, CONDITIONS)
    from config import DEFAULT_VOCABULARY

    lexicon = Lexicon.load(args.vocabulary or DEFAULT_VOCABULARY)
    rows = [r for r in load_set() if args.split in ("all", r.split)]
    if args.limit:
        rows = [r for split in SPLITS for r in [x for x in rows if x.split == split][: args.limit]]
    tag = f"/vocabulary={args.vocabulary.stem}" if args.vocabulary else ""
    work = args.work.resolve()
    cache, timing = build_cache(rows, voices, conditions, work, lexicon, tag=tag)
    print(f"cache: {timing}")
    if args.cache_only:
        return 0
    scored = []
    for voice in voices:
        for condition in conditions:
            for row in rows:
                entry = cache[f"{voice}|{condition}|{row.id}"]
                scored.append({**score_row(row, entry["raw"], lexicon, entry.get("heard")),
                               "voice": voice, "condition": condition})  # fmt: skip
    groups = report(scored)
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    (out / "context.json").write_text(
        json.dumps({"split": args.split, "timing": timing, **groups, "rows": scored}, indent=1)
    )
    print_tables(groups, scored, args.examples)
    print(f"\nreport: {out / 'context.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
