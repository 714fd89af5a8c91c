"""``echo-agent bench``: voice-to-voice latency over WebRTC, per stage, with a vanilla baseline.

Examples::

    echo-agent bench                               # Echo, 3 runs of all 15 prompts
    echo-agent bench --compare-vanilla             # + plain Pipecat bot, interleaved, ratios
    echo-agent bench --silence-ms 150 --vad-threshold 0.5 --smart-turn off
    echo-agent bench --study                       # VAD / turn tuning grid on all prompts
    echo-agent bench --url http://127.0.0.1:7860   # an Echo server already running

Writes ``turns.csv`` (one row per prompt played), ``breakdown.png``, ``summary.json`` and
``report.txt`` into ``--out`` (default ``reports/bench-<time>``) and prints the table.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.voice.prompts import SET_NAMES
from config import EchoSettings

REPORTS_DIR = Path("reports")


def _on_off(value: str) -> bool:
    if value.lower() in ("on", "true", "yes", "1"):
        return True
    if value.lower() in ("off", "false", "no", "0"):
        return False
    raise argparse.ArgumentTypeError("use on or off")


def _threshold(value: str) -> float:
    x = float(value)
    if not 0.0 < x < 1.0:
        raise argparse.ArgumentTypeError("a VAD threshold is between 0 and 1")
    return x


def _silence_ms(value: str) -> int:
    x = int(value)
    if not 20 <= x <= 3000:
        raise argparse.ArgumentTypeError("silence is 20–3000 ms")
    return x


def _floats(value: str) -> list[float]:
    return [_threshold(v) for v in value.split(",") if v.strip()]


def _ints(value: str) -> list[int]:
    return [_silence_ms(v) for v in value.split(",") if v.strip()]


def _bools(value: str) -> list[bool]:
    return [_on_off(v) for v in value.split(",") if v.strip()]


def _grid(value: str) -> tuple[str, list[str]]:
    key, raw = _key_value(value)
    values = [v.strip() for v in raw.split(",") if v.strip()]
    if not values:
        raise argparse.ArgumentTypeError("give at least one value: KEY=V1,V2")
    return key, values


def _key_value(value: str) -> tuple[str, str]:
    key, sep, raw = value.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError("use KEY=VALUE (an EchoSettings field)")
    if key not in EchoSettings.model_fields:
        raise argparse.ArgumentTypeError(f"unknown setting '{key}'")
    return key, raw


def add_commands(subparsers) -> None:
    """Add the ``bench`` subcommand."""
    p = subparsers.add_parser(
        "bench",
        help="voice-to-voice latency benchmark over WebRTC (table, CSV, PNG)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--pipeline", default="cascaded", help="Echo pipeline variant (cascaded)")
    p.add_argument("--runs", type=int, default=3, help="repetitions of the prompt list (3)")
    p.add_argument(
        "--prompts",
        choices=SET_NAMES,
        default="all",
        help="tuning sets: the 10 short prompts, the 5 with a mid-sentence pause, or all "
        "(default); the frozen held-out sets (benchmarks/voice/heldout.py): all, one-breath "
        "or paused",
    )
    p.add_argument(
        "--voices",
        type=lambda v: [x.strip() for x in v.split(",") if x.strip()],
        default=["piper"],
        metavar="V,V",
        help="caller voices: piper, piper-fast, espeak, espeak-f (default piper)",
    )
    p.add_argument(
        "--cold",
        action="store_true",
        help="a fresh server (fresh data, no phrase warm-up) for every run and voice",
    )
    p.add_argument(
        "--callers",
        type=lambda v: [int(x) for x in v.split(",") if x.strip()],
        default=[1],
        metavar="N[,N]",
        help="simultaneous calls on one server, each playing every prompt (default 1); "
        "several counts (1,2,3,4) run one after another",
    )
    p.add_argument("--limit", type=int, default=None, help="only the first N prompts")
    p.add_argument(
        "--only",
        type=lambda v: [x.strip() for x in v.split(",") if x.strip()],
        default=None,
        metavar="ID,ID",
        help="only these prompt ids (e.g. capital,p-book)",
    )
    p.add_argument(
        "--vad-threshold",
        type=_threshold,
        default=None,
        help="VAD confidence (ECHO_VAD_CONFIDENCE)",
    )
    p.add_argument(
        "--silence-ms",
        type=_silence_ms,
        default=None,
        help="VAD stop silence in ms (ECHO_VAD_STOP_SECS × 1000)",
    )
    p.add_argument("--smart-turn", type=_on_off, default=None, help="smart-turn v3 on/off")
    p.add_argument(
        "--set",
        dest="overrides",
        type=_key_value,
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other EchoSettings field for the Echo server (repeatable)",
    )
    p.add_argument(
        "--compare-vanilla",
        action="store_true",
        help="also run a plain Pipecat 1.14 bot (defaults, same models), interleaved",
    )
    p.add_argument(
        "--study",
        action="store_true",
        help="VAD/turn tuning grid: every --study-* combination as its own Echo server",
    )
    p.add_argument("--study-thresholds", type=_floats, default=[0.5, 0.3], metavar="0.5,0.3")
    p.add_argument("--study-silence-ms", type=_ints, default=[200], metavar="200")
    p.add_argument("--study-smart-turn", type=_bools, default=[True, False], metavar="on,off")
    p.add_argument(
        "--study-grid",
        type=_grid,
        action="append",
        default=[],
        metavar="KEY=V1,V2",
        help="one more study dimension over any setting (repeatable)",
    )
    p.add_argument("--url", default=None, help="bench an Echo server already running there")
    p.add_argument("--out", type=Path, default=None, help="output directory")
    p.add_argument(
        "--answer-timeout", type=float, default=15.0, help="seconds to wait for an answer (15)"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_bench)


def echo_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """EchoSettings overrides from the flags."""
    out: dict[str, Any] = dict(args.overrides)
    if args.vad_threshold is not None:
        out["vad_confidence"] = args.vad_threshold
    if args.silence_ms is not None:
        out["vad_stop_secs"] = args.silence_ms / 1000.0
    if args.smart_turn is not None:
        out["smart_turn"] = args.smart_turn
    return out


def study_systems(args: argparse.Namespace, base: dict[str, Any]) -> list:
    """One Echo configuration per combination of the ``--study-*`` values."""
    import itertools

    from benchmarks.voice.servers import ECHO, System

    dims: list[tuple[str, str, list[tuple[str, Any]]]] = [
        ("vad", "vad_confidence", [(f"{t:g}", t) for t in args.study_thresholds]),
        ("silence", "vad_stop_secs", [(f"{m}ms", m / 1000.0) for m in args.study_silence_ms]),
        ("smart-turn", "smart_turn", [("on" if b else "off", b) for b in args.study_smart_turn]),
        *((key, key, [(v, v) for v in values]) for key, values in args.study_grid),
    ]
    systems = []
    for combo in itertools.product(*(values for _, _, values in dims)):
        pairs = list(zip(dims, combo, strict=True))
        label = " ".join(f"{dim}={shown}" for (dim, _, _), (shown, _) in pairs)
        overrides = {**base, **{key: value for (_, key, _), (_, value) in pairs}}
        systems.append(System(f"echo[{label}]", ECHO, overrides, pipeline=args.pipeline))
    return systems


def plan_from_args(args: argparse.Namespace, settings: EchoSettings):
    """Validate the flags and build the :class:`benchmarks.voice.run.BenchPlan`.

    Raises:
        ValueError: Contradictory or invalid flags (the message says which).
    """
    from benchmarks.voice import prompts as prompt_sets
    from benchmarks.voice.run import BenchPlan
    from benchmarks.voice.servers import ECHO, EXTERNAL, VANILLA, System

    if args.runs < 1:
        raise ValueError("--runs must be at least 1")
    if not args.callers or min(args.callers) < 1:
        raise ValueError("--callers must be at least 1")
    caller_voices = prompt_sets.voices(args.voices)
    overrides = echo_overrides(args)
    if args.cold and args.url:
        raise ValueError("--cold needs servers the bench starts itself, not --url")
    if args.cold:
        overrides.setdefault("tts_warm_phrases", False)
    if args.url and (overrides or args.study):
        raise ValueError(
            "--url benches a running server as it is: settings flags and --study need a "
            "server the bench starts itself"
        )
    if overrides and not args.url:
        EchoSettings(_env_file=None, **overrides)  # a bad value fails here, not in a child
    prompts = prompt_sets.select(args.prompts, args.limit, args.only)
    if args.study:
        systems = study_systems(args, overrides)
    elif args.url:
        systems = [System("echo", EXTERNAL, pipeline=args.pipeline, url=args.url)]
    else:
        systems = [System("echo", ECHO, overrides, pipeline=args.pipeline)]
    if args.compare_vanilla:
        systems.append(System("vanilla", VANILLA))
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out_dir = args.out or REPORTS_DIR / f"bench-{stamp}"
    meta = {
        "pipeline": args.pipeline,
        "runs": args.runs,
        "prompts": ",".join(p.id for p in prompts),
        "systems": [s.name for s in systems],
        "echo_overrides": overrides,
        "voices": ",".join(v.name for v in caller_voices),
        "mode": "cold" if args.cold else "warm",
        "callers": ",".join(str(n) for n in args.callers),
    }
    return BenchPlan(
        systems=systems,
        prompts=prompts,
        runs=args.runs,
        out_dir=Path(out_dir),
        cache_dir=settings.data_dir / "bench" / "prompts",
        voice=settings.piper_voice,
        voices=caller_voices,
        cold=args.cold,
        callers=args.callers[0],
        caller_counts=args.callers,
        answer_timeout=args.answer_timeout,
        progress=not args.no_progress,
        meta=meta,
    )


def cmd_bench(args: argparse.Namespace, settings: EchoSettings) -> int:
    """Run the bench and write its report; prints where the files are."""
    from tqdm import tqdm

    from benchmarks.voice import report, stats
    from benchmarks.voice.overhead import measure
    from benchmarks.voice.run import execute
    from benchmarks.voice.servers import ServerStartError

    try:
        plan = plan_from_args(args, settings)
    except ValueError as e:
        print(f"echo-agent bench: {e}", file=sys.stderr)
        return 2
    plan.out_dir.mkdir(parents=True, exist_ok=True)
    calls = sum(len(plan.voices) if n == 1 else n for n in plan.caller_counts)
    total = plan.runs * len(plan.prompts) * len(plan.systems) * calls
    print(
        f"bench: {len(plan.systems)} system(s) × {len(plan.prompts)} prompt(s) × "
        f"{plan.runs} run(s) → {plan.out_dir}",
        flush=True,
    )
    bar = tqdm(total=total, unit="turn", disable=not plan.progress, file=sys.stderr)

    def step(label: str) -> None:
        bar.set_postfix_str(label, refresh=False)
        bar.update(1)

    try:
        rows = execute(plan, on_step=step)
    except ServerStartError as e:
        print(f"echo-agent bench: {e}", file=sys.stderr)
        return 1
    except (RuntimeError, OSError, TimeoutError) as e:
        logs = ", ".join(str(plan.out_dir / f"{s}.log") for s in ("echo", "vanilla"))
        print(f"echo-agent bench: the call failed: {e} (server logs: {logs})", file=sys.stderr)
        return 1
    finally:
        bar.close()
    plan.meta["observer_overhead"] = measure()
    data = stats.summary(rows, plan.meta)
    text = report.render(data)
    if args.study:
        text += "\n\nVAD / turn tuning study (client gap, ms):\n" + report.study_table(rows)
    csv_path = report.write_csv(rows, plan.out_dir / "turns.csv")
    png_path = report.plot(rows, plan.out_dir / "breakdown.png")
    report.write_json(data, plan.out_dir / "summary.json")
    (plan.out_dir / "report.txt").write_text(text + "\n")
    print(text)
    print(f"\nwrote {csv_path}, {png_path}, {plan.out_dir / 'summary.json'}")
    return 0
