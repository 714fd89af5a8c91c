"""The vocabulary evaluation matrix on a few generated WAVs: it runs and reports (no thresholds)."""

import csv

import pytest

from benchmarks.vocab_matrix import main
from vocabulary.evaluation import wilson_interval

pytestmark = pytest.mark.slow


def test_wilson_interval():
    assert wilson_interval(0, 0) is None
    lo, hi = wilson_interval(19, 20)
    assert 0.75 < lo < 0.95 < hi <= 1.0
    assert wilson_interval(20, 20)[1] == 1.0


def test_matrix_on_two_utterances_two_voices(tmp_path, capsys):
    out = tmp_path / "report"
    code = main(
        [
            "--voices", "piper-a,espeak-a",
            "--conditions", "clean,noise",
            "--limit", "2",
            "--work", str(tmp_path / "work"),
            "--out", str(out),
        ]
    )  # fmt: skip
    assert code == 0
    rows = list(csv.DictReader((out / "matrix.csv").open()))
    assert [(r["voice"], r["condition"]) for r in rows] == [
        ("piper-a", "clean"),
        ("piper-a", "noise"),
        ("espeak-a", "clean"),
        ("espeak-a", "noise"),
    ]
    for r in rows:
        assert r["utterances"] == "2" and 0.0 <= float(r["term_accuracy"]) <= 1.0
        assert float(r["ci95_low"]) <= float(r["term_accuracy"]) <= float(r["ci95_high"])
    printed = capsys.readouterr().out
    assert "terms [95% CI]" in printed and "espeak-a" in printed
