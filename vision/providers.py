"""Which model looks at images in the vision variant, chosen by settings.

``ECHO_VISION_PROVIDER``:

* ``auto`` (default): ``openai_compatible`` when ``ECHO_VISION_BASE_URL`` or
  ``ECHO_VISION_API_KEY`` is set, else ``local``;
* ``openai_compatible``: any OpenAI-compatible multimodal chat endpoint (OpenAI, Gemini's
  OpenAI-compatible endpoint, Ollama / vLLM / llama.cpp server with a vision model): the
  images go in the chat context as ``image_url`` parts (base64 data URL + ``detail``);
* ``local``: the offline reader (:mod:`vision.reader`, OCR) answers through the
  ``read_image`` tool, with whatever LLM ``ECHO_LLM_PROVIDER`` picks (the local brain
  without keys).
"""

from __future__ import annotations

from typing import Any

from config import EchoSettings, MissingKeyError

VISION_PROVIDERS = ("local", "openai_compatible")


def select_vision(settings: EchoSettings) -> str:
    """The vision provider the settings choose.

    Raises:
        MissingKeyError: ``openai_compatible`` was named without a URL or key.
    """
    configured = bool(settings.vision_base_url or settings.secret("vision_api_key"))
    choice = settings.vision_provider
    if choice == "auto":
        return "openai_compatible" if configured else "local"
    if choice == "openai_compatible" and not configured:
        raise MissingKeyError("ECHO_VISION_BASE_URL", "vision provider 'openai_compatible'")
    return choice


def describe_vision(settings: EchoSettings) -> dict[str, str]:
    """Provider and model, for the audit trail and ``/api/pipelines``."""
    name = select_vision(settings)
    if name == "local":
        return {"provider": "local", "model": "rapidocr PP-OCR (bundled) + echo reader"}
    return {"provider": name, "model": settings.vision_model}


def create_vision_llm(settings: EchoSettings) -> Any:
    """Pipecat's OpenAI LLM service pointed at the configured multimodal endpoint."""
    from pipecat.services.openai.llm import OpenAILLMService

    return OpenAILLMService(
        api_key=settings.secret("vision_api_key") or "not-needed",
        base_url=settings.vision_base_url,
        settings=OpenAILLMService.Settings(model=settings.vision_model),
    )
