"""Write the conversation-context set: a bot line, then the caller's bare answer to it.

Each row is one exchange: what the bot just said (``bot``, the line the context is taken
from) and what the caller answered (``text``, the sentence that is synthesized and
transcribed). The caller says a term without any cue before or after it ("Kowalczyk
works for me.", "It's atorvastatin."), or no term at all. Kinds:

- ``pick``: the bot offers 2–3 terms of one category; the caller picks one of them;
- ``ask``: the bot asks for a category without naming any term; the caller names one;
- ``other``: the bot offers 2–3 terms; the caller names a different term of that category;
- ``none``: the bot offers 2–3 terms or asks (alternately, per category); the caller
  names none ("Whichever is sooner."), so every term found in the transcript is invented.

The rule, fixed before any context mechanism is measured on it:

1. Terms: providers, medications and specialties of the clinic vocabulary, said as Echo
   says them (``clinic.wording.spoken``): a provider by surname alone in the caller's
   answer and as "Doctor X" (or, for 30 % of rows, "Dr. X") in the bot's line; a
   specialty as ``spoken_specialty``; a medication as spelled. A term is used only when
   ``vocabulary.find_terms`` finds it in both forms in a neutral frame (so a perfect
   transcript scores right): this leaves out the 14 providers whose surname is an
   ordinary word (Patel, Nguyen, …: the corrector counts them only after a title) and the
   specialties said otherwise than spelled (ENT, allergist).
2. Split: per category, the usable terms are shuffled with ``random.Random(SEED)`` and
   alternately dealt to ``tuning`` and ``heldout`` (disjoint halves). The templates are
   dealt the same way with ``random.Random(SEED + 1)``: the bot's offer and ask lines per
   category, and the caller's answers per kind and tag group (same categories, same bot
   style). A held-out row uses held-out terms (said and offered) and held-out templates
   only.
3. Rows: per split, per kind, ``ROWS`` rows per category (6 providers, 6 medications,
   3 specialties: 15 per kind, 60 per split), drawn with ``random.Random(SEED + 2)``.
   The said term is the next of the split's shuffled terms of that category (one cycle
   across kinds); offered terms are 2 or 3 (drawn), sampled from the split's terms
   (``pick``: the said term among them, at a drawn place; ``other``: the said term not
   among them); templates are taken in turn from the split's templates that fit. Each
   split's rows are then shuffled and numbered (``ctx-t01``…, ``ctx-h01``…).
4. Checks (generation stops if one fails): every answer's terms are exactly what
   ``find_terms`` finds in it, no said term has a cue of its category next to it
   (``vocabulary.analysis.Analysis.cue``), and each bot line's
   ``ConversationContext.from_bot_text`` offers exactly the row's offered terms.

Run once; the output is committed and never edited (re-running reproduces it; its sha256
is ``benchmarks.vocab_context.FROZEN_SHA256``):

    .venv/bin/python scripts/make_context_set.py --out vocabulary/data/context_utterances.tsv
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import random
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from clinic.wording.spoken import join_words, spoken_provider, spoken_specialty  # noqa: E402
from vocabulary import ConversationContext, Lexicon, find_terms  # noqa: E402
from vocabulary.analysis import Analysis  # noqa: E402
from vocabulary.words import tokenize  # noqa: E402

SEED = 20261209
VOCABULARY = ROOT / "clinic" / "data" / "clinic_vocabulary.json"
CATEGORIES = {"providers": "provider", "medications": "medication", "specialties": "specialty"}
ROWS = {"provider": 6, "medication": 6, "specialty": 3}  # per kind and split
KINDS = ("pick", "ask", "other", "none")
SPLITS = ("tuning", "heldout")
DAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday")

# The bot's lines. {names}: the offered terms joined with "or"; {names_and}: with "and";
# {names_days}: "Doctor A on Tuesday or Doctor B on Friday".
OFFER = {
    "provider": [
        "I have {names_days}. Which works?",
        "The first openings are with {names}. Who would you like?",
        "I can book you with {names}. Do you have a preference?",
        "Next week there's {names}. Which one should I put you down for?",
        "We have {names} available this Thursday. Which doctor would you like?",
        "{names_and} are taking new patients. Who should I book?",
        "I found openings with {names_days}. Which of those suits you?",
        "Okay, the closest times are with {names}. Any preference?",
        "This afternoon I have {names}. Who would you like to see?",
        "For a new patient visit, I can offer {names_days}. Which would you like?",
        "There's room with {names} on Monday morning. Which one?",
        "I can get you a video visit with {names}. Who do you prefer?",
    ],
    "medication": [
        "I see prescriptions for {names_and} on your file. Which one needs a refill?",
        "You have refills left on {names_and}. Which would you like?",
        "Your chart lists {names_and}. Which one is this about?",
        "I can send a renewal for {names}. Which one do you need?",
        "The pharmacy has {names_and} on record for you. Which should I refill?",
        "There are active prescriptions for {names_and}. Which one are you calling about?",
        "I see {names_and} on your medication list. Which one do you mean?",
        "Is that for {names}?",
        "Your last visit added {names_and}. Which one is running low?",
        "We can refill {names} today. Which one?",
        "Okay, I have {names_and} listed. Which one should I send?",
        "Just to check, is it {names}?",
    ],
    "specialty": [
        "We have openings in {names} this week. Which one do you need?",
        "I can refer you to {names}. Which one?",
        "The clinic has {names_and} on Mondays. Which specialty is it for?",
        "Would that be {names}?",
        "I can set up a video visit in {names}. Which do you need?",
        "Your referral could go to {names}. Which one did they mention?",
        "There's availability in {names_and}. Which department should I book?",
        "Is this for {names}?",
    ],
}
ASK = {
    "provider": [
        "Which doctor do you usually see?",
        "Who is your primary care doctor?",
        "Which provider would you like to book with?",
        "Do you have a doctor you'd like to see?",
        "Who did you see last time?",
        "And which physician referred you?",
        "Which doctor is this appointment with?",
        "Who would you like the message to go to?",
    ],
    "medication": [
        "Which medication do you need refilled?",
        "What's the name of the prescription?",
        "Which medicine is running low?",
        "What are you taking for that right now?",
        "Which of your medications is this about?",
        "Which prescription should I send to the pharmacy?",
        "Okay, and what's the medication called?",
        "What were you prescribed last time?",
    ],
    "specialty": [
        "Which specialty is the referral for?",
        "What kind of specialist are you looking for?",
        "Which department should I book you with?",
        "What type of appointment did your doctor recommend?",
        "Which clinic were you referred to?",
        "What area is the referral in?",
    ],
}

# The caller's answers: (template, categories it fits: p/m/s, bot styles: o(ffer)/a(sk)).
# {x} is the term as the caller says it.
CALLER = {
    "pick": [
        ("{x} works for me.", "pms", "o"),
        ("Um, {x} I guess.", "pms", "o"),
        ("{x}, please.", "pms", "o"),
        ("I'll go with {x}.", "pms", "o"),
        ("{x} is fine.", "pms", "o"),
        ("Oh, {x}, definitely.", "pms", "o"),
        ("Hmm, {x} sounds good.", "pms", "o"),
        ("Probably {x}.", "pms", "o"),
        ("{x}. That's the one.", "pms", "o"),
        ("I think {x} would be best.", "pms", "o"),
        ("Yeah, {x}.", "pms", "o"),
        ("Let's do {x}.", "pms", "o"),
        ("Put me down with {x}.", "p", "o"),
        ("I'd rather see {x}, if that's okay.", "p", "o"),
        ("{x} is who I saw last time.", "p", "o"),
        ("Can I get {x}? I've seen them before.", "p", "o"),
        ("Let's go with the {x} one.", "m", "o"),
        ("The {x}, please.", "m", "o"),
        ("It's the {x} I'm low on.", "m", "o"),
        ("Just the {x} this time.", "m", "o"),
    ],
    "ask": [
        ("That would be {x}.", "pms", "a"),
        ("Um, I think it's {x}.", "pms", "a"),
        ("{x}, I believe.", "pms", "a"),
        ("Oh, that's {x}.", "pms", "a"),
        ("It's {x}, I'm pretty sure.", "pms", "a"),
        ("{x}.", "pms", "a"),
        ("Uh, {x}?", "pms", "a"),
        ("Definitely {x}.", "pms", "a"),
        ("Usually {x}.", "p", "a"),
        ("I always see {x}.", "p", "a"),
        ("I've been seeing {x} for years.", "p", "a"),
        ("Mostly {x}, but anyone is fine.", "p", "a"),
        ("It's {x}.", "m", "a"),
        ("The {x}.", "m", "a"),
        ("I'm on {x}.", "m", "a"),
        ("Mainly {x}, the little white ones.", "m", "a"),
        ("It's for {x}.", "s", "a"),
        ("It's {x} this time.", "s", "a"),
        ("{x} is what they told me.", "s", "a"),
        ("I was told {x}.", "s", "a"),
    ],
    "other": [
        ("Actually, what about {x}?", "pms", "o"),
        ("Neither, I was hoping for {x}.", "pms", "o"),
        ("Not those. {x}.", "pms", "o"),
        ("Sorry, I meant {x}.", "pms", "o"),
        ("Hmm, is there anything with {x}?", "pms", "o"),
        ("None of those, it's {x}.", "pms", "o"),
        ("Oh, it's actually {x}.", "pms", "o"),
        ("I'd prefer {x} if possible.", "pms", "o"),
        ("Could I see {x} instead?", "p", "o"),
        ("Is {x} free at all?", "p", "o"),
        ("I usually go to {x}.", "p", "o"),
        ("What about {x}? I saw them last time.", "p", "o"),
        ("No, it's the {x} I need.", "m", "o"),
        ("It's {x} I'm calling about, actually.", "m", "o"),
        ("Not those, the {x}.", "m", "o"),
        ("Wait, what about {x}?", "m", "o"),
        ("I actually need {x}.", "s", "o"),
        ("It's {x} I'm after.", "s", "o"),
    ],
    "none": [
        ("The earlier one, please.", "pms", "o"),
        ("Whichever is sooner.", "pms", "o"),
        ("Neither of those, sorry.", "pms", "o"),
        ("The first one you said.", "pms", "o"),
        ("Either is fine with me.", "pms", "o"),
        ("Can you repeat those?", "pms", "o"),
        ("The second one, I think.", "pms", "o"),
        ("Any of them is fine.", "pms", "o"),
        ("No preference really.", "pms", "o"),
        ("Hmm, the last one.", "pms", "o"),
        ("I'm not sure what it's called.", "pms", "a"),
        ("I don't remember the name.", "pms", "a"),
        ("Um, let me check my notes.", "pms", "a"),
        ("Sorry, I can't think of it right now.", "pms", "a"),
        ("I'd have to look it up.", "pms", "a"),
        ("My wife usually handles that.", "pms", "a"),
        ("Whoever is available.", "p", "a"),
        ("The one I saw last time.", "p", "a"),
        ("It's the little white pill.", "m", "a"),
        ("The one for my blood pressure.", "m", "a"),
        ("Whatever my doctor recommended.", "s", "a"),
        ("I'm not sure, the one for my knee.", "s", "a"),
    ],
}
_LETTER = {"provider": "p", "medication": "m", "specialty": "s"}


def caller_form(term: str, category: str) -> str:
    """How the caller says a term: a provider's surname, a specialty as spoken."""
    if category == "provider":
        return spoken_provider(term).removeprefix("Doctor ")
    if category == "specialty":
        return spoken_specialty(term)
    return term


