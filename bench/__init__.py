"""``echo-agent bench``: voice-to-voice latency over WebRTC, per stage, against a vanilla bot.

See ``docs/latency.md``. Modules: ``prompts`` (scripted audio), ``servers`` / ``serve`` /
``vanilla`` (the bots under test), ``run`` (the loop and the join), ``report`` (table, CSV,
chart), ``overhead`` (the observer's cost), ``cli`` (the subcommand).
"""
