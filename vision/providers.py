"""Which model looks at images in the vision variant, chosen by settings.

``ECHO_VISION_PROVIDER``:

* ``auto`` (default): ``openai_compatible`` when ``ECHO_VISION_BASE_URL`` or
  ``ECHO_VISION_API_KEY`` is set, else ``anthropic`` when ``ANTHROPIC_API_KEY`` is set,
  else ``local``;
* ``openai_compatible``: any OpenAI-compatible multimodal chat endpoint (OpenAI, Gemini's
  OpenAI-compatible endpoint, Ollama / vLLM / llama.cpp server with a vision model): the
  images go in the chat context as ``image_url`` parts (base64 data URL + ``detail``);
* ``anthropic``: Claude (``ECHO_VISION_ANTHROPIC_MODEL``) through Pipecat's
  ``AnthropicLLMService``; its adapter turns the same ``image_url`` parts into Anthropic
  ``image`` blocks with a base64 ``source``. ``ANTHROPIC_BASE_URL`` points it elsewhere
  (a proxy, a local stand-in);
* ``local``: the offline reader (:mod:`vision.reader`, OCR) answers through the
  ``read_image`` tool, with whatever LLM ``ECHO_LLM_PROVIDER`` picks (the local brain
  without keys).
"""

from __future__ import annotations

from typing import Any

from config import EchoSettings, MissingKeyError

VISION_PROVIDERS = ("local", "openai_compatible", "anthropic")


def select_vision(settings: EchoSettings) -> str:
    """The vision provider the settings choose.

    Raises:
        MissingKeyError: ``openai_compatible`` was named without a URL or key, or
            ``anthropic`` without ``ANTHROPIC_API_KEY``.
    """
    configured = bool(settings.vision_base_url or settings.secret("vision_api_key"))
    anthropic_key = bool(settings.secret("anthropic_api_key"))
    choice = settings.vision_provider
    if choice == "auto":
        if configured:
            return "openai_compatible"
        return "anthropic" if anthropic_key else "local"
    if choice == "openai_compatible" and not configured:
        raise MissingKeyError("ECHO_VISION_BASE_URL", "vision provider 'openai_compatible'")
    if choice == "anthropic" and not anthropic_key:
        raise MissingKeyError("ANTHROPIC_API_KEY", "vision provider 'anthropic'")
    return choice


def describe_vision(settings: EchoSettings) -> dict[str, str]:
    """Provider and model, for the audit trail and ``/api/pipelines``."""
    name = select_vision(settings)
    if name == "local":
        return {"provider": "local", "model": "rapidocr PP-OCR (bundled) + echo reader"}
    if name == "anthropic":
        return {"provider": name, "model": settings.vision_anthropic_model}
    return {"provider": name, "model": settings.vision_model}


def create_vision_llm(settings: EchoSettings) -> Any:
    """Pipecat's LLM service for the configured vision model (OpenAI-compatible or Claude).

    Raises:
        MissingKeyError: As :func:`select_vision`.
        ValueError: The settings choose the local reader, which is no LLM service.
    """
    name = select_vision(settings)
    if name == "anthropic":
        return _anthropic_llm(settings)
    if name != "openai_compatible":
        raise ValueError(f"vision provider {name!r} has no vision model")
    from pipecat.services.openai.llm import OpenAILLMService

    return OpenAILLMService(
        api_key=settings.secret("vision_api_key") or "not-needed",
        base_url=settings.vision_base_url,
        settings=OpenAILLMService.Settings(model=settings.vision_model),
    )


def _anthropic_llm(settings: EchoSettings) -> Any:
    """Pipecat's ``AnthropicLLMService`` on a client with Echo's key and base URL."""
    from anthropic import AsyncAnthropic
    from pipecat.services.anthropic.llm import AnthropicLLMService

    key = settings.secret("anthropic_api_key")
    # Pipecat builds its own client from the key alone; a client of ours also takes the
    # base URL (None: the SDK's default, api.anthropic.com).
    client = AsyncAnthropic(api_key=key, base_url=settings.anthropic_base_url)
    return AnthropicLLMService(
        api_key=key,
        client=client,
        settings=AnthropicLLMService.Settings(
            model=settings.vision_anthropic_model,
            # Pipecat 1.14 runs only the last tool_use block of a streamed reply: at most
            # one per turn, so none is lost (the model calls the next after its result).
            extra={"tool_choice": {"type": "auto", "disable_parallel_tool_use": True}},
        ),
    )
