"""The latency bench: prompt audio, joining client timings with server records, the report,
the CLI, and a short real run over WebRTC that must produce a sane CSV and PNG."""

import argparse
import csv
import datetime
import json
import time

import numpy as np
import pytest

from benchmarks.voice import prompts as prompt_sets
from benchmarks.voice import report, stats
from benchmarks.voice.cli import add_commands, plan_from_args
from benchmarks.voice.prompts import (
    Prompt,
    PromptAudio,
    PromptSynthesizer,
    voiced_bounds,
    word_error_rate,
)
from benchmarks.voice.rows import Played, TurnRow, join
from benchmarks.voice.run import VoiceTracker
from observers.latency_record import (
    ABANDONED,
    ANSWERED,
    CASCADED,
    MESSAGE_TYPE,
    SPEECH_TO_SPEECH,
    STAGES,
    TurnLatency,
)

# --- prompts -----------------------------------------------------------------------------


def test_prompt_sets():
    assert len(prompt_sets.SHORT) == 10 and len(prompt_sets.PAUSED) == 5
    assert prompt_sets.SHORT[0].text == "What is the capital of France?"
    assert all(p.paused and p.pause_secs >= 0.4 for p in prompt_sets.PAUSED)
    assert [p.id for p in prompt_sets.select("all", only=["spell", "p-book"])] == [
        "spell",
        "p-book",
    ]
    assert len(prompt_sets.select("short", limit=2)) == 2
    with pytest.raises(ValueError, match="unknown prompt set"):
        prompt_sets.select("long")
    with pytest.raises(ValueError, match="unknown prompt id"):
        prompt_sets.select("all", only=["nope"])
    with pytest.raises(ValueError, match="at least 1"):
        prompt_sets.select("all", limit=0)


def test_voiced_bounds_trim_silence():
    rate = 16000
    pcm = np.zeros(rate, dtype=np.int16)
    pcm[4000:9000] = 3000
    start, end = voiced_bounds(pcm, rate)
    assert start == 4000 and end == 9120  # 10 ms windows
    with pytest.raises(ValueError, match="no voiced"):
        voiced_bounds(np.zeros(rate, dtype=np.int16), rate)


def test_word_error_rate():
    assert word_error_rate("Spell mississippi.", "spell Mississippi") == 0.0
    assert word_error_rate("with Doctor Patel", "with Dr. Patel") == 0.0
    assert word_error_rate("a b c d", "a x c") == pytest.approx(0.5)
    assert word_error_rate("hello", "") == 1.0


@pytest.mark.slow
def test_paused_prompt_audio_is_cached_with_its_pause(tmp_path):
    synth = PromptSynthesizer("en_US-joe-medium", tmp_path)
    prompt = prompt_sets.select("all", only=["p-book"])[0]
    audio = synth.audio(prompt)
    path = synth.cache_path(prompt)
    assert path.exists() and audio.rate == 22050
    # The longest silence inside is the scripted pause; the audio ends on speech.
    step = audio.rate // 100
    n = len(audio.pcm) // step
    voiced = np.abs(audio.pcm[: n * step].astype(np.int32)).reshape(n, step).max(axis=1) > 330
    gaps, run = [], 0
    for v in voiced:
        run = 0 if v else run + 1
        gaps.append(run)
    assert max(gaps) * 10 >= 400
    assert voiced[-1]
    again = synth.audio(prompt)  # from the cache
    assert np.array_equal(again.pcm, audio.pcm)


# --- joining client timings with server records ---------------------------------------------


def played(prompt_id="capital", start=100.0, duration=1.5, first=None, answer=None, kind="short"):
    prompt = Prompt(prompt_id, ("What is the capital of France?",), kind=kind)
    audio = PromptAudio(prompt, np.zeros(int(16000 * duration), np.int16), 16000)
    return Played(prompt, audio, start, start + duration, first, answer)


def record(offset, **moments):
    """A server record whose moments are given on the client's monotonic clock."""
    values = {f"{k}_at": v + offset for k, v in moments.items()}
    status = ANSWERED if "bot_started" in moments else ABANDONED
    return TurnLatency(
        session_id="s", turn=1, status=status, transcript="what is the capital of france", **values
    )


