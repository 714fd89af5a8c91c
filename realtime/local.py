"""Wiring the offline Realtime server to Echo: its brain, its models, its lifetime.

``LocalRealtime`` is the small handle a caller owns (one per Echo server process): it builds
the server on first use, binds a free loopback port at once so the URL is known while the
pipeline is still being built, starts serving on the first connection and closes with its
owner. There is no module-level state: whoever creates the handle keeps it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from config import EchoSettings
from realtime.engine import LocalEngine
from realtime.server import RealtimeServer
from vision.images import upload_limits


def clinic_today(settings: EchoSettings) -> date:
    """The clinic's current date."""
    return datetime.now(ZoneInfo(settings.clinic_timezone)).date()


def brain_factory(
    settings: EchoSettings, clinic_store: Any = None, *, classifier: Any = None
) -> Callable[[], Any]:
    """A factory of ``ClinicBrain``s knowing the clinic's providers and specialties.

    With a store, the directory comes from it (exactly what the tools will find); without
    one, from the deployment vocabulary file, so a standalone server needs no database.
    ``classifier`` is the shared intent classifier (default: loaded on first use).
    """

    def make():
        from clinic.dialogue.brain import ClinicBrain

        if clinic_store is not None:
            return ClinicBrain.for_store(
                clinic_store, today=clinic_today(settings), classifier=classifier
            )
        vocab = json.loads(Path(settings.vocabulary_path).read_text())
        names = list(vocab.get("providers", []))
        specialties = list(vocab.get("specialties", []))
        return ClinicBrain(
            provider_names=names,
            specialties=specialties,
            today=clinic_today(settings),
            classifier=classifier,
        )

    return make


def create_server(
    settings: EchoSettings,
    *,
    models: Any,
    clinic_store: Any = None,
    lexicon: Any = None,
    host: str = "127.0.0.1",
    port: int = 0,
    api_key: str | None = None,
) -> RealtimeServer:
    """An offline Realtime server on Echo's local models (not yet listening)."""
    engine = LocalEngine(
        models=models,
        brain_factory=brain_factory(settings, clinic_store, classifier=models.intents()),
        lexicon=lexicon,
        image_limits=upload_limits(settings),
    )
    return RealtimeServer(engine, host=host, port=port, api_key=api_key)


class LocalRealtime:
    """A lazily started in-process Realtime server, shared by the sessions of one owner.

    Args:
        settings: Echo settings.
        models: The owner's ``providers.local.LocalModels`` (shared weights).
        clinic_store: The owner's ``ClinicStore`` (for the brain's provider directory).
        lexicon: The owner's ``vocabulary.Lexicon`` or None.

    """

    def __init__(
        self, settings: EchoSettings, *, models: Any, clinic_store: Any = None, lexicon: Any = None
    ):
        self._settings = settings
        self._models = models
        self._clinic_store = clinic_store
        self._lexicon = lexicon
        self._server: RealtimeServer | None = None

    @property
    def server(self) -> RealtimeServer:
        """The server (built on first use; not necessarily listening yet)."""
        if self._server is None:
            self._server = create_server(
                self._settings,
                models=self._models,
                clinic_store=self._clinic_store,
                lexicon=self._lexicon,
            )
        return self._server

    @property
    def url(self) -> str:
        """The ``ws://127.0.0.1:<port>/v1/realtime`` base URL (port reserved on first use)."""
        return self.server.url

    async def start(self) -> str:
        """Start serving (idempotent, call from the event loop that will serve); the URL."""
        return await self.server.start()

    async def close(self) -> None:
        """Stop the server if it was started."""
        if self._server is not None:
            await self._server.close()
            self._server = None
