"""Score the local brain on caller openings against what a good clinic line does.

Each line of a TSV (``id``, ``caller says``, ``expect``) is one fresh call: the greeting, then
the caller's sentence, answered by the real brain with the real clinic tools on a freshly
seeded store. ``expect`` is a small label (``emergency``, ``refill:DRUG``, ``handoff``,
``callback``, ``info:TOPIC``, ``reschedule``, ``cancel``, ``list``, ``book:provider=NAME``,
``book:specialty=NAME``, ``earliest:any``, ``earliest:specialty=NAME``, ``out_of_scope``,
``greet``, ``goodbye``, ``frustration``, ``late``); :func:`judge` checks the tool calls and
the reply against it. The shared dev callers have their labels in :data:`DEV_EXPECT`.

Usage::

    python benchmarks/brain_eval.py --callers benchmarks/data/callers_heldout.tsv
    python benchmarks/brain_eval.py --callers ../shared/data/caller_requests_dev.tsv --dev
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import re
import statistics
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# The shared dev callers' third column is prose; these are its labels (the tuning set).
DEV_EXPECT = {
    "d01": "book:specialty=podiatry|orthopedics",
    "d02": "book:specialty=orthopedics",
    "d03": "reschedule",
    "d04": "refill:atorvastatin",
    "d05": "handoff",
    "d06": "cancel",
    "d07": "info:hours",
    "d08": "info:provider",
    "d09": "book:specialty=pediatrics",
    "d10": "earliest:any",
    "d11": "out_of_scope",
    "d12": "out_of_scope",
    "d13": "emergency",
    "d14": "info:insurance",
    "d15": "greet",
    "d16": "book:provider=Dr. Oyelaran",
    "d17": "list",
    "d18": "late",
    "d19": "info:address",
    "d20": "earliest:specialty=cardiology",
    "d21": "refill:albuterol",
    "d22": "callback",
    "d23": "earliest:specialty=dermatology",
    "d24": "goodbye",
    "d25": "out_of_scope",
    "d26": "out_of_scope",
    "d27": "book:specialty=urology",
    "d28": "info:provider",
    "d29": "frustration",
    "d30": "info:cancellation",
}

_DIDNT_CATCH = re.compile(r"didn'?t (?:catch|get|hear)|say that again|repeat that", re.I)
_IDENTIFY = re.compile(r"date of birth|full name|confirm who you are", re.I)
_PERSON = re.compile(r"\b(?:person|staff|front desk|transfer|call you back|nurse|team)\b", re.I)


def _first_sentence(text: str) -> str:
    return re.split(r"(?<=[.!?])\s", text.strip(), maxsplit=1)[0]


def judge(expect: str, calls: list[tuple[str, dict]], reply: str) -> tuple[bool, str]:
    """Whether one answered opening does what ``expect`` asks; the reason when it does not."""
    names = [name for name, _ in calls]
    kind, _, arg = expect.partition(":")
    if _DIDNT_CATCH.search(reply):
        return False, "said it did not hear"
    if kind == "any":
        return True, ""
    if kind == "emergency":
        return ("911" in _first_sentence(reply), "911 not in the first sentence")
    if kind == "refill":
        for name, args in calls:
            if name == "request_refill" and args.get("medication", "").lower() == arg:
                return True, ""
        ok = arg in reply.lower() and "refill" in reply.lower()
        return ok, f"no refill of {arg}"
    if kind in ("handoff", "callback"):
        if any(n in ("request_handoff", "request_callback") for n in names):
            return True, ""
        ok = bool(re.search(r"call you back|transfer|connect you|put you through", reply, re.I))
        return ok, "no hand-off offered"
    if kind == "info":
        if arg == "unknown":
            ok = bool(re.search(r"don'?t know|not sure|can'?t (?:say|tell)|no information", reply))
            return ok, "did not say it does not know"
        topics = [a.get("topic") for n, a in calls if n == "clinic_info"]
        if arg == "provider":
            return (
                bool(topics) or "find_provider" in names,
                "no provider information looked up",
            )
        wanted = {"telehealth", "visits"} if arg == "telehealth" else {arg}
        return bool(wanted & set(topics)), f"clinic_info({arg}) not called: {calls}"
    if kind == "late":
        topics = [a.get("topic") for n, a in calls if n == "clinic_info"]
        return "late" in topics, "late policy not given"
    if kind in ("reschedule", "cancel", "list"):
        if "list_my_appointments" in names or _IDENTIFY.search(reply):
            if kind == "reschedule" and "book_appointment" in names:
                return False, "booked instead of moving"
            return True, ""
        return False, "did not look up the caller's appointments"
    if kind == "book":
        field, _, value = arg.partition("=")
        wanted = {v.lower() for v in value.split("|")}
        for name, args in calls:
            got = str(args.get(field) or args.get("name") or "").lower()
            if name in ("find_provider", "list_open_slots", "find_earliest_slots") and (
                got in wanted
            ):
                return True, ""
        return False, f"no lookup of {value}: {calls}"
    if kind == "earliest":
        for name, args in calls:
            if name != "find_earliest_slots":
                continue
            if arg == "any" and not args.get("specialty") and not args.get("provider"):
                return True, ""
            if arg.startswith("specialty=") and str(args.get("specialty", "")).lower() == arg[10:]:
                return True, ""
        return False, f"no earliest search ({arg}): {calls}"
    if kind == "out_of_scope":
        if calls:
            return False, f"called tools: {names}"
        ok = not re.search(r"which doctor|shall i book", reply, re.I)
        return ok, "forced into booking"
    if kind == "greet":
        return (not calls and bool(re.search(r"\bhi\b|hello|help", reply, re.I)), "no greeting")
    if kind == "goodbye":
        return (bool(re.search(r"bye|take care", reply, re.I)), "no goodbye")
    if kind == "frustration":
        ack = re.search(r"sorry|understand|apolog|frustrat", reply, re.I)
        return (bool(ack and _PERSON.search(reply)), "no acknowledgement and person offered")
    return False, f"unknown label {expect}"


def read_callers(path: Path, *, dev: bool = False) -> list[tuple[str, str, str]]:
    """``(id, sentence, expect)`` rows of a callers TSV."""
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    out = []
    for row in rows:
        expect = DEV_EXPECT[row["id"]] if dev else row["expect"]
        out.append((row["id"], row["caller says"], expect))
    return out


async def answer_opening(sentence: str, *, store, today: date, models=None) -> tuple[list, str]:
    """One fresh call: greet, then answer ``sentence``; the tool calls made and the reply."""
    from clinic.cli_chat import respond, run_turn
    from clinic.dialogue.brain import ClinicBrain
    from clinic.tools import ClinicTools

    brain = ClinicBrain.for_store(store, today=today)
    tools = ClinicTools(store, patient_id="patient-eval", today=today)
    messages: list[dict] = []
    await respond(brain, tools, messages)
    start = len(messages)
    reply = await run_turn(brain, tools, messages, sentence)
    calls = []
    for message in messages[start:]:
        for call in message.get("tool_calls") or []:
            function = call["function"]
            calls.append((function["name"], json.loads(function["arguments"] or "{}")))
    return calls, reply


async def evaluate(rows, *, today: date) -> list[dict]:
    """Answer and judge every row on one seeded store."""
    from clinic.store import ClinicStore
    from config import DEFAULT_VOCABULARY

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        store = ClinicStore(Path(tmp) / "clinic.db")
        store.seed(json.loads(DEFAULT_VOCABULARY.read_text()), start=today, days=14)
        for row_id, sentence, expect in rows:
            started = time.perf_counter()
            calls, reply = await answer_opening(sentence, store=store, today=today)
            elapsed_ms = (time.perf_counter() - started) * 1000
            ok, why = judge(expect, calls, reply)
            results.append(
                {
                    "id": row_id,
                    "says": sentence,
                    "expect": expect,
                    "ok": ok,
                    "why": "" if ok else why,
                    "reply": reply,
                    "words": len(reply.split()),
                    "tools": [name for name, _ in calls],
                    "ms": round(elapsed_ms, 1),
                }
            )
    return results


async def converse(sentences: list[str], *, today: date) -> list[dict]:
    """All ``sentences`` in one call (as the bench's conversation): each reply and its length."""
    from clinic.cli_chat import respond, run_turn
    from clinic.dialogue.brain import ClinicBrain
    from clinic.store import ClinicStore
    from clinic.tools import ClinicTools
    from config import DEFAULT_VOCABULARY

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        store = ClinicStore(Path(tmp) / "clinic.db")
        store.seed(json.loads(DEFAULT_VOCABULARY.read_text()), start=today, days=14)
        brain = ClinicBrain.for_store(store, today=today)
        tools = ClinicTools(store, patient_id="patient-eval", today=today)
        messages: list[dict] = []
        greeting = await respond(brain, tools, messages)
        rows.append({"id": "greeting", "says": "", "expect": "any", "ok": True, "why": ""})
        rows[-1].update(reply=greeting, words=len(greeting.split()), tools=[], ms=0.0)
        for i, sentence in enumerate(sentences):
            started = time.perf_counter()
            reply = await run_turn(brain, tools, messages, sentence)
            ms = round((time.perf_counter() - started) * 1000, 1)
            rows.append(
                {"id": f"t{i}", "says": sentence, "expect": "any", "ok": True, "why": ""}
                | {"reply": reply, "words": len(reply.split()), "tools": [], "ms": ms}
            )
    return rows


def summarize(results: list[dict]) -> dict:
    """Share handled, p90 reply words and p95 brain+tools time."""
    words = sorted(r["words"] for r in results)
    ms = sorted(r["ms"] for r in results)
    return {
        "n": len(results),
        "handled": sum(r["ok"] for r in results),
        "share": round(sum(r["ok"] for r in results) / max(1, len(results)), 3),
        "words_p90": words[int(0.9 * (len(words) - 1))] if words else 0,
        "ms_p50": round(statistics.median(ms), 1) if ms else 0,
        "ms_p95": ms[int(0.95 * (len(ms) - 1))] if ms else 0,
    }


def main(argv: list[str] | None = None) -> int:
    """Score a callers file and print every miss plus the summary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--callers", type=Path, help="callers TSV (id, caller says, expect)")
    parser.add_argument(
        "--bench-conversation",
        action="store_true",
        help="instead: the latency bench's prompts as one call (reply lengths)",
    )
    parser.add_argument("--dev", action="store_true", help="labels from DEV_EXPECT")
    parser.add_argument("--today", default="2025-12-01", help="clinic date (ISO)")
    parser.add_argument("--all", action="store_true", help="print every row, not only misses")
    parser.add_argument("--json", type=Path, help="write every row here")
    args = parser.parse_args(argv)
    today = date.fromisoformat(args.today)
    if args.bench_conversation:
        from benchmarks.voice.prompts import PROMPT_SETS

        sentences = [p.text for p in PROMPT_SETS["all"]]
        results = asyncio.run(converse(sentences, today=today))
    elif args.callers is None:
        parser.error("give --callers TSV or --bench-conversation")
    else:
        rows = read_callers(args.callers, dev=args.dev)
        results = asyncio.run(evaluate(rows, today=today))
    for r in results:
        if args.all or not r["ok"]:
            mark = "ok  " if r["ok"] else "MISS"
            print(f"{mark} {r['id']} [{r['expect']}] {r['says']!r}\n     -> {r['reply']!r}")
            if r["why"]:
                print(f"     ({r['why']})")
    summary = summarize(results)
    print(json.dumps(summary))
    if args.json:
        args.json.write_text(json.dumps({"summary": summary, "rows": results}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
