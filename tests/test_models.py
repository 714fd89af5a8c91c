"""Bundled model files: found in their packages, checked against the recorded sha256."""

from __future__ import annotations

import os
import re

import pytest

from models import ModelNotFoundError, piper_voice_dir, whisper_model_dir


def test_bundled_models_match_their_recorded_sha256():
    assert "model.bin" in os.listdir(whisper_model_dir("tiny.en", verify=True))
    assert (piper_voice_dir("en_US-joe-medium", verify=True) / "en_US-joe-medium.onnx").exists()


def test_unknown_model_names_the_known_ones(tmp_path):
    with pytest.raises(ModelNotFoundError, match=r"'tiny\.en'.*'base'|'base'.*'tiny\.en'"):
        whisper_model_dir("large-v9", cache_dir=tmp_path)
    with pytest.raises(ValueError, match="pass cache_dir"):
        whisper_model_dir("base")  # assembled from parts: it needs a place to go
    with pytest.raises(ModelNotFoundError, match="en_US-joe-medium"):
        piper_voice_dir("en_GB-nobody")


@pytest.mark.slow
def test_whisper_base_is_joined_from_its_two_packages_and_transcribes(tmp_path, speak):
    from speech.transcriber import Transcriber

    path = whisper_model_dir("base", verify=True, cache_dir=tmp_path)
    files = sorted(os.listdir(path))
    assert files == ["config.json", "model.bin", "tokenizer.json", "vocabulary.json"]
    assert os.path.getsize(os.path.join(path, "model.bin")) == 145_217_607
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")]  # no staging left
    # Assembled once: the next call uses the directory as it is.
    stamp = os.stat(os.path.join(path, "model.bin")).st_mtime_ns
    assert whisper_model_dir("base", cache_dir=tmp_path) == path
    assert os.stat(os.path.join(path, "model.bin")).st_mtime_ns == stamp
    # The multilingual model decodes English through the same Transcriber as tiny.en.
    audio = speak("Can I book an appointment for next Tuesday?") / 32768.0
    text = Transcriber(path, pad_seconds=10).transcribe(audio).raw
    words = re.findall(r"[a-z]+", text.lower())
    assert {"book", "appointment", "tuesday"} <= set(words), text


def test_a_damaged_assembled_model_fails_verification(tmp_path):
    target = tmp_path / "base"
    target.mkdir()
    for name in ("config.json", "model.bin", "tokenizer.json", "vocabulary.json"):
        (target / name).write_bytes(b"truncated")
    with pytest.raises(ModelNotFoundError, match="model.bin has sha256"):
        whisper_model_dir("base", verify=True, cache_dir=tmp_path)
