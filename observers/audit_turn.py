"""What the audit observer gathers for one turn, and the bookkeeping behind it.

Plain state and pure functions, no Pipecat frames: :class:`Turn` holds one turn's
facts, :class:`AudioHash` hashes one side's PCM as it flows, :class:`UserAudio`
keeps the caller's audio from the VAD's speech start to the end of the user turn,
:class:`Playout` follows bot text queued behind its audio until the output plays
it, and :func:`forget_unheard` / :func:`estimate_cut` say what of a cut-off reply
the caller heard. :class:`PipelineClock` and :class:`FirstSeen` turn frame pushes
into times and events. :mod:`observers.audit` feeds them from the frames it sees.
"""

from __future__ import annotations

import bisect
import datetime as _dt
import hashlib
import time
from collections import OrderedDict, deque
from typing import Any

from audit.audio import AudioClip
from audit.chain import to_jsonable

PRE_ROLL_SECS = 1.0
"""Caller audio kept before the VAD decides speech started."""
_PENDING_LIMIT = 256
_SEEN_LIMIT = 2048


def audio_secs(audio: bytes, sample_rate: int, num_channels: int) -> float:
    """Length of 16-bit PCM in seconds (0 for a bad format)."""
    if sample_rate <= 0 or num_channels <= 0:
        return 0.0
    return len(audio) / (sample_rate * num_channels * 2)


class PipelineClock:
    """Pipeline clock times (ns) as UTC wall-clock text."""

    def __init__(self):
        """No push seen yet."""
        self._offset_ns: int | None = None

    def observe(self, ts: int) -> None:
        """A push at pipeline time ``ts`` just happened (keeps the smallest offset)."""
        offset = time.time_ns() - ts
        if self._offset_ns is None or offset < self._offset_ns:
            self._offset_ns = offset

    def utc(self, ts_ns: int) -> str:
        """``ts_ns`` as ISO 8601 UTC with microseconds and a ``Z`` suffix."""
        moment = _dt.datetime.fromtimestamp((ts_ns + (self._offset_ns or 0)) / 1e9, _dt.UTC)
        return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class FirstSeen:
    """Recent frame ids, to take a frame pushed on by several processors once."""

    def __init__(self):
        """Nothing seen yet."""
        self._seen: OrderedDict[int, None] = OrderedDict()

    def first(self, frame_id: int, sibling_id: int | None) -> bool:
        """True once per frame id, and once per broadcast pair."""
        if frame_id in self._seen:
            return False
        if sibling_id is not None and sibling_id in self._seen:
            return False
        self._seen[frame_id] = None
        if len(self._seen) > _SEEN_LIMIT:
            self._seen.popitem(last=False)
        return True


class AudioHash:
    """Incremental sha256 of one side's PCM, optionally keeping the bytes."""

    def __init__(self, keep: bool):
        """Start an empty hash; with ``keep`` the PCM is kept for :meth:`clip`."""
        self._h = hashlib.sha256()
        self.bytes = 0
        self.secs = 0.0
        self.sample_rate = 0
        self.num_channels = 0
        self._buf = bytearray() if keep else None

    def add(self, audio: bytes, sample_rate: int, num_channels: int) -> None:
        """Feed one chunk of PCM."""
        self._h.update(audio)
        self.bytes += len(audio)
        self.secs += audio_secs(audio, sample_rate, num_channels)
        self.sample_rate = self.sample_rate or sample_rate
        self.num_channels = self.num_channels or num_channels
        if self._buf is not None:
            self._buf += audio

    def summary(self) -> dict[str, Any] | None:
        """``sha256``, ``bytes``, ``secs``, format; None when no audio came."""
        if not self.bytes:
            return None
        return {
            "sha256": self._h.hexdigest(),
            "bytes": self.bytes,
            "secs": round(self.secs, 3),
            "sample_rate": self.sample_rate,
            "num_channels": self.num_channels,
        }

    def clip(self) -> AudioClip | None:
        """The kept PCM, or None (not kept, or no audio)."""
        if self._buf is None or not self.bytes:
            return None
        return AudioClip(bytes(self._buf), self.sample_rate, self.num_channels or 1)


