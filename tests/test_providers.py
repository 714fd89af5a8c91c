"""Provider registry: auto choice, explicit choice, missing keys named."""

import pytest

import providers
from config import EchoSettings, MissingKeyError


def test_auto_picks_local_without_keys(settings):
    described = providers.describe(settings)
    assert described["stt"] == {"provider": "whisper", "model": "faster-whisper tiny.en"}
    assert described["llm"]["provider"] == "local"
    assert described["tts"] == {"provider": "piper", "model": "piper en_US-joe-medium"}


def test_auto_picks_cloud_when_key_set(monkeypatch, tmp_path):
    monkeypatch.setenv("DEEPGRAM_API_KEY", "dg-test-key")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-key")
    s = EchoSettings(_env_file=None, data_dir=tmp_path)
    assert providers.select("stt", s).name == "deepgram"
    assert providers.select("llm", s).name == "openai"
    assert providers.select("tts", s).name == "piper"  # no CARTESIA_API_KEY


@pytest.mark.parametrize(
    "kind,name,variable",
    [
        ("stt", "deepgram", "DEEPGRAM_API_KEY"),
        ("llm", "openai", "OPENAI_API_KEY"),
        ("tts", "cartesia", "CARTESIA_API_KEY"),
    ],
)
def test_explicit_cloud_provider_without_key_names_the_variable(tmp_path, kind, name, variable):
    s = EchoSettings(_env_file=None, data_dir=tmp_path, **{f"{kind}_provider": name})
    with pytest.raises(MissingKeyError) as err:
        providers.select(kind, s)
    assert err.value.variable == variable
    assert variable in str(err.value)


def test_empty_key_counts_as_missing(monkeypatch, tmp_path):
    monkeypatch.setenv("OPENAI_API_KEY", "   ")
    s = EchoSettings(_env_file=None, data_dir=tmp_path, llm_provider="openai")
    with pytest.raises(MissingKeyError, match="OPENAI_API_KEY"):
        providers.select("llm", s)


def test_secrets_never_appear_in_repr(monkeypatch, tmp_path):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-very-secret-value")
    s = EchoSettings(_env_file=None, data_dir=tmp_path)
    assert "sk-very-secret-value" not in repr(s)
    assert "sk-very-secret-value" not in str(s.model_dump())
    assert s.secret("openai_api_key") == "sk-very-secret-value"


def test_cloud_services_build_offline(monkeypatch, tmp_path):
    """Cloud providers construct without touching the network (they connect at start)."""
    monkeypatch.setenv("DEEPGRAM_API_KEY", "dg-test-key")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-key")
    monkeypatch.setenv("CARTESIA_API_KEY", "ca-test-key")
    s = EchoSettings(_env_file=None, data_dir=tmp_path)
    ctx = providers.ProviderContext(settings=s, models=None, keyterms=["metformin", "Dr. Patel"])
    from pipecat.services.cartesia.tts import CartesiaTTSService
    from pipecat.services.deepgram.stt import DeepgramSTTService
    from pipecat.services.openai.llm import OpenAILLMService

    assert isinstance(providers.select("stt", s).create(ctx), DeepgramSTTService)
    assert isinstance(providers.select("llm", s).create(ctx), OpenAILLMService)
    assert isinstance(providers.select("tts", s).create(ctx), CartesiaTTSService)
