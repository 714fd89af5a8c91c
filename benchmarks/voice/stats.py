"""The bench's statistics: per system, per column, per run, and the Echo / vanilla ratios.

Latency statistics use *measured* rows only (answered, not cut off). Percentiles are linear
interpolations (:func:`observers.latency_record.percentile`). Ratios A/B are computed per run from
interleaved runs (both systems played the same prompts in the same minutes) and reported
with their min–max over runs, plus the ratio of the pooled percentiles. :func:`summary` is
everything the report prints, JSON-ready.
"""

from __future__ import annotations

from typing import Any

from benchmarks.voice.rows import TurnRow
from observers.latency_record import (
    ALL_STAGES,
    CASCADED,
    percentile,
    stage_labels,
    stages_of,
)

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
    """How the answered prompts were answered (``replies.reply_kind``; ``?``: unknown)."""
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
