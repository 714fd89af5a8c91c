"""Term accuracy, false terms and WER of transcripts against spoken reference sentences.

An utterance TSV has a header and the columns ``id``, ``text`` (what was said) and
``terms`` (the vocabulary terms said, ``;``-separated, canonical spelling). The audio of
utterance ``id`` is ``<audio_dir>/<id>.wav``.

- term accuracy: share of the said terms that the transcript contains
  (:func:`vocabulary.find_terms`);
- false terms: terms the transcript contains that were not said (counted per utterance);
- WER: word error rate over the whole set, after lower-casing, dropping punctuation and
  reading "Dr." as "doctor".
"""

from __future__ import annotations

import csv
import re
import statistics
import wave
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from rapidfuzz.distance import Levenshtein

from vocabulary.correction import correct, find_terms
from vocabulary.lexicon import Lexicon

DATA_DIR = Path(__file__).resolve().parent / "data"
HELDOUT_UTTERANCES = DATA_DIR / "heldout_utterances.tsv"
ORDINARY_SENTENCES = DATA_DIR / "ordinary_sentences.txt"


class EvaluationError(ValueError):
    """Bad evaluation input: a malformed TSV, a missing or unreadable WAV."""


@dataclass(frozen=True)
class Utterance:
    """One reference sentence and the vocabulary terms said in it."""

    id: str
    text: str
    terms: tuple[str, ...]


def read_utterances(path: str | Path) -> list[Utterance]:
    """Read an utterance TSV (``id``, ``text``, ``terms``)."""
    path = Path(path)
    try:
        handle = path.open(encoding="utf-8", newline="")
    except OSError as exc:
        raise EvaluationError(f"cannot read utterances {path}: {exc}") from exc
    with handle:
        reader = csv.DictReader(handle, delimiter="\t")
        if reader.fieldnames is None or not {"id", "text"} <= set(reader.fieldnames):
            raise EvaluationError(f"{path}: expected a TSV header with 'id', 'text', 'terms'")
        rows = []
        for line, row in enumerate(reader, 2):
            uid, text = (row.get("id") or "").strip(), (row.get("text") or "").strip()
            if not uid or not text:
                raise EvaluationError(f"{path}:{line}: empty id or text")
            terms = tuple(t.strip() for t in (row.get("terms") or "").split(";") if t.strip())
            rows.append(Utterance(uid, text, terms))
    return rows


def read_sentences(path: str | Path) -> list[str]:
    """Read one sentence a line, skipping blank lines and ``#`` comments."""
    lines = Path(path).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def load_wav(path: str | Path) -> np.ndarray:
    """Read a PCM WAV as mono float32 at 16 kHz (resampled if needed).

    Raises:
        EvaluationError: The file is missing or not 16-bit PCM WAV.
    """
    path = Path(path)
    try:
        with wave.open(str(path), "rb") as wav:
            rate, channels, width = wav.getframerate(), wav.getnchannels(), wav.getsampwidth()
            frames = wav.readframes(wav.getnframes())
    except (OSError, EOFError, wave.Error) as exc:
        raise EvaluationError(f"cannot read WAV {path}: {exc}") from exc
    if width != 2:
        raise EvaluationError(f"{path}: expected 16-bit PCM, got {8 * width}-bit samples")
    audio = np.frombuffer(frames, dtype=np.int16).astype(np.float32) / 32768.0
    if channels > 1:
        audio = audio.reshape(-1, channels).mean(axis=1)
    if rate != 16000:
        import soxr

        audio = soxr.resample(audio, rate, 16000).astype(np.float32)
    return audio


_WER_PUNCT = re.compile(r"[^a-z0-9' ]+")


def wer_words(text: str) -> list[str]:
    """Words as WER compares them: lower case, no punctuation, "dr" read as "doctor"."""
    text = text.lower().replace("-", " ").replace("’", "'")
    words = _WER_PUNCT.sub(" ", text).split()
    return ["doctor" if w == "dr" else w.strip("'") for w in words if w.strip("'")]


def edit_distance(ref: list[str], hyp: list[str]) -> int:
    """Word-level Levenshtein distance (rapidfuzz; the word errors of WER)."""
    return Levenshtein.distance(ref, hyp)


def term_outcome(expected: Iterable[str], text: str, lexicon: Lexicon) -> dict:
    """Which said terms a transcript has, and which terms it has that were not said."""
    want = {t.lower(): t for t in expected}
    found = {t.lower(): t for t in find_terms(text, lexicon)}
    return {
        "found": sorted(want[k] for k in want if k in found),
        "missed": sorted(want[k] for k in want if k not in found),
        "false": sorted(found[k] for k in found if k not in want),
    }


