"""Echo's offline OpenAI-Realtime-compatible server (cascaded inside).

``realtime.server.RealtimeServer`` speaks the GA Realtime WebSocket protocol subset that
Pipecat's ``OpenAIRealtimeLLMService`` uses, on top of Echo's local models
(``realtime.engine.LocalEngine``). ``realtime.protocol`` holds the pure protocol rules and
``realtime.turns`` the server-VAD state machine. ``echo-agent realtime-server`` runs it.
"""