def bot_form(term: str, category: str, short_title: bool = False) -> str:
    """How the bot says a term: "Doctor X" (or "Dr. X"), a specialty as spoken."""
    if category == "provider":
        return term if short_title else spoken_provider(term)
    if category == "specialty":
        return spoken_specialty(term)
    return term


def usable_terms(vocabulary: dict, lexicon: Lexicon) -> dict[str, list[str]]:
    """Per category, the terms ``find_terms`` finds as both caller and bot say them."""
    usable: dict[str, list[str]] = {}
    for key, category in CATEGORIES.items():
        terms = [t if isinstance(t, str) else t["term"] for t in vocabulary[key]]
        usable[category] = [
            t
            for t in terms
            if find_terms(f"Um, {caller_form(t, category)} I guess.", lexicon) == [t]
            and all(
                find_terms(f"I have {bot_form(t, category, short)} today.", lexicon) == [t]
                for short in (False, True)
            )
        ]
    return usable


def deal(items: list, rng: random.Random) -> dict[str, list]:
    """Shuffle and deal alternately: ``{"tuning": [...], "heldout": [...]}``."""
    items = list(items)
    rng.shuffle(items)
    return {"tuning": items[0::2], "heldout": items[1::2]}


def split_templates(rng: random.Random) -> dict[str, dict]:
    """Per split: bot offer/ask lines per category and caller answers per kind."""
    out: dict[str, dict] = {s: {"offer": {}, "ask": {}, "caller": {}} for s in SPLITS}
    for style, table in (("offer", OFFER), ("ask", ASK)):
        for category, lines in table.items():
            for split, half in deal(lines, rng).items():
                out[split][style][category] = half
    for kind, answers in CALLER.items():
        groups: dict[tuple[str, str], list] = {}
        for answer in answers:
            groups.setdefault(answer[1:], []).append(answer)
        for split in SPLITS:
            out[split]["caller"][kind] = []
        for _, group in sorted(groups.items()):
            for split, half in deal(group, rng).items():
                out[split]["caller"][kind] += half
    return out


