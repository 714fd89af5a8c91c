"""Bench outputs: statistics, the printed table, the CSV, the stacked-bar chart, the JSON.

Latency statistics use *measured* rows only (answered, not cut off). Percentiles are linear
interpolations (:func:`observers.latency.percentile`). Ratios A/B are computed per run from
interleaved runs (both systems played the same prompts in the same minutes) and reported
with their min–max over runs, plus the ratio of the pooled percentiles.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from bench.run import TurnRow
from observers.latency import ALL_STAGES, CASCADED, percentile, stage_labels, stages_of

_HEAD: tuple[tuple[str, str], ...] = (
    ("client_gap_ms", "client gap (speech end sent → first bot voice received)"),
    ("server_total_ms", "server voice-to-voice (speech end → bot started)"),
)
_TAIL: tuple[tuple[str, str], ...] = (
    ("transport_ms", "  transport (client gap − server total)"),
    ("input_ms", "    in: speech end sent → server's speech end (VAD lag)"),
    ("playout_ms", "    out: bot started → first voice received"),
)


def stage_names(kinds: list[str]) -> list[str]:
    """The stages turns of these kinds have, in display order (cascaded when none)."""
    present = {s for k in (kinds or [CASCADED]) for s in stages_of(k)}
    return [s for s in ALL_STAGES if s in present]


def columns_for(kinds: list[str]) -> list[tuple[str, str]]:
    """The columns to show, with labels, for a system whose turns are of these kinds."""
    kinds = kinds or [CASCADED]
    labels: dict[str, str] = {}
    for kind in reversed(kinds):  # the first kind's label wins for a shared stage
        labels.update(stage_labels(kind))
    stages = [(f"{s}_ms", f"  {labels[s]}") for s in stage_names(kinds)]
    return [*_HEAD, *stages, *_TAIL]


# Cascaded columns, in display order, with their labels.
COLUMNS: tuple[tuple[str, str], ...] = tuple(columns_for([CASCADED]))
# Every column summarised (the stats of a stage a system's turns lack have n = 0).
ALL_COLUMNS: tuple[str, ...] = (
    *(c for c, _ in _HEAD),
    *(f"{s}_ms" for s in ALL_STAGES),
    *(c for c, _ in _TAIL),
)
STAGE_COLORS = {
    "vad": "#8da0cb",
    "stt": "#66c2a5",
    "turn": "#fc8d62",
    "llm": "#e78ac3",
    "tts": "#a6d854",
    "model": "#e5c494",
    "output": "#ffd92f",
    "input": "#d9d9d9",
    "playout": "#969696",
}
TARGET_P50_MS = 400.0
TARGET_P90_MS = 600.0
TARGET_RATIO = 0.5
TARGET_CUTOFF = 0.05


def systems_of(rows: list[TurnRow]) -> list[str]:
    """System names in first-seen order."""
    return list(dict.fromkeys(r.group for r in rows))


def kinds_of(rows: list[TurnRow]) -> list[str]:
    """The server turn kinds among the rows, first seen first (rows without a turn: none)."""
    return list(dict.fromkeys(r.turn_kind for r in rows if r.turn_kind))


def describe(values: list[float]) -> dict[str, Any]:
    """n, mean, p50, p90, min, max of some values."""
    return {
        "n": len(values),
        "mean": sum(values) / len(values) if values else None,
        "p50": percentile(values, 50),
        "p90": percentile(values, 90),
        "min": min(values) if values else None,
        "max": max(values) if values else None,
    }


def column_stats(rows: list[TurnRow]) -> dict[str, dict[str, Any]]:
    """Per column (:data:`ALL_COLUMNS`): n/p50/p90/min/max over the measured rows."""
    measured = [r for r in rows if r.measured]
    return {
        col: describe([v for r in measured if (v := getattr(r, col)) is not None])
        for col in ALL_COLUMNS
    }


def cutoffs(rows: list[TurnRow]) -> dict[str, Any]:
    """False cut-offs: on the paused prompts (the rate the target is about) and overall."""
    paused = [r for r in rows if r.kind == "paused"]
    return {
        "paused_prompts": len(paused),
        "paused_cut_off": sum(r.cut_off for r in paused),
        "paused_rate": (sum(r.cut_off for r in paused) / len(paused)) if paused else None,
        "all_prompts": len(rows),
        "all_cut_off": sum(r.cut_off for r in rows),
        "unanswered": sum(not r.answered for r in rows),
        "pause_kept_in_one_turn": sum(
            1 for r in paused if r.measured and (r.vad_segments or 0) >= 2
        ),
    }


def reply_counts(rows: list[TurnRow]) -> dict[str, int]:
    """How the answered prompts were answered (``bench.replies.reply_kind``; ``?``: unknown)."""
    out: dict[str, int] = {}
    for r in rows:
        if r.answered:
            key = r.reply_kind or "?"
            out[key] = out.get(key, 0) + 1
    return out


def server_vs_client(rows: list[TurnRow]) -> dict[str, Any]:
    """Per turn, client gap − server voice-to-voice (ms): p50/max of its size, and signs.

    The server's figure runs from the end of speech as its VAD saw it to the first bot
    audio sent; the client's from the last voiced sample sent to the first voiced sample
    received. What is left is the transport both ways (and the VAD's dating error).
    """
    diffs = [
        r.client_gap_ms - r.server_total_ms
        for r in rows
        if r.measured and r.server_total_ms is not None
    ]
    stats = describe([abs(d) for d in diffs])
    stats["server_negative"] = sum(
        1 for r in rows if r.server_total_ms is not None and r.server_total_ms < 0
    )
    stats["server_above_client"] = sum(1 for d in diffs if d < 0)
    return stats


def per_run(rows: list[TurnRow], system: str) -> dict[int, dict[str, Any]]:
    """Client-gap p50/p90 per run for one system."""
    out = {}
    for run in sorted({r.run for r in rows if r.group == system}):
        gaps = [r.client_gap_ms for r in rows if r.group == system and r.run == run and r.measured]
        out[run] = describe(gaps)
    return out


def ratios(rows: list[TurnRow], a: str, b: str) -> dict[str, Any]:
    """Client-gap ratio a/b per percentile: per interleaved run, and pooled."""
    ra, rb = per_run(rows, a), per_run(rows, b)
    out: dict[str, Any] = {}
    pooled_a = column_stats([r for r in rows if r.group == a])["client_gap_ms"]
    pooled_b = column_stats([r for r in rows if r.group == b])["client_gap_ms"]
    for q in ("p50", "p90"):
        runs = [
            ra[k][q] / rb[k][q]
            for k in ra
            if k in rb and ra[k][q] is not None and rb[k][q] not in (None, 0)
        ]
        pooled = (
            pooled_a[q] / pooled_b[q]
            if pooled_a[q] is not None and pooled_b[q] not in (None, 0)
            else None
        )
        out[q] = {
            "pooled": pooled,
            "runs": runs,
            "min": min(runs) if runs else None,
            "max": max(runs) if runs else None,
        }
    return out


def summary(rows: list[TurnRow], meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """Everything the report prints, JSON-ready."""
    systems = systems_of(rows)
    out: dict[str, Any] = {"meta": meta or {}, "systems": {}}
    for name in systems:
        mine = [r for r in rows if r.group == name]
        out["systems"][name] = {
            "turn_kinds": kinds_of(mine),
            "stats": column_stats(mine),
            "runs": per_run(rows, name),
            "by_prompt_kind": {
                kind: describe([r.client_gap_ms for r in mine if r.kind == kind and r.measured])
                for kind in sorted({r.kind for r in mine})
            },
            "cutoffs": cutoffs(mine),
            "wer": describe([r.wer for r in mine if r.measured and r.wer is not None]),
            "replies": reply_counts(mine),
            "audio_gap_ms": describe([r.audio_gap_ms for r in mine if r.audio_gap_ms is not None]),
            "server_vs_client": server_vs_client(mine),
        }
    if "echo" in systems and "vanilla" in systems:
        out["ratio_echo_over_vanilla"] = ratios(rows, "echo", "vanilla")
    return out


def _fmt(v: float | None, unit: str = "") -> str:
    return "—" if v is None else f"{v:.0f}{unit}"


def _range(values: list[float | None]) -> str:
    xs = [v for v in values if v is not None]
    return "—" if not xs else f"{min(xs):.0f}–{max(xs):.0f}"


def render(data: dict[str, Any]) -> str:
    """The human-readable report (ms)."""
    lines: list[str] = []
    meta = data.get("meta") or {}
    if meta:
        lines.append(
            "bench: "
            + ", ".join(f"{k}={v}" for k, v in meta.items() if k not in ("observer_overhead",))
        )
    for name, sys_data in data["systems"].items():
        stats, cut = sys_data["stats"], sys_data["cutoffs"]
        kinds = sys_data.get("turn_kinds") or []
        lines.append("")
        lines.append(
            f"== {name} ==  (ms; measured turns: {stats['client_gap_ms']['n']}"
            + (f"; turns: {', '.join(kinds)}" if kinds else "")
            + ")"
        )
        lines.append(f"{'':58} {'p50':>6} {'p90':>6} {'min':>6} {'max':>6} {'n':>4}")
        for col, label in columns_for(kinds):
            s = stats[col]
            lines.append(
                f"{label:58} {_fmt(s['p50']):>6} {_fmt(s['p90']):>6} "
                f"{_fmt(s['min']):>6} {_fmt(s['max']):>6} {s['n']:>4}"
            )
        runs = sys_data["runs"]
        if runs:
            p50s = [r["p50"] for r in runs.values()]
            p90s = [r["p90"] for r in runs.values()]
            per = "  ".join(f"run {k}: {_fmt(v['p50'])}/{_fmt(v['p90'])}" for k, v in runs.items())
            lines.append(f"client gap p50/p90 per run: {per}")
            lines.append(
                f"client gap over {len(runs)} run(s): p50 {_range(p50s)} ms, p90 {_range(p90s)} ms"
            )
        by_kind = sys_data.get("by_prompt_kind") or {}
        if len(by_kind) > 1:
            lines.append(
                "client gap by prompt kind: "
                + "; ".join(
                    f"{kind} p50/p90 {_fmt(v['p50'])}/{_fmt(v['p90'])} (n={v['n']})"
                    for kind, v in by_kind.items()
                )
            )
        rate = cut["paused_rate"]
        lines.append(
            f"false cut-offs on paused prompts: {cut['paused_cut_off']}/{cut['paused_prompts']}"
            + (f" ({rate:.0%})" if rate is not None else "")
            + f"; all prompts: {cut['all_cut_off']}/{cut['all_prompts']};"
            + f" unanswered: {cut['unanswered']}"
        )
        wer = sys_data.get("wer") or {}
        if wer.get("n"):
            lines.append(
                f"transcript word error rate: mean {wer['mean']:.2f}, max {wer['max']:.2f}"
                f" over {wer['n']} turns"
            )
        replies = sys_data.get("replies") or {}
        if replies:
            lines.append(
                "replies to answered prompts: "
                + ", ".join(f"{k} {v}" for k, v in sorted(replies.items()))
            )
        diff = sys_data.get("server_vs_client") or {}
        if diff.get("n"):
            lines.append(
                f"server voice-to-voice vs client gap, per turn: |diff| p50 {diff['p50']:.0f} ms,"
                f" max {diff['max']:.0f} ms over {diff['n']} turns; server figure negative"
                f" {diff['server_negative']}, above the client's {diff['server_above_client']}"
            )
        stall = sys_data.get("audio_gap_ms") or {}
        if stall.get("n"):
            lines.append(
                f"longest wait between bot audio packets per prompt: p50 {stall['p50']:.0f} ms,"
                f" max {stall['max']:.0f} ms (packets every 20 ms)"
            )
        gap = stats["client_gap_ms"]
        if gap["p50"] is not None and name.startswith("echo"):
            ok = [
                f"p50 {'≤' if gap['p50'] <= TARGET_P50_MS else '>'} {TARGET_P50_MS:.0f}",
                f"p90 {'≤' if gap['p90'] <= TARGET_P90_MS else '>'} {TARGET_P90_MS:.0f}",
            ]
            if rate is not None:
                ok.append(f"cut-off {'≤' if rate <= TARGET_CUTOFF else '>'} {TARGET_CUTOFF:.0%}")
            lines.append("targets: " + ", ".join(ok))
    ratio = data.get("ratio_echo_over_vanilla")
    if ratio:
        lines.append("")
        lines.append("Echo / vanilla client gap (interleaved runs):")
        for q in ("p50", "p90"):
            r = ratio[q]
            runs = ", ".join(f"{x:.2f}" for x in r["runs"])
            pooled = "—" if r["pooled"] is None else f"{r['pooled']:.2f}"
            lines.append(f"  {q}: {pooled} pooled; per run [{runs}]")
        if ratio["p50"]["pooled"] is not None:
            mark = "≤" if ratio["p50"]["pooled"] <= TARGET_RATIO else ">"
            lines.append(f"  target p50 ratio {mark} {TARGET_RATIO}")
    overhead = meta.get("observer_overhead")
    if overhead:
        lines.append("")
        lines.append(
            f"LatencyObserver cost: {overhead['mean_us']:.1f} µs/frame mean, "
            f"{overhead['p99_us']:.1f} µs p99, {overhead['max_us']:.1f} µs max "
            f"over {overhead['frames']} frames (target < 1000 µs)"
        )
    return "\n".join(lines)


def write_csv(rows: list[TurnRow], path: Path) -> Path:
    """One row per prompt played (see :class:`bench.run.TurnRow`)."""
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=TurnRow.columns())
        writer.writeheader()
        for row in rows:
            writer.writerow(row.to_csv())
    return path


def write_json(data: dict[str, Any], path: Path) -> Path:
    """The summary as JSON."""
    path.write_text(json.dumps(data, indent=2, default=str))
    return path


def plot(rows: list[TurnRow], path: Path) -> Path:
    """Stacked bars of the breakdown per turn, one panel per system, targets as lines.

    Each bar is one prompt played: the input leg (speech end sent → the server's estimate
    of it), the server stages (cascaded: vad, stt, turn, llm, tts, output; speech to
    speech: vad, model, output), then the playout leg up to the first voice received; a black
    tick marks the client gap (the bar's height when every part is known). Cut-off prompts are
    marked with a red ✕ and unanswered ones with a grey ○ at the bottom.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    systems = systems_of(rows)
    fig, axes = plt.subplots(
        len(systems),
        1,
        figsize=(max(8.0, 0.28 * max(len(rows) / max(1, len(systems)), 1) + 3), 3.2 * len(systems)),
        squeeze=False,
    )
    for ax, name in zip(axes[:, 0], systems, strict=True):
        mine = [r for r in rows if r.group == name]
        kinds = kinds_of(mine)
        parts = ["input", *stage_names(kinds), "playout"]
        xs = list(range(len(mine)))
        bottoms = [0.0] * len(mine)
        for part in parts:
            heights = [max(0.0, getattr(r, f"{part}_ms") or 0.0) for r in mine]
            ax.bar(
                xs,
                heights,
                bottom=bottoms,
                color=STAGE_COLORS[part],
                label=part,
                width=0.8,
            )
            bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
        gaps = [(x, r.client_gap_ms) for x, r in enumerate(mine) if r.client_gap_ms is not None]
        if gaps:
            ax.scatter([x for x, _ in gaps], [g for _, g in gaps], marker="_", color="black", s=80)
        for x, r in zip(xs, mine, strict=True):
            if r.cut_off:
                ax.scatter([x], [20], marker="x", color="red", s=40, zorder=5)
            elif not r.answered:
                ax.scatter([x], [20], marker="o", facecolors="none", color="grey", s=40)
        ax.axhline(TARGET_P50_MS, color="green", linestyle="--", linewidth=0.8)
        ax.axhline(TARGET_P90_MS, color="orange", linestyle="--", linewidth=0.8)
        kind = f" ({', '.join(k.replace('_', '-') for k in kinds)})" if kinds else ""
        ax.set_title(f"{name}{kind}: voice-to-voice breakdown per turn")
        ax.set_ylabel("ms")
        ax.set_xticks(xs)
        ax.set_xticklabels([f"{r.run}:{r.prompt_id}" for r in mine], rotation=90, fontsize=6)
        ax.legend(fontsize=6, ncol=4, loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def study_table(rows: list[TurnRow]) -> str:
    """One line per configuration: latency percentiles and the false cut-off rate."""
    lines = [
        f"{'configuration':44} {'p50':>6} {'p90':>6} {'max':>6} {'n':>4} "
        f"{'cut-off (paused)':>17} {'cut-off (all)':>14} {'unans.':>6} {'WER':>5}"
    ]
    for name in systems_of(rows):
        mine = [r for r in rows if r.group == name]
        gap = column_stats(mine)["client_gap_ms"]
        cut = cutoffs(mine)
        wer = describe([r.wer for r in mine if r.measured and r.wer is not None])["mean"]
        paused = f"{cut['paused_cut_off']}/{cut['paused_prompts']}"
        if cut["paused_rate"] is not None:
            paused += f" {cut['paused_rate']:.0%}"
        lines.append(
            f"{name:44} {_fmt(gap['p50']):>6} {_fmt(gap['p90']):>6} {_fmt(gap['max']):>6} "
            f"{gap['n']:>4} {paused:>17} {cut['all_cut_off']:>7}/{cut['all_prompts']:<6} "
            f"{cut['unanswered']:>6} {'—' if wer is None else f'{wer:.2f}':>5}"
        )
    return "\n".join(lines)
