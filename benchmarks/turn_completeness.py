"""Text-level end-of-turn figures: cut-off risk at mid-sentence pauses, added holds on whole turns.

For each paused prompt the text before its pause, with the endings Whisper gives a fragment
("", ".", "?", ","), should be judged unfinished (a "finished" verdict lets smart-turn end
the turn in the pause: a cut-off risk); every whole turn should be judged finished (an
"unfinished" verdict adds the unfinished hold to the answer). The judge is
:func:`pipelines.turn_text.looks_unfinished`.

Sets: ``tuning`` — the bench's tuning prompts plus ``pipelines/data/turn_paused_dev.txt``
(paused turns) and ``pipelines/data/turn_sentences.txt`` (whole caller turns), all written
for tuning; ``heldout`` and ``heldout2`` — the bench's frozen held-out sets
(``benchmarks/voice/heldout.py``), held out while the rules were written.

``python -m benchmarks.turn_completeness [--sets heldout2,heldout,tuning] [--show]``
"""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmarks.voice.prompts import Prompt, prompt_set
from pipelines.turn_text import looks_unfinished

DATA = Path(__file__).resolve().parent.parent / "pipelines" / "data"
ENDINGS = ("", ".", "?", ",")


def _lines(path: Path) -> list[str]:
    return [t.strip() for t in path.read_text().splitlines() if t.strip() and not t.startswith("#")]


def tuning_prompts() -> list[Prompt]:
    """The tuning texts as prompts: bench tuning prompts, paused dev turns, whole turns."""
    out = list(prompt_set("all"))
    for k, line in enumerate(_lines(DATA / "turn_paused_dev.txt")):
        out.append(Prompt(f"dev-{k}", tuple(p.strip() for p in line.split("|")), 0.5, "paused"))
    out += [Prompt(f"whole-{k}", (t,)) for k, t in enumerate(_lines(DATA / "turn_sentences.txt"))]
    return out


def figures(prompts: list[Prompt], judge=looks_unfinished) -> dict:
    """Fragments judged finished (cut-off risk) and whole turns judged unfinished (holds)."""
    fragments = []
    for p in prompts:
        for k in range(1, len(p.parts)):
            bare = " ".join(p.parts[:k]).rstrip(" ,.?!")
            fragments += [bare + e for e in ENDINGS]
    whole = [p.text for p in prompts]
    return {
        "fragments": len(fragments),
        "cut": [f for f in fragments if not judge(f)],
        "whole": len(whole),
        "held": [w for w in whole if judge(w)],
    }


def main(argv: list[str] | None = None) -> int:
    """Print the figures, held-out sets first."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="heldout3,heldout2,heldout,tuning")
    parser.add_argument("--show", action="store_true", help="list the misjudged texts")
    args = parser.parse_args(argv)
    for name in [s.strip() for s in args.sets.split(",") if s.strip()]:
        prompts = tuning_prompts() if name == "tuning" else list(prompt_set(name))
        f = figures(prompts)
        cut = len(f["cut"]) / max(1, f["fragments"])
        held = len(f["held"]) / max(1, f["whole"])
        print(
            f"{name:9s} cut-off risk {cut:6.1%} ({len(f['cut'])}/{f['fragments']} fragments)"
            f"   added hold {held:6.1%} ({len(f['held'])}/{f['whole']} whole turns)"
        )
        if args.show:
            for text in f["cut"]:
                print(f"    cut:  {text}")
            for text in f["held"]:
                print(f"    held: {text}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