def test_join_measures_the_gap_and_splits_transport():
    offset = 5000.0  # server wall clock = client monotonic + offset
    p = played(start=100.0, duration=1.5, first=102.0, answer=102.0)
    r = record(
        offset,
        user_started=100.3,
        speech_end=101.6,
        vad_stop=101.8,
        transcript=101.9,
        turn_end=101.91,
        llm_first_token=101.92,
        tts_first_audio=101.98,
        bot_started=101.9,  # out of order: clamped, never negative
    )
    (row,) = join(1, "echo", [p], [r], offset)
    assert row.answered and not row.cut_off and row.measured
    assert row.client_gap_ms == pytest.approx(500.0)
    assert row.server_total_ms == pytest.approx(300.0)
    assert row.transport_ms == pytest.approx(200.0)
    assert row.input_ms == pytest.approx(100.0)  # 101.5 sent → 101.6 server speech end
    assert row.playout_ms == pytest.approx(100.0)  # 101.9 bot started → 102.0 received
    stages = [getattr(row, f"{s}_ms") for s in STAGES]
    assert all(v >= 0 for v in stages)
    assert sum(stages) == pytest.approx(row.server_total_ms)
    assert row.wer == 0.0 and row.vad_segments == 0 and row.status == ANSWERED


def test_join_fills_the_speech_to_speech_stages():
    offset = 5000.0
    p = played(start=100.0, duration=1.5, first=102.45, answer=102.45)
    r = record(
        offset,
        user_started=100.4,
        speech_end=101.55,
        vad_stop=102.05,
        turn_end=102.05,
        llm_first_token=102.3,
        tts_first_audio=102.3,
        bot_started=102.35,
    )
    r.kind = SPEECH_TO_SPEECH
    (row,) = join(1, "echo", [p], [r], offset)
    assert row.measured and row.turn_kind == SPEECH_TO_SPEECH
    assert row.server_total_ms == pytest.approx(800.0)
    assert (row.vad_ms, row.model_ms, row.output_ms) == pytest.approx((500.0, 250.0, 50.0))
    assert row.stt_ms is row.turn_ms is row.llm_ms is row.tts_ms is None
    assert row.input_ms == pytest.approx(50.0) and row.playout_ms == pytest.approx(100.0)
    assert row.transport_ms == pytest.approx(row.input_ms + row.playout_ms)


def test_join_flags_a_turn_ended_inside_the_prompt_as_cut_off():
    offset = 0.0
    p = played(start=10.0, duration=3.0, first=13.9, answer=13.9, kind="paused")
    cut = record(offset, user_started=10.2, speech_end=11.0, vad_stop=11.2, turn_end=11.35)
    later = record(
        offset,
        user_started=11.6,
        speech_end=13.05,
        vad_stop=13.25,
        transcript=13.4,
        turn_end=13.41,
        llm_first_token=13.42,
        tts_first_audio=13.5,
        bot_started=13.55,
    )
    nxt = played(start=20.0)
    rows = join(1, "echo", [p, nxt], [cut, later], offset)
    assert rows[0].cut_off and not rows[0].early_voice and not rows[0].measured
    assert rows[0].server_turns == 2
    assert rows[0].client_gap_ms == pytest.approx(900.0)  # kept in the CSV, not in the stats
    assert not rows[1].answered and rows[1].server_turns == 0


def test_join_flags_a_prompt_answered_as_two_turns_as_cut_off():
    """The turn ended after the prompt (stale transcript), the rest became a second turn."""
    p = played(start=10.0, duration=3.0, first=13.7, answer=13.7, kind="paused")
    first = record(
        0.0,
        user_started=10.2,
        speech_end=13.05,
        vad_stop=13.25,
        transcript=13.3,
        turn_end=13.3,
        llm_first_token=13.31,
        tts_first_audio=13.4,
        bot_started=13.45,
    )
    rest = record(0.0, user_started=13.6, transcript=13.6, turn_end=14.0)
    (row,) = join(1, "echo", [p], [first, rest], 0.0)
    assert row.split and row.cut_off and not row.early_voice and row.server_turns == 2


def test_join_flags_bot_voice_during_the_prompt():
    p = played(start=10.0, duration=2.0, first=11.0, answer=12.4)
    (row,) = join(1, "echo", [p], [], 0.0)
    assert row.cut_off and row.early_voice and row.server_total_ms is None


def test_voice_tracker_scans_incrementally():
    class Received:
        chunks = []

    received = Received()
    tracker = VoiceTracker(received)
    received.chunks += [(1.0, np.zeros(960, np.int16)), (1.02, np.full(960, 900, np.int16))]
    assert tracker.first_voiced(0.0) == 1.02
    received.chunks += [(1.04, np.zeros(960, np.int16)), (2.0, np.full(960, -2000, np.int16))]
    assert tracker.first_voiced(1.03) == 2.0
    assert tracker.quiet_for(2.5) == pytest.approx(0.5)