def all_template_texts(templates: dict) -> dict[str, set[str]]:
    """Every template string of each split (bot lines and caller answers)."""
    texts: dict[str, set[str]] = {}
    for split, parts in templates.items():
        found = {line for style in ("offer", "ask") for v in parts[style].values() for line in v}
        found |= {answer[0] for v in parts["caller"].values() for answer in v}
        texts[split] = found
    return texts


def bot_line(template: str, offered: list[str], category: str, rng: random.Random) -> str:
    """Fill a bot template with the offered terms as the bot says them."""
    short = category == "provider" and rng.random() < 0.3
    names = [bot_form(t, category, short) for t in offered]
    days = rng.sample(DAYS, len(names))
    with_days = [f"{n} on {d}" for n, d in zip(names, days, strict=True)]
    line = template.format(
        names=join_words(names, "or"),
        names_and=join_words(names, "and"),
        names_days=join_words(with_days, "or"),
    )
    return line[0].upper() + line[1:]


def answer_text(template: str, term: str | None, category: str) -> str:
    """Fill a caller template (each sentence capitalized)."""
    text = template.format(x=caller_form(term, category)) if term else template
    return re.sub(r"(^|[.?!] )([a-z])", lambda m: m.group(1) + m.group(2).upper(), text)


def cue_next_to(text: str, term: str, category: str, lexicon: Lexicon) -> str | None:
    """The context cue of ``category`` next to the caller's form of ``term`` in ``text``."""
    want = [t.norm for t in tokenize(caller_form(term, category))]
    analysis = Analysis(text, lexicon)
    for i in range(len(analysis.norms) - len(want) + 1):
        if analysis.norms[i : i + len(want)] == want:
            return analysis.cue(category, i, i + len(want))
    raise ValueError(f"{term!r} not said in {text!r}")


