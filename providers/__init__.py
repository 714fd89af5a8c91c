"""One registry of STT / LLM / TTS providers, chosen by settings.

``ECHO_<KIND>_PROVIDER=auto`` (the default) picks the cloud provider when its key is set and
the embedded local model otherwise. Naming a cloud provider explicitly without its key is a
:class:`config.MissingKeyError` that names the variable.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from config import EchoSettings, MissingKeyError


@dataclass
class ProviderContext:
    """What a provider factory may use to build its service for one session."""

    settings: EchoSettings
    models: Any  # providers.local.LocalModels
    brain: Any | None = None  # clinic.dialogue.brain.ClinicBrain, for the local LLM
    lexicon: Any | None = None  # vocabulary.Lexicon: biases Whisper's second pass
    keyterms: list[str] = field(default_factory=list)  # vocabulary terms for Deepgram


@dataclass(frozen=True)
class ProviderSpec:
    """A provider of one kind (stt/llm/tts)."""

    name: str
    kind: str
    create: Callable[[ProviderContext], Any]
    model: Callable[[EchoSettings], str]
    key_field: str | None = None  # EchoSettings attribute holding the key
    key_env: str | None = None  # the environment variable users set

    @property
    def local(self) -> bool:
        """Whether this provider runs on this machine with no key."""
        return self.key_field is None

    def missing_key(self, settings: EchoSettings) -> str | None:
        """The environment variable that must be set, or None when ready."""
        if self.key_field and not settings.secret(self.key_field):
            return self.key_env
        return None


# --- factories (imports inside: a cloud SDK is only imported when chosen) ------------------


def _whisper(ctx: ProviderContext):
    from speech.service import EchoWhisperSTTService

    return EchoWhisperSTTService(
        transcriber=ctx.models.transcriber(ctx.lexicon, model=ctx.settings.whisper_model),
        ttfs_p99_latency=ctx.settings.whisper_ttfs_p99_secs,
    )


def _deepgram(ctx: ProviderContext):
    from pipecat.services.deepgram.stt import DeepgramSTTService

    return DeepgramSTTService(
        api_key=ctx.settings.secret("deepgram_api_key"),
        base_url=ctx.settings.deepgram_base_url or "",
        settings=DeepgramSTTService.Settings(
            model=ctx.settings.deepgram_model,
            language="en-US",
            keyterm=ctx.keyterms[:100] or None,
        ),
    )


def _local_llm(ctx: ProviderContext):
    from processors.local_llm import LocalClinicLLMService

    return LocalClinicLLMService(brain=ctx.brain)


def _openai_llm(ctx: ProviderContext):
    from pipecat.services.openai.llm import OpenAILLMService

    return OpenAILLMService(
        api_key=ctx.settings.secret("openai_api_key"),
        base_url=ctx.settings.openai_base_url,
        settings=OpenAILLMService.Settings(model=ctx.settings.openai_model),
    )


def _piper(ctx: ProviderContext):
    from providers.local import LocalPiperTTSService

    return LocalPiperTTSService(
        voice=ctx.models.piper(),
        voice_name=ctx.settings.piper_voice,
        phrases=getattr(ctx.models, "phrases", None),
        split_clauses=ctx.settings.tts_split_clauses,
    )


def _cartesia(ctx: ProviderContext):
    from pipecat.services.cartesia.tts import CartesiaTTSService

    base_url = ctx.settings.cartesia_base_url
    return CartesiaTTSService(
        api_key=ctx.settings.secret("cartesia_api_key"),
        **({"url": f"{base_url.rstrip('/')}/tts/websocket"} if base_url else {}),
        settings=CartesiaTTSService.Settings(voice=ctx.settings.cartesia_voice),
    )


PROVIDERS: dict[str, dict[str, ProviderSpec]] = {
    "stt": {
        "whisper": ProviderSpec(
            "whisper", "stt", _whisper, lambda s: f"faster-whisper {s.whisper_model}"
        ),
        "deepgram": ProviderSpec(
            "deepgram", "stt", _deepgram, lambda s: s.deepgram_model,
            key_field="deepgram_api_key", key_env="DEEPGRAM_API_KEY",
        ),
    },
    "llm": {
        "local": ProviderSpec("local", "llm", _local_llm, lambda s: "echo-clinic-brain"),
        "openai": ProviderSpec(
            "openai", "llm", _openai_llm, lambda s: s.openai_model,
            key_field="openai_api_key", key_env="OPENAI_API_KEY",
        ),
    },
    "tts": {
        "piper": ProviderSpec("piper", "tts", _piper, lambda s: f"piper {s.piper_voice}"),
        "cartesia": ProviderSpec(
            "cartesia", "tts", _cartesia, lambda s: f"cartesia {s.cartesia_voice}",
            key_field="cartesia_api_key", key_env="CARTESIA_API_KEY",
        ),
    },
}  # fmt: skip


def select(kind: str, settings: EchoSettings) -> ProviderSpec:
    """The provider of ``kind`` that the settings choose.

    Raises:
        MissingKeyError: A cloud provider was named explicitly and its key is not set.

    """
    registry = PROVIDERS[kind]
    choice = getattr(settings, f"{kind}_provider")
    if choice == "auto":
        cloud = [p for p in registry.values() if not p.local and not p.missing_key(settings)]
        local = [p for p in registry.values() if p.local]
        return (cloud or local)[0]
    spec = registry[choice]
    if missing := spec.missing_key(settings):
        raise MissingKeyError(missing, f"{kind.upper()} provider '{spec.name}'")
    return spec


def describe(settings: EchoSettings) -> dict[str, dict[str, str]]:
    """Provider name and model per stage, for /api/pipelines and the audit trail."""
    out = {}
    for kind in PROVIDERS:
        spec = select(kind, settings)
        out[kind] = {"provider": spec.name, "model": spec.model(settings)}
    return out