def score(rows: list[dict], stage: str) -> dict:
    """Summary figures of one stage ("baseline", "raw" or "text") over evaluated rows."""
    said = sum(len(r["terms"]) for r in rows)
    found = sum(len(r[f"{stage}_terms"]["found"]) for r in rows)
    false = sum(len(r[f"{stage}_terms"]["false"]) for r in rows)
    errors = sum(edit_distance(wer_words(r["ref"]), wer_words(r[stage])) for r in rows)
    ref_words = sum(len(wer_words(r["ref"])) for r in rows)
    return {
        "term_accuracy": round(found / said, 4) if said else None,
        "term_accuracy_ci95": wilson_interval(found, said),
        "terms_said": said,
        "terms_found": found,
        "false_terms": false,
        "false_terms_per_50": round(50 * false / len(rows), 3) if rows else None,
        "wer": round(errors / ref_words, 4) if ref_words else None,
        "utterances": len(rows),
    }


def wilson_interval(successes: int, total: int, z: float = 1.96) -> list[float] | None:
    """The 95 % Wilson score interval of a proportion (None for no trials)."""
    if total <= 0:
        return None
    p = successes / total
    centre = (p + z * z / (2 * total)) / (1 + z * z / total)
    half = z * ((p * (1 - p) / total + z * z / (4 * total * total)) ** 0.5) / (1 + z * z / total)
    return [round(max(0.0, centre - half), 4), round(min(1.0, centre + half), 4)]


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    pos = (len(ordered) - 1) * q / 100
    low = int(pos)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (pos - low)


def evaluate(
    transcribe: Callable[[np.ndarray], object],
    utterances: list[Utterance],
    audio_dir: str | Path,
    lexicon: Lexicon,
    *,
    progress: bool = True,
) -> dict:
    """Transcribe every utterance's WAV and score baseline, STT output and corrected text.

    Args:
        transcribe: ``Transcriber.transcribe``-like callable: audio → TranscriptResult
            (with ``baseline`` filled in).
        utterances: The reference sentences.
        audio_dir: Directory with ``<id>.wav`` per utterance.
        lexicon: Vocabulary used to find terms.
        progress: Show a progress bar on stderr.

    Returns:
        The report: ``summary`` per stage, ``timing`` percentiles, ``rows`` per utterance.

    Raises:
        EvaluationError: A WAV is missing or unreadable (checked before any decoding).
    """
    audio_dir = Path(audio_dir)
    paths = [audio_dir / f"{u.id}.wav" for u in utterances]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise EvaluationError(
            f"{len(missing)} WAV file(s) missing in {audio_dir}, e.g. {missing[0]}"
        )
    from tqdm import tqdm

    rows: list[dict] = []
    bar = tqdm(
        list(zip(utterances, paths, strict=True)),
        desc="eval-vocab",
        unit="utt",
        disable=not progress,
    )
    for utt, path in bar:
        result = transcribe(load_wav(path))
        baseline = result.baseline if result.baseline is not None else result.first_pass
        rows.append(
            {
                "id": utt.id,
                "ref": utt.text,
                "terms": list(utt.terms),
                "baseline": baseline,
                "first_pass": result.first_pass,
                "hotwords": result.hotwords,
                "second_pass": getattr(result, "second_pass", None),
                "checks": list(getattr(result, "checks", None) or []),
                "raw": result.raw,
                "text": result.text,
                "corrections": [c.to_dict() for c in result.corrections],
                "timings": {k: round(v, 2) for k, v in result.timings.items()},
                "baseline_terms": term_outcome(utt.terms, baseline, lexicon),
                "raw_terms": term_outcome(utt.terms, result.raw, lexicon),
                "text_terms": term_outcome(utt.terms, result.text, lexicon),
            }
        )
    timing = {}
    for stage in ("encode", "decode1", "decode2", "stt", "correct", "total"):
        values = [r["timings"][stage] for r in rows if stage in r["timings"]]
        if values:
            timing[stage] = {
                "mean_ms": round(statistics.fmean(values), 2),
                "p50_ms": round(percentile(values, 50), 2),
                "p95_ms": round(percentile(values, 95), 2),
                "count": len(values),
            }
    return {
        "summary": {stage: score(rows, stage) for stage in ("baseline", "raw", "text")},
        "second_pass_runs": sum(1 for r in rows if r["hotwords"]),
        "timing": timing,
        "rows": rows,
    }


def ordinary_check(sentences: list[str], lexicon: Lexicon) -> dict:
    """Run the corrector on ordinary sentences (as text); every change is a false term."""
    changed = []
    for sentence in sentences:
        result = correct(sentence, lexicon)
        if result.changes:
            changed.append({"text": sentence, "corrected": result.text})
    return {"sentences": len(sentences), "changed": len(changed), "examples": changed[:10]}