def build(vocabulary: dict, lexicon: Lexicon) -> list[dict]:
    """The rows by the rule in the module docstring (checked)."""
    usable = usable_terms(vocabulary, lexicon)
    term_rng = random.Random(SEED)
    terms = {c: deal(usable[c], term_rng) for c in ROWS}
    templates = split_templates(random.Random(SEED + 1))
    rng = random.Random(SEED + 2)
    rows: list[dict] = []
    for split in SPLITS:
        own = templates[split]
        said_cycle = {c: list(terms[c][split]) for c in ROWS}
        split_rows = []
        turn = {}
        for kind in KINDS:
            for category, count in ROWS.items():
                pool = terms[category][split]
                for n in range(count):
                    style = "ask" if kind == "ask" or (kind == "none" and n % 2) else "offer"
                    said = None
                    if kind != "none":
                        cycle = said_cycle[category]
                        said = cycle.pop(0)
                        cycle.append(said)
                    offered: list[str] = []
                    if style == "offer":
                        k = rng.choice((2, 3))
                        others = [t for t in pool if t != said]
                        offered = rng.sample(others, k - 1 if kind == "pick" else k)
                        if kind == "pick":
                            offered.insert(rng.randrange(k), said)
                    lines = own[style][category]
                    bot_key = (style, category)
                    turn[bot_key] = turn.get(bot_key, -1) + 1
                    bot_template = lines[turn[bot_key] % len(lines)]
                    bot = (
                        bot_line(bot_template, offered, category, rng) if offered else bot_template
                    )
                    fitting = [
                        a[0]
                        for a in own["caller"][kind]
                        if _LETTER[category] in a[1] and style[0] in a[2]
                    ]
                    answer_key = (kind, category, style)
                    turn[answer_key] = turn.get(answer_key, -1) + 1
                    text = answer_text(fitting[turn[answer_key] % len(fitting)], said, category)
                    split_rows.append(
                        {
                            "split": split,
                            "kind": kind,
                            "bot": bot,
                            "text": text,
                            "terms": said or "",
                            "offered": offered,
                            "category": category,
                        }
                    )
        rng.shuffle(split_rows)
        for n, row in enumerate(split_rows, 1):
            row["id"] = f"ctx-{split[0]}{n:02d}"
        rows += split_rows
    check(rows, lexicon, templates)
    return rows


