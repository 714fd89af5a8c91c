"""``echo-agent transcribe`` and ``echo-agent eval-vocab`` (wired into cli.py by the lead).

Both build the transcription path from Echo's settings exactly as the cascaded pipeline
does (:func:`build_transcriber`): the same Whisper model, compute type and mel window, the
same biased second pass, and the same corrector and threshold as
``VocabularyCorrectionProcessor``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from vocabulary.correction import DEFAULT_THRESHOLD
from vocabulary.entries import VocabularyError
from vocabulary.lexicon import Lexicon

if TYPE_CHECKING:
    from config import EchoSettings
    from speech.transcriber import Transcriber


def load_lexicon(settings: EchoSettings, path: Path | None = None) -> Lexicon:
    """The deployment vocabulary: ``path`` if given, else ``settings.vocabulary_path``."""
    return Lexicon.load(path or settings.vocabulary_path)


def build_transcriber(
    settings: EchoSettings,
    lexicon: Lexicon | None,
    *,
    correction: bool | None = None,
    biasing: bool | None = None,
    pad_seconds: float | None = None,
) -> Transcriber:
    """The shared transcription path configured from Echo's settings.

    Args:
        settings: Echo's settings (whisper_model, whisper_compute_type, whisper_pad_seconds,
            vocabulary_correction, and whisper_biasing when present).
        lexicon: Deployment vocabulary (None: plain STT).
        correction: Override ``settings.vocabulary_correction``.
        biasing: Override the biased second pass (default on with a vocabulary).
        pad_seconds: Override ``settings.whisper_pad_seconds``.
    """
    from speech.transcriber import Transcriber

    if correction is None:
        correction = settings.vocabulary_correction
    if biasing is None:
        biasing = settings.whisper_biasing
    return Transcriber(
        settings.whisper_model_path(),
        compute_type=settings.whisper_compute_type,
        pad_seconds=pad_seconds if pad_seconds is not None else settings.whisper_pad_seconds,
        lexicon=lexicon,
        biasing=biasing,
        correction=correction,
        threshold=DEFAULT_THRESHOLD,
    )


def add_eval_inputs(
    parser: argparse.ArgumentParser, *, audio_dir_help: str, audio_dir_required: bool
) -> None:
    """The inputs of a command that scores an STT: utterance TSV, its audio, vocabulary."""
    parser.add_argument("--utterances", type=Path, required=True, help="TSV: id, text, terms")
    parser.add_argument("--audio-dir", type=Path, required=audio_dir_required, help=audio_dir_help)
    parser.add_argument("--vocabulary", type=Path, help="vocabulary file (default: settings)")


def add_commands(subparsers) -> None:
    """Add ``transcribe`` and ``eval-vocab`` to an argparse sub-command set."""
    tr = subparsers.add_parser(
        "transcribe",
        help="transcribe WAV files with Echo's STT and vocabulary correction",
        description="Print one JSON object per WAV: "
        '{"file", "raw", "text", "corrections"} (raw: STT output, text: corrected).',
    )
    tr.add_argument("wavs", nargs="+", type=Path, metavar="WAV", help="16-bit PCM WAV files")
    tr.add_argument("--vocabulary", type=Path, help="vocabulary file (default: settings)")
    tr.add_argument("--no-correction", action="store_true", help="print the STT output only")
    tr.add_argument("--details", action="store_true", help="add first pass, hotwords and timings")
    tr.set_defaults(func=run_transcribe)

    ev = subparsers.add_parser(
        "eval-vocab",
        help="term accuracy, false terms and WER of raw vs corrected transcripts",
        description="Transcribe <audio-dir>/<id>.wav for each row of an utterance TSV "
        "(id, text, terms) and score plain STT, STT output and corrected text.",
    )
    add_eval_inputs(ev, audio_dir_help="directory of <id>.wav", audio_dir_required=True)
    ev.add_argument("--report", type=Path, help="JSON report (default: reports/...)")
    ev.add_argument("--no-biasing", action="store_true", help="single STT pass only")
    ev.add_argument("--pad-seconds", type=float, help="override the mel window")
    ev.add_argument("--no-progress", action="store_true", help="no progress bar")
    ev.set_defaults(func=run_eval_vocab)


def run_transcribe(args: argparse.Namespace, settings: EchoSettings) -> int:
    """Handler of ``echo-agent transcribe``; returns the exit code."""
    from vocabulary.evaluation import EvaluationError, load_wav

    try:
        lexicon = load_lexicon(settings, args.vocabulary)
    except VocabularyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    correction = False if args.no_correction else None
    transcriber = build_transcriber(settings, lexicon, correction=correction)
    failed = 0
    for path in args.wavs:
        try:
            audio = load_wav(path)
        except EvaluationError as exc:
            print(f"error: {exc}", file=sys.stderr)
            failed += 1
            continue
        result = transcriber.transcribe(audio)
        out = {
            "file": str(path),
            "raw": result.raw,
            "text": result.text,
            "corrections": [c.to_dict() for c in result.corrections],
        }
        if args.details:
            out["first_pass"] = result.first_pass
            out["hotwords"] = result.hotwords
            out["timings_ms"] = {k: round(v, 1) for k, v in result.timings.items()}
        print(json.dumps(out, ensure_ascii=False), flush=True)
    return 1 if failed else 0


def run_eval_vocab(args: argparse.Namespace, settings: EchoSettings) -> int:
    """Handler of ``echo-agent eval-vocab``; returns the exit code."""
    from vocabulary.evaluation import (
        ORDINARY_SENTENCES,
        EvaluationError,
        evaluate,
        ordinary_check,
        read_sentences,
        read_utterances,
    )

    try:
        lexicon = load_lexicon(settings, args.vocabulary)
        utterances = read_utterances(args.utterances)
    except (VocabularyError, EvaluationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    transcriber = build_transcriber(
        settings,
        lexicon,
        correction=True,
        biasing=False if args.no_biasing else None,
        pad_seconds=args.pad_seconds,
    )
    try:
        report = evaluate(
            lambda audio: transcriber.transcribe(audio, with_baseline=True),
            utterances,
            args.audio_dir,
            lexicon,
            progress=not args.no_progress,
        )
    except EvaluationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    report["ordinary_text"] = ordinary_check(read_sentences(ORDINARY_SENTENCES), lexicon)
    report["config"] = {
        "utterances": str(args.utterances),
        "audio_dir": str(args.audio_dir),
        "vocabulary": lexicon.source,
        "terms": len(lexicon.terms),
        "whisper_model": settings.whisper_model,
        "compute_type": settings.whisper_compute_type,
        "pad_seconds": transcriber.pad_seconds,
        "biasing": transcriber.biasing,
        "threshold": DEFAULT_THRESHOLD,
    }
    path = args.report or Path("reports") / f"eval-vocab-{args.audio_dir.name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(format_summary(report))
    print(f"report: {path}")
    return 0


def format_summary(report: dict) -> str:
    """Human-readable table of an eval-vocab report."""
    labels = {
        "baseline": "plain STT (1 pass)",
        "raw": "STT output (raw)",
        "text": "corrected (text)",
    }
    lines = [
        f"{'stage':22s} {'term acc [95% CI]':>21s} {'found/said':>11s} {'false':>6s} "
        f"{'false/50':>9s} {'WER':>7s}"
    ]
    for stage, label in labels.items():
        s = report["summary"][stage]
        acc = f"{s['term_accuracy']:.3f}" if s["term_accuracy"] is not None else "-"
        if s.get("term_accuracy_ci95"):
            lo, hi = s["term_accuracy_ci95"]
            acc += f" [{lo:.2f}-{hi:.2f}]"
        lines.append(
            f"{label:22s} {acc:>21s} {s['terms_found']:>5d}/{s['terms_said']:<5d} "
            f"{s['false_terms']:>6d} {s['false_terms_per_50']:>9.2f} {s['wer']:>7.3f}"
        )
    lines.append(f"second pass ran on {report['second_pass_runs']} of {len(report['rows'])}")
    for stage, t in report["timing"].items():
        lines.append(
            f"  {stage:8s} mean {t['mean_ms']:7.1f} ms  p50 {t['p50_ms']:7.1f}  "
            f"p95 {t['p95_ms']:7.1f}  (n={t['count']})"
        )
    if "ordinary_text" in report:
        o = report["ordinary_text"]
        lines.append(
            f"ordinary sentences changed by the corrector: {o['changed']}/{o['sentences']}"
        )
    return "\n".join(lines)