# --- report ----------------------------------------------------------------------------------


def rows_for(system, gaps, run=1, kind="short", cut=()):
    out = []
    for i, gap in enumerate(gaps):
        out.append(
            TurnRow(
                run=run,
                system=system,
                prompt_id=f"p{i}",
                kind=kind,
                text="x",
                pause_ms=0.0,
                speech_secs=1.0,
                answered=True,
                cut_off=i in cut,
                client_gap_ms=gap,
                server_total_ms=gap - 200,
                vad_ms=200.0,
                stt_ms=gap - 500,
                turn_ms=1.0,
                llm_ms=2.0,
                tts_ms=60.0,
                output_ms=1.0,
                transport_ms=200.0,
                input_ms=100.0,
                playout_ms=100.0,
                wer=0.0,
            )
        )
    return out


def test_summary_ratios_and_render(tmp_path):
    rows = (
        rows_for("echo", [400, 500, 600], run=1)
        + rows_for("vanilla", [800, 1000, 1200], run=1)
        + rows_for("echo", [450, 550, 650], run=2)
        + rows_for("vanilla", [900, 1100, 1300], run=2)
        + rows_for("echo", [300, 5000], run=2, kind="paused", cut=(1,))
    )
    data = stats.summary(rows, {"runs": 2})
    echo = data["systems"]["echo"]
    assert echo["stats"]["client_gap_ms"]["n"] == 7  # the cut-off row is left out
    assert echo["cutoffs"]["paused_cut_off"] == 1 and echo["cutoffs"]["paused_rate"] == 0.5
    ratio = data["ratio_echo_over_vanilla"]["p50"]
    assert ratio["runs"][0] == pytest.approx(0.5)
    assert ratio["min"] <= ratio["pooled"] <= 0.6
    text = report.render(data)
    assert "client gap" in text and "Echo / vanilla" in text and "false cut-offs" in text
    assert "1/2 (50%)" in text
    # The short prompts (the latency set) and the paused ones (the cut-off set) apart too.
    kinds = echo["by_prompt_kind"]
    assert kinds["short"]["n"] == 6 and kinds["short"]["p50"] == pytest.approx(525.0)
    assert kinds["paused"]["n"] == 1 and kinds["paused"]["p50"] == pytest.approx(300.0)
    assert "short p50/p90 525/" in text and "paused p50/p90 300/300 (n=1)" in text
    assert "echo" in report.study_table(rows)
    json.dumps(data, default=str)

    csv_path = report.write_csv(rows, tmp_path / "turns.csv")
    with open(csv_path) as f:
        back = list(csv.DictReader(f))
    assert len(back) == len(rows) and set(TurnRow.columns()) == set(back[0])
    png = report.plot(rows, tmp_path / "breakdown.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_speech_to_speech_report_shows_its_own_stages(tmp_path):
    rows = rows_for("echo", [900, 1000, 1100]) + rows_for("vanilla", [800, 900, 1000])
    for r in rows[:3]:
        r.turn_kind = SPEECH_TO_SPEECH
        r.stt_ms = r.turn_ms = r.llm_ms = r.tts_ms = None
        r.vad_ms, r.model_ms, r.output_ms = 500.0, r.server_total_ms - 520.0, 20.0
    for r in rows[3:]:
        r.turn_kind = CASCADED
    data = stats.summary(rows)
    echo = data["systems"]["echo"]
    assert echo["turn_kinds"] == [SPEECH_TO_SPEECH]
    assert echo["stats"]["model_ms"]["p50"] == pytest.approx(280.0)
    assert echo["stats"]["stt_ms"]["n"] == 0
    assert data["systems"]["vanilla"]["stats"]["model_ms"]["n"] == 0
    text = report.render(data)
    echo_part, vanilla_part = text.split("== vanilla ==")
    assert "model: speech stopped to first audio" in echo_part
    assert "server VAD silence wait" in echo_part and "speech-to-text" not in echo_part
    assert "speech-to-text" in vanilla_part and "model:" not in vanilla_part
    model_line = next(line for line in echo_part.splitlines() if "model:" in line)
    assert model_line.split()[-5:] == ["280", "360", "180", "380", "3"]
    assert [c for c, _ in stats.columns_for([])] == [c for c, _ in stats.COLUMNS]
    png = report.plot(rows, tmp_path / "breakdown.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    csv_path = report.write_csv(rows, tmp_path / "turns.csv")
    with open(csv_path) as f:
        back = list(csv.DictReader(f))
    assert back[0]["turn_kind"] == SPEECH_TO_SPEECH and back[0]["model_ms"] == "180.0"
    assert back[0]["stt_ms"] == "" and back[3]["model_ms"] == ""


# --- command line ----------------------------------------------------------------------------


def parse(*argv):
    parser = argparse.ArgumentParser()
    add_commands(parser.add_subparsers(dest="command"))
    return parser.parse_args(["bench", *argv])


def test_flags_become_settings_and_systems(settings, tmp_path):
    args = parse(
        "--silence-ms",
        "150",
        "--vad-threshold",
        "0.5",
        "--smart-turn",
        "off",
        "--set",
        "whisper_pad_seconds=8",
        "--compare-vanilla",
        "--only",
        "capital,p-book",
        "--out",
        str(tmp_path),
    )
    plan = plan_from_args(args, settings)
    echo, vanilla = plan.systems
    assert echo.overrides == {
        "whisper_pad_seconds": "8",
        "vad_confidence": 0.5,
        "vad_stop_secs": 0.15,
        "smart_turn": False,
    }
    assert vanilla.kind == "vanilla" and plan.runs == 3
    assert [p.id for p in plan.prompts] == ["capital", "p-book"]
    study = plan_from_args(parse("--study", "--study-silence-ms", "150,250"), settings)
    assert len(study.systems) == 2 * 2 * 2
    assert all(s.overrides["vad_stop_secs"] in (0.15, 0.25) for s in study.systems)


def test_bad_flags_are_clear_errors(settings, capsys):
    with pytest.raises(ValueError, match="--url"):
        plan_from_args(parse("--url", "http://127.0.0.1:1", "--silence-ms", "200"), settings)
    with pytest.raises(ValueError, match="--runs"):
        plan_from_args(parse("--runs", "0"), settings)
    with pytest.raises(SystemExit):
        parse("--set", "no_such_setting=1")
    assert "unknown setting" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        parse("--vad-threshold", "1.5")


# --- a short real run ------------------------------------------------------------------------


@pytest.mark.slow
def test_short_bench_run_writes_csv_png_and_summary(settings, tmp_path, capsys):
    """Two prompts through the real server over WebRTC: sane rows, a PNG, a summary."""
    from benchmarks.voice.cli import cmd_bench

    out = tmp_path / "bench"
    args = parse("--runs", "1", "--only", "capital,spell", "--out", str(out), "--no-progress")
    started = time.monotonic()
    assert cmd_bench(args, settings) == 0
    printed = capsys.readouterr().out
    assert "client gap" in printed and str(out) in printed

    with open(out / "turns.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["prompt_id"] for r in rows] == ["capital", "spell"]
    elapsed_ms = (time.monotonic() - started) * 1000
    for row in rows:
        assert row["system"] == "echo" and row["answered"] == "True"
        assert row["cut_off"] == "False" and row["server_turns"] == "1"
        gap, total = float(row["client_gap_ms"]), float(row["server_total_ms"])
        assert 0 < total < gap < elapsed_ms  # server time is part of what the client waited
        stages = [float(row[f"{s}_ms"]) for s in STAGES]
        assert all(v >= 0 for v in stages) and sum(stages) == pytest.approx(total, abs=0.5)
        assert float(row["vad_ms"]) == pytest.approx(settings.vad_stop_secs * 1000, abs=0.5)
        assert float(row["input_ms"]) + float(row["playout_ms"]) == pytest.approx(
            float(row["transport_ms"]), abs=0.5
        )
        # The prompt reached the STT and its WER column is the transcript's (what tiny.en
        # hears in a two-word prompt varies by CPU: "Spell Mrs. Syby." on one CI machine).
        assert row["transcript"].strip()
        said = next(p.text for p in prompt_sets.SHORT if p.id == row["prompt_id"])
        assert float(row["wer"]) == pytest.approx(
            word_error_rate(said, row["transcript"]), abs=0.001
        )

    png = out / "breakdown.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    import matplotlib.image

    height, width = matplotlib.image.imread(png).shape[:2]
    assert width > 400 and height > 200
    summary = json.loads((out / "summary.json").read_text())
    assert summary["systems"]["echo"]["stats"]["client_gap_ms"]["n"] == 2
    assert summary["meta"]["observer_overhead"]["frames"] > 0
    assert (out / "report.txt").read_text().startswith("bench:")
    assert MESSAGE_TYPE == "echo-latency"


@pytest.mark.slow
def test_speech_native_bench_run_reports_the_server_breakdown(
    settings, tmp_path, capsys, monkeypatch
):
    """One prompt through the speech_native variant and the offline Realtime server."""
    from benchmarks.voice.cli import cmd_bench

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)  # the offline server, not the API
    out = tmp_path / "bench"
    args = parse(
        "--pipeline",
        "speech_native",
        "--runs",
        "1",
        "--only",
        "capital",
        "--set",
        "realtime_silence_duration_ms=400",
        "--out",
        str(out),
        "--no-progress",
    )
    assert cmd_bench(args, settings) == 0
    printed = capsys.readouterr().out
    assert "model: speech stopped to first audio" in printed

    with open(out / "turns.csv") as f:
        (row,) = list(csv.DictReader(f))
    assert row["answered"] == "True" and row["cut_off"] == "False"
    assert row["turn_kind"] == SPEECH_TO_SPEECH
    gap, total = float(row["client_gap_ms"]), float(row["server_total_ms"])
    assert 0 < total < gap
    stages = [float(row[f"{s}_ms"]) for s in ("vad", "model", "output")]
    assert all(v >= 0 for v in stages) and sum(stages) == pytest.approx(total, abs=0.5)
    assert stages[0] == pytest.approx(400.0, abs=0.5)  # the server VAD's silence setting
    assert all(row[f"{s}_ms"] == "" for s in ("stt", "turn", "llm", "tts"))
    summary = json.loads((out / "summary.json").read_text())
    assert summary["systems"]["echo"]["turn_kinds"] == [SPEECH_TO_SPEECH]
    assert summary["systems"]["echo"]["stats"]["model_ms"]["n"] == 1


async def test_records_from_the_data_channel_are_parsed_once():
    from benchmarks.voice.rows import records_of
    from transports.webrtc_client import EchoCaller

    caller = EchoCaller("http://127.0.0.1:1")
    try:
        message = record(0.0, speech_end=1.0, turn_end=1.3, bot_started=1.5).to_message()
        caller._on_message(json.dumps(message))
        caller._on_message(json.dumps(message))  # a second observer publishing the same turn
        caller._on_message(json.dumps({"type": "other"}))
        caller._on_message(json.dumps({**message, "version": 99}))
        caller._on_message("not json")
        (parsed,) = records_of(caller)
        assert parsed.total == pytest.approx(0.5) and parsed.status == ANSWERED
    finally:
        await caller.close()


# --- held-out set, voices, replies, cold and concurrent runs ---------------------------------


def test_heldout_set_is_frozen_and_separate_from_tuning():
    from benchmarks.voice import heldout, prompts

    held = heldout.load()
    assert held == heldout.generate()  # the file is what the documented rule writes
    tuning_texts = {p.text for p in prompts.PROMPT_SETS["all"]}
    assert not tuning_texts & {p.text for p in held}
    assert {p.kind for p in held} == {"short", "paused"}
    assert all(len(p.parts) == 2 for p in held if p.paused)
    assert prompts.select("heldout-paused") == [p for p in held if p.paused]


def test_an_edited_heldout_file_is_refused(tmp_path):
    from benchmarks.voice import heldout

    edited = tmp_path / "h.tsv"
    edited.write_text(heldout.HELDOUT_PATH.read_text().replace("Monday", "Sunday"))
    with pytest.raises(ValueError, match="frozen"):
        heldout.load(edited)


def test_caller_voices_differ_and_bad_names_are_clear(tmp_path):
    from benchmarks.voice.prompts import VOICES, Prompt, PromptSynthesizer, voices

    prompt = Prompt("x", ("Is the clinic open on Saturday?",))
    durations = {}
    for name in ("piper", "piper-fast", "espeak"):
        synth = PromptSynthesizer("en_US-joe-medium", tmp_path, VOICES[name])
        audio = synth.audio(prompt)
        durations[name] = audio.duration
        assert audio.pcm.dtype == np.int16 and audio.duration > 0.5
    assert durations["piper-fast"] < durations["piper"]  # the faster pace is faster
    assert len({round(d, 2) for d in durations.values()}) == 3
    with pytest.raises(ValueError, match="unknown voice"):
        voices(["piper", "robot"])


def test_reply_kinds():
    from benchmarks.voice.replies import reply_kind

    assert reply_kind("Sorry, I didn't catch that. Could you say it again?") == "reprompt"
    assert reply_kind("Are you still there? I can book visits.") == "reprompt"
    assert reply_kind("I'm not sure I can help with that. I can book...") == "declined"
    assert reply_kind("We open at eight on weekdays.") == "answer"
    assert reply_kind("  ") == "none"


def test_replies_are_matched_to_rows_from_the_audit_trail(tmp_path):
    from audit.store import SQLiteAuditStore
    from benchmarks.voice.replies import fill_replies
    from benchmarks.voice.rows import TurnRow

    db = tmp_path / "audit.db"
    with SQLiteAuditStore(db) as store:
        for n, (at, reply) in enumerate(
            [
                ("10:00:01.500000", "We open at eight."),
                ("10:00:09.250000", "Sorry, I didn't catch that."),
            ]
        ):
            body = {
                "turn": n + 1,
                "timestamps": {"bot_started": f"2026-12-06T{at}Z"},
                "user": {"final_transcript": "..."},
                "bot": {"spoken_text": reply},
            }
            store.append("turn", "s1", body)
    base = datetime.datetime(2026, 12, 6, 10, 0, tzinfo=datetime.UTC).timestamp()
    rows = [
        TurnRow(
            1, "echo", "a", "short", "t", 0.0, 1.0, session_id="s1", bot_started_at=base + 1.52
        ),
        TurnRow(1, "echo", "b", "short", "t", 0.0, 1.0, session_id="s1", bot_started_at=base + 9.2),
        TurnRow(1, "echo", "c", "short", "t", 0.0, 1.0, session_id="s1", bot_started_at=base + 30),
    ]
    assert fill_replies(rows, db) == 2
    assert [(r.reply_kind, r.reply) for r in rows] == [
        ("answer", "We open at eight."),
        ("reprompt", "Sorry, I didn't catch that."),
        ("", ""),
    ]
    assert fill_replies(rows, tmp_path / "missing.db") == 0


def test_cold_concurrent_and_voice_flags(settings):
    plan = plan_from_args(
        parse(
            "--prompts", "heldout", "--voices", "espeak,piper-fast", "--cold", "--callers", "1,2"
        ),
        settings,
    )
    assert plan.cold and plan.caller_counts == [1, 2]
    assert [v.name for v in plan.voices] == ["espeak", "piper-fast"]
    assert plan.systems[0].overrides["tts_warm_phrases"] is False  # nothing pre-synthesized
    assert all(p.id.startswith("h-") for p in plan.prompts)
    with pytest.raises(ValueError, match="--cold"):
        plan_from_args(parse("--cold", "--url", "http://127.0.0.1:1"), settings)
    with pytest.raises(ValueError, match="--callers"):
        plan_from_args(parse("--callers", "0"), settings)


@pytest.mark.slow
def test_heldout_cold_run_with_two_voices_and_two_callers(settings, tmp_path, capsys):
    """Held-out prompts, cold servers, two voices, then two calls at once: every column."""
    from benchmarks.voice.cli import cmd_bench
    from benchmarks.voice.rows import TurnRow

    out = tmp_path / "bench"
    args = parse(
        "--prompts", "heldout", "--only", "h-clinic-03", "--voices", "espeak,piper-fast",
        "--cold", "--callers", "1,2", "--runs", "1", "--out", str(out), "--no-progress",
    )  # fmt: skip
    assert cmd_bench(args, settings) == 0
    printed = capsys.readouterr().out
    assert "replies to answered prompts" in printed
    with open(out / "turns.csv") as f:
        reader = csv.DictReader(f)
        rows = list(reader)
    assert reader.fieldnames == TurnRow.columns()
    assert {"voice", "mode", "callers", "reply", "reply_kind"} <= set(reader.fieldnames)
    assert {(r["voice"], r["callers"]) for r in rows} == {
        ("espeak", "1"),
        ("piper-fast", "1"),
        ("espeak", "2"),
        ("piper-fast", "2"),
    }
    assert all(r["mode"] == "cold" for r in rows)
    answered = [r for r in rows if r["answered"] == "True" and r["server_total_ms"]]
    assert answered, rows
    for r in answered:
        assert r["reply"].strip() and r["reply_kind"] in ("answer", "declined", "reprompt")
        assert float(r["server_total_ms"]) >= 0
    assert len(list((out / "servers").iterdir())) == 3  # a fresh server per cold group