class Turn:
    """Everything gathered for one turn (plain data, no logic beyond bookkeeping)."""

    def __init__(self, number: int, trigger: str, keep_audio: bool):
        """Start turn ``number``, opened by ``trigger`` (``user`` or ``bot``)."""
        self.number = number
        self.trigger = trigger
        self.times: dict[str, int] = {}  # stage -> pipeline clock ns (first occurrence)
        self.last_times: dict[str, int] = {}  # stage -> pipeline clock ns (last occurrence)
        self.transcripts: list[Any] = []  # the turn's TranscriptionFrames
        self.user_audio: AudioHash | None = None
        self.bot_audio = AudioHash(keep_audio)
        self.llm_inputs: list[dict[str, Any]] = []
        self.llm_text: list[tuple[str, bool]] = []
        self.llm_started = 0
        self.llm_ended = 0
        self.tool_calls: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self.spoken: list[tuple[str, bool]] = []
        self.spoken_at: list[int] = []  # when each spoken text finished playing
        self.spoken_secs: list[float] = []  # its audio's length
        self.played_audio: list[tuple[int, float]] = []  # (when played, secs) per chunk
        self.unheard_secs: float | None = None  # audio sent after the caller had gone
        self.closed_at: int | None = None
        self.spoken_segments = 0
        self.bot_speaking = False
        self.interrupted = False
        self.interrupt_reason: str | None = None
        self.cut_segment: dict[str, Any] | None = None
        self.errors: list[dict[str, Any]] = []
        self.images: list[dict[str, Any]] = []

    def mark(self, stage: str, ts: int) -> None:
        """Note that ``stage`` happened at ``ts`` (first and last occurrence kept)."""
        self.times.setdefault(stage, ts)
        self.last_times[stage] = ts

    @property
    def has_user(self) -> bool:
        """Whether the caller spoke in this turn."""
        return bool(self.transcripts) or "user_started" in self.times

    @property
    def bot_active(self) -> bool:
        """Whether the bot has started responding in this turn."""
        return bool(
            self.llm_started
            or self.llm_text
            or self.tool_calls
            or self.spoken
            or "bot_started" in self.times
        )

    @property
    def responding(self) -> bool:
        """Whether the bot's response is still under way."""
        pending_tools = any("result_at" not in c for c in self.tool_calls.values())
        return self.bot_speaking or self.llm_started > self.llm_ended or pending_tools

    def add_spoken(self, text: str, has_spaces: bool, ts: int, secs: float) -> None:
        """``text`` (with ``secs`` of audio) finished playing at ``ts``."""
        self.spoken.append((text, has_spaces))
        self.spoken_at.append(ts)
        self.spoken_secs.append(secs)
        self.spoken_segments += 1
        self.mark("spoken", ts)

    def cut_off(
        self,
        ts: int,
        reason: str,
        *,
        played: float,
        playing: tuple[str, float] | None,
        heard_until: int | None = None,
    ) -> None:
        """Mark the turn cut off (once); with ``heard_until``, output after it went unheard.

        Args:
            ts: When (pipeline ns).
            reason: ``interrupted_by`` (``interruption``, ``hung_up``, ...).
            played: Seconds played of the segment being played, if any.
            playing: That segment (text, audio secs), if any.
            heard_until: The last moment the caller could hear (pipeline ns), if known.
        """
        if self.interrupted:
            return
        self.interrupted = True
        self.interrupt_reason = reason
        self.mark("interrupted", ts)
        segment = None
        if heard_until is not None:
            segment, played, self.unheard_secs = forget_unheard(self, heard_until)
        if segment is None:
            segment = playing
        if segment is not None:
            self.cut_segment = estimate_cut(segment, played)
        self.bot_speaking = False

    def tool_started(
        self, *, name: str, tool_call_id: str, arguments: Any, at: str, ts: int
    ) -> None:
        """A tool call began at ``ts`` (``at`` in UTC)."""
        self.tool_calls[tool_call_id] = {
            "name": name,
            "tool_call_id": tool_call_id,
            "arguments": to_jsonable(arguments),
            "started_at": at,
            "_started_ns": ts,
        }

    def tool_finished(
        self,
        *,
        name: str,
        tool_call_id: str,
        arguments: Any,
        result: Any,
        error: Any,
        at: str,
        ts: int,
    ) -> None:
        """A tool call returned at ``ts`` (``at`` in UTC); a call never seen starting is added."""
        call = self.tool_calls.get(tool_call_id)
        if call is None:
            call = {
                "name": name,
                "tool_call_id": tool_call_id,
                "arguments": to_jsonable(arguments),
            }
            self.tool_calls[tool_call_id] = call
        call["result"] = to_jsonable(result)
        call["error"] = error
        call["result_at"] = at
        started = call.pop("_started_ns", None)
        if started is not None:
            call["duration_ms"] = round((ts - started) / 1e6, 1)


