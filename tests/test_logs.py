"""Conversation content and secrets are scrubbed from log lines."""

from loguru import logger

import logs


def test_scrub_removes_transcripts_and_tts_text():
    line = logs.scrub("WhisperSTTService#0 Transcription: [I take metformin, call 555-0100]")
    assert "metformin" not in line and "555" not in line
    assert "Transcription: [<" in line
    line = logs.scrub("PiperTTSService#0: Generating TTS [Doctor Patel at 10:30 AM]")
    assert "Patel" not in line


def test_scrub_masks_keys():
    assert "sk-abcdef123456789" not in logs.scrub("using key sk-abcdef123456789 for openai")
    assert "supersecretvalue" not in logs.scrub("api_key=supersecretvalue")
    assert "supersecretvalue" not in logs.scrub("Authorization: Bearer supersecretvalue")


def test_configured_logger_applies_scrub(capsys):
    logs.configure(verbose=True)
    logger.debug("Transcription: [my date of birth is 1980-01-02]")
    err = capsys.readouterr().err
    assert "1980" not in err and "chars redacted" in err
