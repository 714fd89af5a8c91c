"""Tables, CSV files and bar-chart PNGs of the ``compare-stt`` / ``compare-tts`` reports."""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np


def write_csv(path: Path, rows: Sequence[dict], columns: Sequence[str]) -> None:
    """Rows as CSV with exactly ``columns`` (None written as an empty cell)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def format_table(rows: Sequence[dict], columns: Sequence[str]) -> str:
    """A plain-text table of ``columns`` (ratios to 3 places, ms to 1, None as "-")."""

    def cell(value: Any, column: str) -> str:
        if value is None:
            return "-"
        if isinstance(value, float):
            return f"{value:.1f}" if column.endswith("_ms") or abs(value) >= 10 else f"{value:.3f}"
        return str(value)

    cells = [[cell(r.get(c), c) for c in columns] for r in rows]
    widths = [max([len(c), *(len(line[i]) for line in cells)]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True))]
    lines += ["  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)) for line in cells]
    return "\n".join(lines)


def bar_chart(
    path: Path,
    rows: Sequence[dict],
    *,
    group: str,
    series: str | None,
    metrics: Sequence[tuple[str, str]],
    title: str,
) -> None:
    """A PNG with one bar panel per metric: ``group`` on the x axis, one bar per ``series``.

    Rows whose status is not "ok" are left out and listed under the title.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ok = [r for r in rows if r.get("status") == "ok"]
    left_out = sorted({r[series or group] for r in rows if r.get("status") != "ok"})
    groups = list(dict.fromkeys(r[group] for r in ok))
    names = list(dict.fromkeys(r[series] for r in ok)) if series else [None]
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.8), squeeze=False)
    width = 0.8 / max(1, len(names))
    for ax, (metric, label) in zip(axes[0], metrics, strict=True):
        for i, name in enumerate(names):
            values = []
            for g in groups:
                match = [r for r in ok if r[group] == g and (series is None or r[series] == name)]
                value = match[0].get(metric) if match else None
                values.append(float(value) if value is not None else np.nan)
            x = np.arange(len(groups)) + (i - (len(names) - 1) / 2) * width
            ax.bar(x, values, width, label=name)
        ax.set_xticks(np.arange(len(groups)), groups, rotation=20, fontsize=8)
        ax.set_title(label, fontsize=10)
        ax.grid(axis="y", alpha=0.3)
    if series and names:
        axes[0][0].legend(fontsize=7)
    note = f"\nnot run: {', '.join(left_out)}" if left_out else ""
    fig.suptitle(title + note, fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
