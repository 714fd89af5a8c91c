"""Term accuracy per voice and condition: the vocabulary evaluation Echo is judged by.

For an utterance set (default: the frozen fresh held-out set), every voice × condition is
synthesized into ``--work`` (cached: an existing WAV is reused), transcribed and corrected
with ``echo-agent eval-vocab`` (the same Transcriber and corrector as the pipeline), and
summarized in one table: corrected term accuracy with its 95 % Wilson interval, invented
terms per utterance, WER, and the plain one-pass STT's term accuracy beside it.

Voices: the bundled Piper voice at two paces, espeak-ng at two voices and rates. Conditions:
clean, light noise (SNR 15–25 dB), and the telephone band (the clean audio through 8 kHz
μ-law and back, as a Twilio call delivers it: ``scripts/telephone_band.py``).

    .venv/bin/python benchmarks/vocab_matrix.py --out reports/vocab-matrix
    .venv/bin/python benchmarks/vocab_matrix.py --voices piper-a --conditions clean --limit 3
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_SET = ROOT / "vocabulary" / "data" / "fresh_heldout_utterances.tsv"
VOICES = {
    "piper-a": ["--voice", "piper", "--pace", "0.95", "1.05"],
    "piper-b": ["--voice", "piper", "--pace", "0.75", "0.85"],
    "espeak-a": ["--voice", "espeak", "--espeak-voice", "en-us", "--pace", "150", "170"],
    "espeak-b": ["--voice", "espeak", "--espeak-voice", "en-us+f3", "--pace", "135", "150"],
}
CONDITIONS = ("clean", "noise", "phone")


def chosen_cells(
    parser: argparse.ArgumentParser, voices: str, conditions: str, allowed=CONDITIONS
) -> tuple[list[str], list[str]]:
    """The ``--voices`` and ``--conditions`` lists; an unknown name is a usage error."""
    voice_list = [v for v in voices.split(",") if v]
    condition_list = [c for c in conditions.split(",") if c]
    unknown = [v for v in voice_list if v not in VOICES]
    unknown += [c for c in condition_list if c not in allowed]
    if unknown:
        parser.error(f"unknown voice/condition: {', '.join(unknown)}")
    return voice_list, condition_list


def run(cmd: list[str], env: dict | None = None) -> None:
    """Run a step; a failure stops the matrix with the step's own output."""
    done = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
    if done.returncode != 0:
        sys.stderr.write(done.stdout[-4000:] + done.stderr[-4000:])
        raise SystemExit(f"step failed ({done.returncode}): {' '.join(cmd[:4])} ...")


def synthesize(utterances: Path, voice: str, condition: str, work: Path, limit: int | None) -> Path:
    """The WAV directory of one voice × condition (built once, then reused)."""
    python = sys.executable
    clean = work / f"{voice}-clean"
    only = _ids(utterances, limit)
    if condition in ("clean", "phone") and not _complete(clean, only):
        run([python, "scripts/synth_utterances.py", "--utterances", str(utterances),
             "--out", str(clean), "--no-noise", *VOICES[voice], "--only", *only])  # fmt: skip
    if condition == "clean":
        return clean
    out = work / f"{voice}-{condition}"
    if not _complete(out, only):
        if condition == "noise":
            noisy = ["--out", str(out), "--snr-db", "15", "25", *VOICES[voice], "--only", *only]
            run([python, "scripts/synth_utterances.py", "--utterances", str(utterances), *noisy])
        else:
            run([python, "scripts/telephone_band.py", "--in", str(clean), "--out", str(out)])
    return out


def _ids(utterances: Path, limit: int | None) -> list[str]:
    with utterances.open(encoding="utf-8", newline="") as f:
        ids = [row["id"] for row in csv.DictReader(f, delimiter="\t")]
    return ids[:limit] if limit else ids


def _complete(directory: Path, ids: list[str]) -> bool:
    return directory.is_dir() and all((directory / f"{i}.wav").exists() for i in ids)


