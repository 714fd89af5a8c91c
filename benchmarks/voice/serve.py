"""Run Echo's real server for the bench, with settings overridden from the command line.

``python -m benchmarks.voice.serve --port 7870 --settings-json '{"vad_stop_secs": 0.2}'`` builds
``EchoSettings(**overrides)`` (environment and ``.env`` still apply underneath) and serves
``server.create_app`` with uvicorn on 127.0.0.1 (``--host``: another address). The server
gives each session a :class:`observers.latency.LatencyObserver` that publishes its per-turn
breakdown on the data channel.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

from config import EchoSettings


def parse_overrides(text: str) -> dict:
    """The ``--settings-json`` object.

    Raises:
        ValueError: Not a JSON object, or a key that is not an ``EchoSettings`` field.
    """
    try:
        data = json.loads(text or "{}")
    except json.JSONDecodeError as e:
        raise ValueError(f"--settings-json is not JSON: {e}") from e
    if not isinstance(data, dict):
        raise ValueError("--settings-json must be a JSON object")
    unknown = sorted(set(data) - set(EchoSettings.model_fields))
    if unknown:
        raise ValueError(f"unknown setting(s): {', '.join(unknown)}")
    return data


def main(argv: list[str] | None = None) -> int:
    """Serve Echo on ``--port`` until killed."""
    import uvicorn

    import logs
    import server

    parser = argparse.ArgumentParser(prog="python -m benchmarks.voice.serve", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--settings-json", default="{}")
    parser.add_argument(
        "--host", default="127.0.0.1", help="address to bind (default: loopback only)"
    )
    args = parser.parse_args(argv)
    try:
        overrides = parse_overrides(args.settings_json)
    except ValueError as e:
        print(f"benchmarks.voice.serve: {e}", file=sys.stderr)
        return 2
    # ECHO_BENCH_DEBUG=1: DEBUG logs (still scrubbed of transcripts) in <out>/<system>.log
    logs.configure(verbose=os.environ.get("ECHO_BENCH_DEBUG") == "1")
    settings = EchoSettings(**{**overrides, "host": args.host, "port": args.port})
    app = server.create_app(settings)
    uvicorn.run(app, host=args.host, port=args.port, log_level="warning")
    return 0


if __name__ == "__main__":
    sys.exit(main())
