"""``echo-agent realtime-server``: the offline OpenAI-Realtime-compatible server."""

from __future__ import annotations

import argparse
import asyncio

from config import EchoSettings


def cmd_realtime_server(args: argparse.Namespace, settings: EchoSettings) -> int:
    """Serve the Realtime protocol on Echo's local models until interrupted."""
    from providers.local import LocalModels
    from realtime.local import create_server
    from runtime import load_lexicon

    api_key = (
        settings.secret("realtime_server_key") if hasattr(settings, "realtime_server_key") else None
    )

    async def run() -> None:
        models = LocalModels(settings)
        server = create_server(
            settings,
            models=models,
            lexicon=load_lexicon(settings),
            host=args.host,
            port=args.port,
            api_key=api_key,
        )
        if not args.no_warm_up:
            await asyncio.to_thread(models.warm_up)
        url = await server.start()
        auth = "Bearer key required" if api_key else "no key required"
        print(f"Echo Realtime server (local models, cascaded inside) on {url} ({auth})", flush=True)
        await server.serve_forever()

    asyncio.run(run())
    return 0


def add_commands(subparsers) -> None:
    """Add ``realtime-server`` to the ``echo-agent`` subcommands."""
    parser = subparsers.add_parser(
        "realtime-server",
        help="offline OpenAI-Realtime-compatible WebSocket server (local models inside)",
        description=(
            "Speak the OpenAI Realtime WebSocket protocol (the subset Pipecat uses) on Echo's "
            "local models: Silero VAD, faster-whisper, the clinic brain and Piper. It is a "
            "cascade inside, not a speech-to-speech model. Point a Realtime client's base URL "
            "at ws://HOST:PORT/v1/realtime. Set ECHO_REALTIME_SERVER_KEY to require a key."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--no-warm-up", action="store_true", help="skip model warm-up")
    parser.set_defaults(func=cmd_realtime_server)
