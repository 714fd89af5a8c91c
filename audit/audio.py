"""Turn audio for the audit trail: hashes always, WAV files only when asked for.

(Kept images, :mod:`vision.conversation`, share the retention purge.)

The audit record always holds the sha256 of the raw PCM (16-bit little-endian)
of the user's and the bot's audio for a turn. Saving the audio itself is off by
default; when a recorder is given an ``audio_dir`` it writes one WAV per turn and
side whose data chunk is exactly the hashed bytes, and :func:`purge_audio`
enforces a retention period.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
import time
import wave
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class AudioClip:
    """Raw PCM of one side of a turn.

    Attributes:
        pcm: 16-bit little-endian PCM bytes.
        sample_rate: Samples per second.
        num_channels: Channel count.
    """

    pcm: bytes
    sample_rate: int
    num_channels: int = 1

    @property
    def sha256(self) -> str:
        """Hex sha256 of the PCM bytes."""
        return hashlib.sha256(self.pcm).hexdigest()


_SAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def safe_name(name: str, default: str) -> str:
    """``name`` as a file or folder name (unsafe characters replaced, at most 100)."""
    return _SAFE.sub("_", name)[:100] or default


def audio_file_path(
    audio_dir: Path, session_id: str, turn: int | None, who: str, sha256: str
) -> Path:
    """Where a turn's audio is saved: ``<dir>/<session>/turn-0003-user-<sha8>.wav``."""
    session = safe_name(session_id, "session")
    turn_part = f"{turn:04d}" if isinstance(turn, int) else "none"
    return audio_dir / session / f"turn-{turn_part}-{_SAFE.sub('_', who)}-{sha256[:8]}.wav"


def write_wav(path: Path, clip: AudioClip) -> None:
    """Write a clip as a WAV file (parent folders created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".wav.part")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(clip.num_channels)
        w.setsampwidth(2)
        w.setframerate(clip.sample_rate)
        w.writeframes(clip.pcm)
    tmp.replace(path)


def wav_pcm_sha256(path: Path) -> str:
    """sha256 of a WAV file's PCM data (compare with the audit record's audio hash)."""
    with wave.open(str(path), "rb") as w:
        return hashlib.sha256(w.readframes(w.getnframes())).hexdigest()


def purge_audio(audio_dir: Path, *, retention_days: float, now: float | None = None) -> int:
    """Remove saved turn audio older than the retention period.

    Only ``turn-*.wav`` files written by the recorder are touched; the audit
    records (and the hashes in them) stay.

    Args:
        audio_dir: The recorder's ``audio_dir``.
        retention_days: Keep files younger than this many days.
        now: Current time (epoch seconds); defaults to ``time.time()``.

    Returns:
        Number of files removed.
    """
    return purge_kept(audio_dir, "*/turn-*.wav", retention_days=retention_days, now=now)


def purge_kept(
    folder: Path, pattern: str, *, retention_days: float, now: float | None = None
) -> int:
    """Remove files matching ``pattern`` under ``folder`` older than the retention period.

    Returns:
        Number of files removed.
    """
    if retention_days < 0:
        raise ValueError("retention_days must be >= 0")
    if not folder.is_dir():
        return 0
    cutoff = (time.time() if now is None else now) - retention_days * 86400
    removed = 0
    for path in folder.glob(pattern):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
                removed += 1
        except FileNotFoundError:
            continue
    return removed
