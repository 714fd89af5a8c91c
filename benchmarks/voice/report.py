"""Bench outputs: the printed table, the study table, the CSV, the stacked-bar chart, the JSON.

The figures come from :func:`benchmarks.voice.stats.summary`; this module only presents them,
against the targets below.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

from benchmarks.voice.rows import TurnRow
from benchmarks.voice.stats import (
    column_stats,
    columns_for,
    cutoffs,
    describe,
    kinds_of,
    stage_names,
    systems_of,
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
    """One row per prompt played (see :class:`benchmarks.voice.rows.TurnRow`)."""
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