class UserAudio:
    """The caller's audio: a short pre-roll, then the audio of the user turn being formed."""

    def __init__(self, keep: bool):
        """Track caller audio; with ``keep`` the turn's PCM is kept, not only hashed."""
        self._keep = keep
        self._pre_roll: deque[tuple[bytes, int, int, float]] = deque()
        self._pre_roll_secs = 0.0
        self._current: AudioHash | None = None
        self._started_ns: int | None = None
        self.vad_speaking = False
        self.turn_open = False

    def add(self, audio: bytes, sample_rate: int, num_channels: int) -> None:
        """One chunk of caller audio: the turn's while speaking, else the pre-roll's."""
        if self._current is not None and (self.vad_speaking or self.turn_open):
            self._current.add(audio, sample_rate, num_channels)
            return
        secs = audio_secs(audio, sample_rate, num_channels)
        self._pre_roll.append((audio, sample_rate, num_channels, secs))
        self._pre_roll_secs += secs
        while self._pre_roll and self._pre_roll_secs - self._pre_roll[0][3] >= PRE_ROLL_SECS:
            self._pre_roll_secs -= self._pre_roll.popleft()[3]

    def start(self, ts: int, start_secs: float) -> None:
        """Begin the user turn's audio, with the speech the VAD heard before deciding."""
        if self._current is None:
            self._current = AudioHash(self._keep)
            self._started_ns = ts
            take: list[tuple[bytes, int, int, float]] = []
            total = 0.0
            for item in reversed(self._pre_roll):
                if total >= start_secs - 1e-6:
                    break
                take.append(item)
                total += item[3]
            for audio, rate, channels, _ in reversed(take):
                self._current.add(audio, rate, channels)
        self._pre_roll.clear()
        self._pre_roll_secs = 0.0

    def attach(self, turn: Turn) -> None:
        """Give the audio gathered so far to ``turn`` (and mark when speech started)."""
        if self._current is None:
            return
        if turn.user_audio is None:
            turn.user_audio = self._current
        if self._started_ns is not None:
            turn.mark("speech_started", self._started_ns)
        self._current = None
        self._started_ns = None
        if self.vad_speaking:  # already speaking again: that audio is the next turn's
            self.start(max(turn.last_times.values()), 0.0)


class Playout:
    """Bot text the TTS queued behind its audio, and how much of that audio has played."""

    def __init__(self):
        """Nothing queued, nothing played."""
        self._pending: OrderedDict[int, tuple[str, float]] = OrderedDict()
        self._generated_secs = 0.0
        self.played_secs = 0.0
        """Audio played since the last text finished playing."""

    def generated(self, secs: float) -> None:
        """The TTS produced ``secs`` of audio."""
        self._generated_secs += secs

    def queued(self, frame_id: int, text: str) -> None:
        """The TTS queued ``text`` behind the audio generated since the previous text."""
        self._pending[frame_id] = (text, self._generated_secs)
        self._generated_secs = 0.0
        while len(self._pending) > _PENDING_LIMIT:
            self._pending.popitem(last=False)

    def played(self, secs: float) -> None:
        """The output played ``secs`` of audio."""
        self.played_secs += secs

    def text_played(self, frame_id: int) -> float:
        """Text ``frame_id`` (and everything queued before it) has played; its audio secs."""
        segment_secs = self.played_secs
        while self._pending:
            fid, (_, secs) = self._pending.popitem(last=False)
            if fid == frame_id:
                segment_secs = secs
                break
        self.played_secs = 0.0
        return segment_secs

    def playing(self) -> tuple[str, float] | None:
        """The segment (text, audio secs) being played now, if any."""
        return next(iter(self._pending.values()), None)

    def clear(self) -> None:
        """Forget everything queued (the output was interrupted)."""
        self._pending.clear()
        self._generated_secs = 0.0
        self.played_secs = 0.0


def unheard_output(turn: Turn, heard_until: int) -> bool:
    """Whether any of ``turn``'s output was played after ``heard_until`` (pipeline ns)."""
    return any(t > heard_until for t in turn.spoken_at) or any(
        t > heard_until for t, _ in turn.played_audio
    )


def forget_unheard(turn: Turn, heard_until: int) -> tuple[tuple[str, float] | None, float, float]:
    """Drop the text ``turn`` played after ``heard_until``; say where its output was cut.

    Returns:
        The segment (text, audio secs) that was playing at ``heard_until`` (the first
        one dropped) or None, the seconds of its audio played by then, and the seconds
        of audio played after ``heard_until``.
    """
    keep = bisect.bisect_right(turn.spoken_at, heard_until)
    segment = None
    if keep < len(turn.spoken):
        segment = (turn.spoken[keep][0], turn.spoken_secs[keep])
        del turn.spoken[keep:], turn.spoken_at[keep:], turn.spoken_secs[keep:]
    since = turn.spoken_at[-1] if turn.spoken_at else None
    played = unheard = 0.0
    for t, secs in turn.played_audio:
        if t > heard_until:
            unheard += secs
        elif since is None or t > since:
            played += secs
    return segment, played, round(unheard, 3)


def estimate_cut(segment: tuple[str, float], played: float) -> dict[str, Any] | None:
    """Estimate the words heard of a segment cut off after ``played`` seconds of its audio.

    A segment's text reaches the output only once fully played, so the words heard
    are estimated from the share of its audio that was played.

    Args:
        segment: The segment's text and the length of its audio in seconds.
        played: Seconds of its audio played before the cut.

    Returns:
        The record's ``cut_segment``, or None when nothing can be estimated.
    """
    text, total = segment
    words = text.split()
    if not (words and total > 0 and played > 0):
        return None
    heard = min(len(words), int(len(words) * min(1.0, played / total)))
    return {
        "text": text,
        "heard_words": heard,
        "played_secs": round(played, 3),
        "segment_secs": round(total, 3),
        "estimated": True,
    }
