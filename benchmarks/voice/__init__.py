"""``echo-agent bench``: voice-to-voice latency over WebRTC, per stage, against a vanilla bot.

See ``docs/latency.md``. Modules: ``prompts`` (scripted audio) and ``heldout`` (the frozen
held-out prompt sets), ``servers`` / ``serve`` / ``vanilla`` (the bots under test), ``run``
(the call loop), ``rows`` (each prompt joined with the server's breakdown), ``replies``
(what the bot said, from the audit trail), ``stats`` (the figures), ``report`` (table, CSV,
chart, JSON), ``overhead`` (the observer's cost), ``cli`` (the subcommand).
"""