def check(rows: list[dict], lexicon: Lexicon, templates: dict) -> None:
    """Stop generation when a row breaks the rule (see the module docstring)."""
    texts = all_template_texts(templates)
    if texts["tuning"] & texts["heldout"]:
        raise SystemExit(f"templates in both splits: {texts['tuning'] & texts['heldout']}")
    for row in rows:
        said = [row["terms"]] if row["terms"] else []
        if find_terms(row["text"], lexicon) != said:
            raise SystemExit(f"{row['id']}: {row['text']!r} does not hold exactly {said}")
        if said:
            cue = cue_next_to(row["text"], said[0], row["category"], lexicon)
            if cue:
                raise SystemExit(f"{row['id']}: cue {cue!r} next to the term in {row['text']!r}")
        context = ConversationContext.from_bot_text(row["bot"], lexicon)
        if sorted(context.offered) != sorted(row["offered"]):
            raise SystemExit(f"{row['id']}: {row['bot']!r} offers {context.offered}")


def to_tsv(rows: list[dict]) -> bytes:
    """The TSV bytes: ``id, split, kind, bot, text, terms``."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter="\t", lineterminator="\n")
    writer.writerow(["id", "split", "kind", "bot", "text", "terms"])
    for row in rows:
        writer.writerow([row[k] for k in ("id", "split", "kind", "bot", "text", "terms")])
    return buffer.getvalue().encode("utf-8")


def main(argv: list[str] | None = None) -> int:
    """Write the set and print its row counts and sha256."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--vocabulary", type=Path, default=VOCABULARY)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    vocabulary = json.loads(args.vocabulary.read_text(encoding="utf-8"))
    rows = build(vocabulary, Lexicon.load(args.vocabulary))
    data = to_tsv(rows)
    args.out.write_bytes(data)
    counts: dict[tuple[str, str], int] = {}
    for row in rows:
        counts[row["split"], row["kind"]] = counts.get((row["split"], row["kind"]), 0) + 1
    for (split, kind), n in sorted(counts.items()):
        print(f"{split:8s} {kind:6s} {n}")
    print(f"{len(rows)} rows → {args.out}\nsha256 {hashlib.sha256(data).hexdigest()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
