"""``echo-agent compare-stt`` and ``echo-agent compare-tts``: table, CSV and PNG per run.

The logic is :mod:`speech.compare` (STTs) and :mod:`speech.compare_tts` (TTSs); this
module parses the options, reads the inputs and writes ``--out``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from vocabulary.cli import add_eval_inputs

if TYPE_CHECKING:
    from config import EchoSettings

STT_NAMES = ("tiny.en", "base", "deepgram")
TTS_NAMES = ("piper", "espeak", "cartesia", "elevenlabs")


def _names(text: str, known: tuple[str, ...]) -> list[str]:
    names = [n.strip() for n in text.split(",") if n.strip()]
    unknown = [n for n in names if n not in known]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown {', '.join(unknown) or 'empty list'}: choose from {', '.join(known)}"
        )
    return names


def add_commands(subparsers) -> None:
    """Add ``compare-stt`` and ``compare-tts`` to an argparse sub-command set."""
    stt = subparsers.add_parser(
        "compare-stt",
        help="every available STT on the same clips and noise levels: WER, terms, time",
        description="Decode each clip (clean and with noise mixed in at each SNR) with every "
        "available STT; write compare-stt.csv and compare-stt.png to --out.",
    )
    stt.add_argument("clips", nargs="*", type=Path, metavar="CLIP", help="WAVs named <id>.wav")
    add_eval_inputs(
        stt, audio_dir_help="<id>.wav for every TSV row (no CLIPs)", audio_dir_required=False
    )
    stt.add_argument("--noise-snr", default="none,20,10", help="SNRs in dB; 'none': clean")
    stt.add_argument("--noise-color", choices=("white", "pink"), default="white")
    stt.add_argument(
        "--stt",
        type=lambda t: _names(t, STT_NAMES),
        default=list(STT_NAMES),
        help=f"comma-separated subset of {','.join(STT_NAMES)} (default: all)",
    )
    stt.add_argument("--plain", action="store_true", help="also each STT without vocabulary")
    stt.add_argument("--seed", type=int, default=7, help="noise seed")
    stt.add_argument("--deepgram-url", default="https://api.deepgram.com", help=argparse.SUPPRESS)
    stt.add_argument("--out", type=Path, default=Path("reports/compare-stt"))
    stt.set_defaults(func=run_compare_stt)

    tts = subparsers.add_parser(
        "compare-tts",
        help="every available TTS on the same sentences: first audio, RTF, intelligibility",
        description="Speak each sentence with every available TTS through a Pipecat "
        "pipeline and hear it back with Echo's STT; write compare-tts.csv and "
        "compare-tts.png to --out.",
    )
    tts.add_argument("--sentences", type=Path, help="one sentence a line (default: built in)")
    tts.add_argument(
        "--tts",
        type=lambda t: _names(t, TTS_NAMES),
        default=list(TTS_NAMES),
        help=f"comma-separated subset of {','.join(TTS_NAMES)} (default: all)",
    )
    tts.add_argument("--vocabulary", type=Path, help="vocabulary file (default: settings)")
    tts.add_argument("--timeout", type=float, default=60.0, help="seconds per sentence")
    tts.add_argument("--out", type=Path, default=Path("reports/compare-tts"))
    tts.set_defaults(func=run_compare_tts)


def _progress(line: str) -> None:
    print(f"... {line}", file=sys.stderr, flush=True)


def run_compare_stt(args: argparse.Namespace, settings: EchoSettings) -> int:
    """Handler of ``echo-agent compare-stt``; returns the exit code."""
    from speech.compare import (
        STT_COLUMNS,
        compare_stt,
        deepgram_engines,
        parse_snrs,
        resolve_clips,
        whisper_engines,
    )
    from speech.reporting import bar_chart, format_table, write_csv
    from vocabulary.cli import load_lexicon
    from vocabulary.entries import VocabularyError
    from vocabulary.evaluation import EvaluationError, read_utterances

    try:
        snrs = parse_snrs(args.noise_snr)
        lexicon = load_lexicon(settings, args.vocabulary)
        utterances = read_utterances(args.utterances)
        clips = resolve_clips(utterances, audio_dir=args.audio_dir, wavs=args.clips)
    except (ValueError, VocabularyError, EvaluationError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    whisper = [n for n in args.stt if n != "deepgram"]
    engines = whisper_engines(settings, lexicon, whisper, plain=args.plain)
    if "deepgram" in args.stt:
        engines += deepgram_engines(settings, lexicon, plain=args.plain, base_url=args.deepgram_url)
    try:
        rows = compare_stt(
            engines, clips, snrs, lexicon, color=args.noise_color, seed=args.seed,
            progress=_progress,
        )  # fmt: skip
    except EvaluationError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    columns = [c for c in STT_COLUMNS if c != "note"]
    print(format_table(rows, columns))
    write_csv(args.out / "compare-stt.csv", rows, STT_COLUMNS)
    bar_chart(
        args.out / "compare-stt.png", rows, group="noise", series="stt",
        metrics=[("wer", "WER"), ("term_accuracy", "term accuracy"),
                 ("time_p50_ms", "time per clip p50 (ms)")],
        title=f"compare-stt: {len(clips)} clips, {args.noise_color} noise",
    )  # fmt: skip
    print(f"table: {args.out / 'compare-stt.csv'}  chart: {args.out / 'compare-stt.png'}")
    return 0


def run_compare_tts(args: argparse.Namespace, settings: EchoSettings) -> int:
    """Handler of ``echo-agent compare-tts``; returns the exit code."""
    from speech.compare_tts import (
        TTS_COLUMNS,
        compare_tts,
        default_sentences,
        echo_stt,
        sentences_from_lines,
        tts_engines,
    )
    from speech.reporting import bar_chart, format_table, write_csv
    from vocabulary.cli import load_lexicon
    from vocabulary.entries import VocabularyError
    from vocabulary.evaluation import read_sentences

    try:
        lexicon = load_lexicon(settings, args.vocabulary)
        if args.sentences:
            sentences = sentences_from_lines(read_sentences(args.sentences), lexicon)
        else:
            sentences = default_sentences(lexicon)
    except (OSError, ValueError, VocabularyError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if not sentences:
        print(f"error: no sentences in {args.sentences}", file=sys.stderr)
        return 2
    engines = tts_engines(settings, args.tts)
    rows = compare_tts(
        engines, sentences, lexicon, echo_stt(settings, lexicon),
        audio_dir=args.out / "audio", timeout=args.timeout, progress=_progress,
    )  # fmt: skip
    print(format_table(rows, [c for c in TTS_COLUMNS if c != "note"]))
    write_csv(args.out / "compare-tts.csv", rows, TTS_COLUMNS)
    bar_chart(
        args.out / "compare-tts.png", rows, group="tts", series=None,
        metrics=[("first_audio_p50_ms", "first audio p50 (ms)"), ("rtf_p50", "real-time factor"),
                 ("wer", "round-trip WER (tiny.en)"), ("term_accuracy", "term accuracy")],
        title=f"compare-tts: {len(sentences)} sentences",
    )  # fmt: skip
    print(f"table: {args.out / 'compare-tts.csv'}  chart: {args.out / 'compare-tts.png'}")
    return 0
