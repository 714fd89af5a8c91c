"""The bench's rows: each prompt played, matched with the server's breakdown of its turn.

After a call, the ``echo-latency`` messages the server published on the data channel are
matched to the prompts by time (same machine, so the server's wall clock maps onto the
client's monotonic clock) and each prompt becomes one :class:`TurnRow` (:func:`join`).

Cascaded turns fill the ``vad``/``stt``/``turn``/``llm``/``tts``/``output`` columns,
speech-to-speech turns (``turn_kind``) ``vad`` (the server VAD's silence), ``model`` (speech
stopped → first audio delta) and ``output``; the others stay empty.

A prompt is a *false cut-off* when the server ended a user turn before the prompt's speech
was over, when the bot was heard while the user was still speaking, or when one prompt
was answered as more than one turn (``split``: the end of turn came at the pause and the
rest became a turn of its own, whenever the server noticed). Cut-off and unanswered prompts
are kept in the CSV but left out of the latency statistics.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from benchmarks.voice.prompts import Prompt, PromptAudio, word_error_rate
from observers.latency_record import ANSWERED, MESSAGE_TYPE, TurnLatency, record_from_message


@dataclass
class TurnRow:
    """One prompt played to one system: a CSV row."""

    run: int
    system: str
    prompt_id: str
    kind: str
    text: str
    pause_ms: float
    speech_secs: float
    voice: str = "piper"
    mode: str = "warm"  # warm: one server for the whole bench; cold: a fresh server per group
    callers: int = 1  # simultaneous calls on the server
    caller: int = 0  # which of them (0-based)
    answered: bool = False
    cut_off: bool = False
    early_voice: bool = False
    split: bool = False
    client_gap_ms: float | None = None
    server_total_ms: float | None = None
    vad_ms: float | None = None
    stt_ms: float | None = None
    turn_ms: float | None = None
    llm_ms: float | None = None
    tts_ms: float | None = None
    model_ms: float | None = None  # speech to speech: speech stopped → first audio delta
    output_ms: float | None = None
    transport_ms: float | None = None
    input_ms: float | None = None
    playout_ms: float | None = None
    server_turns: int = 0
    vad_segments: int | None = None
    status: str = ""
    turn_kind: str = ""  # the server turn's kind: cascaded or speech_to_speech
    wer: float | None = None
    audio_gap_ms: float | None = None  # longest gap between bot audio packets received
    smart_turn: str = ""
    function_calls: str = ""
    transcript: str = ""
    reply: str = ""  # what the bot said (audit trail: bot.spoken_text)
    reply_kind: str = ""  # answer, declined, reprompt, none (benchmarks.voice.replies.reply_kind)
    session_id: str = ""
    bot_started_at: float | None = None  # server clock, epoch seconds

    @property
    def group(self) -> str:
        """The report's grouping: the system, plus voice, mode and callers when not default."""
        extra = []
        if self.voice != "piper":
            extra.append(self.voice)
        if self.mode != "warm":
            extra.append(self.mode)
        if self.callers != 1:
            extra.append(f"{self.callers} calls")
        return self.system + (f" [{', '.join(extra)}]" if extra else "")

    @property
    def measured(self) -> bool:
        """Whether the row's latency counts: answered and not cut off."""
        return self.answered and not self.cut_off and self.client_gap_ms is not None

    @classmethod
    def columns(cls) -> list[str]:
        """CSV column names, in order."""
        return [f.name for f in fields(cls)]

    def to_csv(self) -> dict[str, Any]:
        """The row as CSV values (floats rounded to 0.1 ms)."""
        out = asdict(self)
        for k, v in out.items():
            if isinstance(v, float):
                out[k] = round(v, 1)
        return out


@dataclass
class Played:
    """Client-side facts of one prompt played into a call (monotonic seconds)."""

    prompt: Prompt
    audio: PromptAudio
    started: float
    ended: float  # the last voiced sample was sent
    first_voice: float | None  # first voiced bot audio after ``started``
    answer_voice: float | None  # first voiced bot audio at or after ``ended``
    audio_gap: float | None = None  # longest wait between received audio packets meanwhile


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000.0


def _first_moment(record: TurnLatency) -> float | None:
    for value in (record.user_started_at, record.speech_end_at, record.turn_end_at):
        if value is not None:
            return value
    return None


def join(
    run: int,
    system: str,
    played: list[Played],
    records: list[TurnLatency],
    offset: float,
    **labels: Any,
) -> list[TurnRow]:
    """Match server turn records to the prompts played, one row per prompt.

    Args:
        run: Run number.
        system: System name.
        played: The prompts as played, in order.
        records: The server's turn records for this call.
        offset: ``time.time() - time.monotonic()``: maps the server's wall clock to the
            client's monotonic clock (same machine).
        **labels: The call's ``voice``, ``mode``, ``callers`` and ``caller``.
    """

    def mono(x: float | None) -> float | None:
        return None if x is None else x - offset

    rows = []
    for k, p in enumerate(played):
        window_end = played[k + 1].started if k + 1 < len(played) else math.inf
        mine = [
            r
            for r in records
            if (m := mono(_first_moment(r))) is not None and p.started - 0.05 <= m < window_end
        ]
        ended = [r for r in mine if r.turn_end_at is not None]
        premature = [r for r in ended if mono(r.turn_end_at) < p.ended]
        early = p.first_voice is not None and p.first_voice < p.ended
        main = next(
            (
                r
                for r in mine
                if r.status == ANSWERED and r.turn_end_at and mono(r.turn_end_at) >= p.ended
            ),
            None,
        )
        row = TurnRow(
            run=run,
            system=system,
            **labels,
            prompt_id=p.prompt.id,
            kind=p.prompt.kind,
            text=p.prompt.text,
            pause_ms=p.prompt.pause_secs * 1000.0,
            speech_secs=round(p.audio.duration, 3),
            answered=p.answer_voice is not None,
            cut_off=bool(premature) or early or len(ended) > 1,
            early_voice=early,
            split=len(ended) > 1,
            client_gap_ms=_ms(p.answer_voice - p.ended) if p.answer_voice is not None else None,
            server_turns=len(mine),
            audio_gap_ms=_ms(p.audio_gap),
        )
        if main is not None:
            row.server_total_ms = _ms(main.total)
            for stage, value in main.stages().items():  # the stages of the turn's kind
                setattr(row, f"{stage}_ms", _ms(value))
            if row.client_gap_ms is not None and row.server_total_ms is not None:
                row.transport_ms = row.client_gap_ms - row.server_total_ms
                row.input_ms = _ms(mono(main.speech_end_at) - p.ended)
                row.playout_ms = _ms(p.answer_voice - mono(main.bot_started_at))
            row.vad_segments = main.vad_segments
            row.status = main.status
            row.turn_kind = main.kind
            row.smart_turn = json.dumps(main.smart_turn) if main.smart_turn else ""
            row.function_calls = " ".join(main.function_calls)
            row.transcript = main.transcript
            row.session_id = main.session_id
            row.bot_started_at = main.bot_started_at
            row.wer = round(word_error_rate(p.prompt.text, main.transcript), 3)
        elif mine:
            row.status = mine[-1].status
        rows.append(row)
    return rows


def records_of(caller) -> list[TurnLatency]:
    """The ``echo-latency`` records a caller received (one per session turn)."""
    out: dict[tuple[str, int], TurnLatency] = {}
    for _, message in caller.messages_of_type(MESSAGE_TYPE):
        try:
            record = record_from_message(message)
        except (ValueError, KeyError, TypeError):
            continue
        out[(record.session_id, record.turn)] = record  # two observers publish twins
    return list(out.values())
