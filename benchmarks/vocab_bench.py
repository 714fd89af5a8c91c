"""Benchmark of Echo's vocabulary path: correction cost and STT time per utterance.

    .venv/bin/python benchmarks/vocab_bench.py [--utterances TSV] [--audio-dir DIR]
        [--vocabulary FILE] [--report reports/vocab_bench.json] [--with-30s]

1. Correction cost per utterance with the case-study vocabulary (2,000 providers + 500
   medications): ``vocabulary.correct`` on every STT transcript (first and biased pass)
   and on the shipped ordinary sentences, each timed ``--repeat`` times → p50/p95/max ms.
   Also ``vocabulary.candidates`` (what picks the biasing terms).
2. STT time per utterance on real audio: one plain pass (beam 5, the configured mel
   window) vs Echo's path (greedy first pass, greedy biased second pass when a doubtful
   span is left, the audio check, then correction) → mean/p50/p95 ms and the ratio, in
   wall time and in process CPU time (steadier when other work shares the machine).
   ``--with-30s`` adds the plain pass in Whisper's own 30 s window (what
   WhisperSTTService does).

Without ``--audio-dir`` the utterances are spoken by the bundled Piper voice into a
temporary directory first (scripts/synth_utterances.py). Prints the figures and writes a
JSON report. Not a test: nothing here asserts a time.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from config import EchoSettings  # noqa: E402
from speech.transcriber import Transcriber  # noqa: E402
from vocabulary import Lexicon, candidates, correct  # noqa: E402
from vocabulary.casestudy import CASE_STUDY_VOCABULARY  # noqa: E402
from vocabulary.evaluation import (  # noqa: E402
    HELDOUT_UTTERANCES,
    ORDINARY_SENTENCES,
    load_wav,
    percentile,
    read_sentences,
    read_utterances,
)


def stats(values: list[float]) -> dict:
    """mean/p50/p95/max of milliseconds."""
    return {
        "n": len(values),
        "mean_ms": round(statistics.fmean(values), 3) if values else 0.0,
        "p50_ms": round(percentile(values, 50), 3),
        "p95_ms": round(percentile(values, 95), 3),
        "max_ms": round(max(values), 3) if values else 0.0,
    }


def synthesize(utterances: Path, out: Path) -> None:
    """Speak the utterances with the bundled Piper voice."""
    script = PROJECT_DIR / "scripts" / "synth_utterances.py"
    subprocess.run(
        [sys.executable, str(script), "--utterances", str(utterances), "--out", str(out)],
        check=True,
    )


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print the figures and write the report."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--utterances", type=Path, default=HELDOUT_UTTERANCES)
    parser.add_argument("--audio-dir", type=Path, help="<id>.wav per utterance (default: synth)")
    parser.add_argument("--vocabulary", type=Path, default=CASE_STUDY_VOCABULARY)
    parser.add_argument("--report", type=Path, default=PROJECT_DIR / "reports/vocab_bench.json")
    parser.add_argument("--repeat", type=int, default=5, help="timings per correction input")
    parser.add_argument("--pad-seconds", type=float, help="override the mel window")
    parser.add_argument("--with-30s", action="store_true", help="also time the 30 s window")
    args = parser.parse_args(argv)

    settings = EchoSettings()
    pad = args.pad_seconds or settings.whisper_pad_seconds
    lexicon = Lexicon.load(args.vocabulary)
    counts: dict[str, int] = {}
    for term in lexicon.terms:
        counts[term.category] = counts.get(term.category, 0) + 1
    print(f"vocabulary {args.vocabulary.name}: {counts}")
    utterances = read_utterances(args.utterances)

    with tempfile.TemporaryDirectory() as tmp:
        audio_dir = args.audio_dir
        if audio_dir is None:
            audio_dir = Path(tmp)
            print(f"synthesizing {len(utterances)} utterances with Piper ...")
            synthesize(args.utterances, audio_dir)
        audios = [load_wav(audio_dir / f"{u.id}.wav") for u in utterances]

    model_dir = settings.whisper_model_path()
    common = {"compute_type": settings.whisper_compute_type, "lexicon": lexicon}
    plain = Transcriber(model_dir, pad_seconds=pad, biasing=False, correction=False, **common)
    echo = Transcriber(model_dir, pad_seconds=pad, biasing=True, correction=True, **common)
    runs = [("plain", plain), ("echo", echo)]
    if args.with_30s:
        runs.append(
            (
                "plain_30s",
                Transcriber(model_dir, pad_seconds=30.0, biasing=False, correction=False, **common),
            )
        )
    for _, transcriber in runs:  # warm up
        transcriber.transcribe(audios[0])

    times: dict[str, list[float]] = {name: [] for name, _ in runs}
    cpu: dict[str, list[float]] = {name: [] for name, _ in runs}
    second_pass = 0
    transcripts: list[str] = []
    print(f"timing STT on {len(audios)} utterances (window {pad:g} s) ...")
    for audio in audios:
        for name, transcriber in runs:
            start = time.process_time()
            result = transcriber.transcribe(audio)
            cpu[name].append((time.process_time() - start) * 1000)
            times[name].append(result.timings["total"])
            if name == "echo":
                second_pass += result.hotwords is not None
                transcripts += [result.first_pass, result.raw]

    inputs = [t for t in transcripts if t] + read_sentences(ORDINARY_SENTENCES)
    correct_ms: list[float] = []
    candidates_ms: list[float] = []
    for text in inputs:
        for _ in range(args.repeat):
            start = time.perf_counter()
            correct(text, lexicon)
            correct_ms.append((time.perf_counter() - start) * 1000)
            start = time.perf_counter()
            candidates(text, lexicon)
            candidates_ms.append((time.perf_counter() - start) * 1000)

    report = {
        "vocabulary": str(args.vocabulary),
        "term_counts": counts,
        "utterances": str(args.utterances),
        "pad_seconds": pad,
        "correction": stats(correct_ms),
        "candidates": stats(candidates_ms),
        "correction_inputs": len(inputs),
        "stt": {name: stats(values) for name, values in times.items()},
        # CPU time of the process (all threads): less sensitive than wall time to other
        # work on a shared machine.
        "stt_cpu": {name: stats(values) for name, values in cpu.items()},
        "second_pass_runs": second_pass,
    }
    plain_mean = report["stt"]["plain"]["mean_ms"]
    report["echo_over_plain"] = round(report["stt"]["echo"]["mean_ms"] / plain_mean, 3)
    report["echo_over_plain_cpu"] = round(
        report["stt_cpu"]["echo"]["mean_ms"] / report["stt_cpu"]["plain"]["mean_ms"], 3
    )

    c = report["correction"]
    print(
        f"correction per utterance ({len(inputs)} inputs x {args.repeat}): "
        f"p50 {c['p50_ms']:.2f} ms  p95 {c['p95_ms']:.2f} ms  max {c['max_ms']:.2f} ms"
    )
    k = report["candidates"]
    print(f"biasing candidates: p50 {k['p50_ms']:.2f} ms  p95 {k['p95_ms']:.2f} ms")
    for name, s in report["stt"].items():
        print(
            f"STT {name:9s}: mean {s['mean_ms']:7.1f} ms  p50 {s['p50_ms']:7.1f}  "
            f"p95 {s['p95_ms']:7.1f}"
        )
    print(
        f"echo (2-pass + correction) / plain single pass: {report['echo_over_plain']:.2f}x "
        f"wall, {report['echo_over_plain_cpu']:.2f}x CPU; "
        f"second pass ran on {second_pass}/{len(audios)}"
    )
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, indent=1) + "\n")
    print(f"report: {args.report}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
