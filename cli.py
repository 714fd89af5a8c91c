"""``echo-agent``: Echo's command line.

``serve`` runs the web server, ``talk`` a conversation on this machine's microphone and
speaker, ``chat`` a text REPL through the same brain and tools; the vocabulary, audit and
benchmark commands are added by their packages.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import os
import sys

import logs
from config import EchoSettings, MissingKeyError

# Packages that contribute subcommands through ``add_commands(subparsers)``.
COMMAND_MODULES = (
    "vocabulary.cli",
    "audit.cli",
    "benchmarks.voice.cli",
    "realtime.cli",
    "vision.cli",
    "speech.cli",  # compare-stt, compare-tts
)


def cmd_serve(args: argparse.Namespace, settings: EchoSettings) -> int:
    """Run the HTTP/WebRTC server."""
    import uvicorn

    from server import create_app

    settings = settings.model_copy(update={"host": args.host, "port": args.port})
    app = create_app(settings, warm_up=not args.no_warm_up)
    print(f"Echo: open http://{settings.host}:{settings.port}/ in a browser", flush=True)
    uvicorn.run(app, host=settings.host, port=settings.port, log_level="warning")
    return 0


def run_one_session(settings: EchoSettings, pipeline: str, transport_name: str, **options) -> int:
    """Run one conversation of ``pipeline`` over a registered transport until it ends."""
    import pipelines
    from runtime import EchoRuntime
    from transports import TRANSPORTS

    variant = pipelines.get_variant(pipeline)
    if missing := variant.requirements(settings):
        raise MissingKeyError(missing[0], f"pipeline '{pipeline}'")

    async def run() -> None:
        runtime = EchoRuntime(settings)
        await asyncio.to_thread(runtime.models.warm_up)
        transport = TRANSPORTS[transport_name].create(**options)
        session = runtime.new_session(transport=transport, transport_name=transport_name)
        print(f"Echo is live ({pipeline} over {transport_name}). Ctrl-C to stop.", flush=True)
        try:
            await runtime.run_session(pipeline, variant, session)
        finally:
            await runtime.close()

    asyncio.run(run())
    return 0


def cmd_talk(args: argparse.Namespace, settings: EchoSettings) -> int:
    """Talk to Echo through this machine's microphone and speaker."""
    from transports.local_audio import AudioDeviceError, check_devices

    try:
        check_devices(args.input_device, args.output_device)
    except AudioDeviceError as e:
        print(f"echo-agent: {e}", file=sys.stderr)
        return 2
    return run_one_session(
        settings,
        args.pipeline,
        "local",
        input_device_index=args.input_device,
        output_device_index=args.output_device,
    )


def cmd_daily(args: argparse.Namespace, settings: EchoSettings) -> int:
    """Join a Daily room as the agent (needs the room URL, and network access to Daily)."""
    room_url = args.room_url or os.environ.get("DAILY_ROOM_URL")
    if not room_url:
        raise MissingKeyError("DAILY_ROOM_URL", "the Daily transport")
    token = args.token or os.environ.get("DAILY_TOKEN")
    return run_one_session(settings, args.pipeline, "daily", room_url=room_url, token=token)


def cmd_chat(args: argparse.Namespace, settings: EchoSettings) -> int:
    """A text conversation through the voice pipeline's brain, tools, settings and audit trail."""
    from clinic.cli_chat import run_chat_session

    return asyncio.run(run_chat_session(settings, patient_id=args.patient))


def build_parser() -> argparse.ArgumentParser:
    """The ``echo-agent`` argument parser with every subcommand."""
    parser = argparse.ArgumentParser(prog="echo-agent", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the web server (browser client at /)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=7860)
    serve.add_argument("--no-warm-up", action="store_true", help="skip model warm-up")
    serve.set_defaults(func=cmd_serve)

    talk = sub.add_parser("talk", help="talk through this machine's microphone and speaker")
    talk.add_argument("--pipeline", default="cascaded")
    talk.add_argument("--input-device", type=int, default=None)
    talk.add_argument("--output-device", type=int, default=None)
    talk.set_defaults(func=cmd_talk)

    daily = sub.add_parser("daily", help="join a Daily room as the agent")
    daily.add_argument("--room-url", default=None, help="default: $DAILY_ROOM_URL")
    daily.add_argument("--token", default=None, help="default: $DAILY_TOKEN")
    daily.add_argument("--pipeline", default="cascaded")
    daily.set_defaults(func=cmd_daily)

    chat = sub.add_parser("chat", help="text REPL through the same brain and tools")
    chat.add_argument(
        "--patient",
        default=None,
        help="act as this patient id, vouched for (default: identify in the conversation)",
    )
    chat.set_defaults(func=cmd_chat)

    for name in COMMAND_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name not in (name, name.partition(".")[0]):  # a real error inside it
                raise
            continue
        module.add_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse arguments, build the one settings object, dispatch."""
    args = build_parser().parse_args(argv)
    logs.configure(verbose=args.verbose)
    try:
        settings = EchoSettings()
        return args.func(args, settings) or 0
    except MissingKeyError as e:
        print(f"echo-agent: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