def evaluate(utterances: Path, audio: Path, report: Path, vocabulary: Path | None) -> dict:
    """``echo-agent eval-vocab`` on one directory; its JSON report."""
    env = {**os.environ, "ECHO_WHISPER_PAD_SECONDS": "10"}
    cmd = [sys.executable, "-m", "cli", "eval-vocab", "--utterances", str(utterances),
           "--audio-dir", str(audio), "--report", str(report)]  # fmt: skip
    if vocabulary is not None:
        cmd += ["--vocabulary", str(vocabulary)]
    run(cmd, env=env)
    return json.loads(report.read_text())


def row_of(voice: str, condition: str, report: dict) -> dict:
    """One table row from an eval-vocab report."""
    text, base = report["summary"]["text"], report["summary"]["baseline"]
    n = text["utterances"] or 1
    lo, hi = text.get("term_accuracy_ci95") or (None, None)
    return {
        "voice": voice,
        "condition": condition,
        "utterances": text["utterances"],
        "term_accuracy": text["term_accuracy"],
        "ci95_low": lo,
        "ci95_high": hi,
        "invented_per_utterance": round(text["false_terms"] / n, 3),
        "wer": text["wer"],
        "plain_stt_term_accuracy": base["term_accuracy"],
        "plain_stt_wer": base["wer"],
    }


def main(argv: list[str] | None = None) -> int:
    """Build, evaluate and print the matrix; write ``matrix.csv`` and ``matrix.json``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--utterances", type=Path, default=DEFAULT_SET)
    parser.add_argument("--voices", default=",".join(VOICES))
    parser.add_argument("--conditions", default=",".join(CONDITIONS))
    parser.add_argument("--vocabulary", type=Path, help="default: the clinic vocabulary")
    parser.add_argument("--limit", type=int, help="only the first N utterances")
    parser.add_argument("--work", type=Path, default=Path("echo_data/audio/matrix"))
    parser.add_argument("--out", type=Path, default=Path("reports/vocab-matrix"))
    args = parser.parse_args(argv)
    voices, conditions = chosen_cells(parser, args.voices, args.conditions)
    utterances = args.utterances.resolve()
    if args.limit:
        utterances = _first_rows(utterances, args.limit, args.out)
    work, out = args.work.resolve() / utterances.stem, args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for voice in voices:
        for condition in conditions:
            audio = synthesize(utterances, voice, condition, work, args.limit)
            report = evaluate(utterances, audio, out / f"{voice}-{condition}.json", args.vocabulary)
            rows.append(row_of(voice, condition, report))
    with (out / "matrix.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    (out / "matrix.json").write_text(json.dumps(rows, indent=1))
    print(f"{'voice':9s} {'condition':9s} {'n':>3s} {'terms [95% CI]':>20s} {'invented/utt':>12s} "
          f"{'WER':>6s} {'plain STT terms':>15s}")  # fmt: skip
    for r in rows:
        ci = f"{r['term_accuracy']:.3f} [{r['ci95_low']:.2f}-{r['ci95_high']:.2f}]"
        print(f"{r['voice']:9s} {r['condition']:9s} {r['utterances']:>3d} {ci:>20s} "
              f"{r['invented_per_utterance']:>12.3f} {r['wer']:>6.3f} "
              f"{r['plain_stt_term_accuracy']:>15.3f}")  # fmt: skip
    print(f"table: {out / 'matrix.csv'}")
    return 0


def _first_rows(utterances: Path, limit: int, out: Path) -> Path:
    """A copy of the set with its first ``limit`` rows (for a quick run)."""
    out.mkdir(parents=True, exist_ok=True)
    lines = utterances.read_text(encoding="utf-8").splitlines()
    subset = out / f"{utterances.stem}-first{limit}.tsv"
    subset.write_text("\n".join(lines[: limit + 1]) + "\n", encoding="utf-8")
    return subset


if __name__ == "__main__":
    raise SystemExit(main())
