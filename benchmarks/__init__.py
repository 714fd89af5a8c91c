"""Echo's benchmarks: commands that print figures (speed targets live here, never in tests).

``voice/`` is the voice-to-voice harness behind ``echo-agent bench``: scripted prompts
(``prompts``, the frozen held-out sets in ``heldout``), the bots under test (``servers``,
``serve``, ``vanilla``), the call loop (``run``), the join of each prompt with the server's
per-turn breakdown (``rows``), the statistics (``stats``) and the outputs (``report``), the
observer's own cost (``overhead``) and the subcommand (``cli``). It is a subpackage because
it is one tool of a dozen modules that the scripts below reuse (prompts, servers, the caller
loop); the scripts stay flat, one file per measurement. Frozen inputs live in ``data/``
(held-out prompts ``prompts_heldout*.tsv``, held-out caller openings ``callers_heldout*.tsv``).

The scripts, each run from the project directory as ``.venv/bin/python benchmarks/NAME.py``
(``--help`` lists the flags):

* ``brain_eval`` — the local brain's replies and tool calls on caller openings, judged
  against labels (``--callers benchmarks/data/callers_heldout3.tsv``).
* ``jitter_bench`` — audio lost and WER under emulated jitter and loss, per WebRTC
  jitter-buffer setting (needs root; ``netem`` is its user-space network emulator).
* ``ocr_bench`` — the vision reader's OCR accuracy on generated screenshots and labels, and
  its time per 1280×720 screenshot.
* ``offer_flood`` — whether the server gives back what offers that never connect took
  (memory, descriptors, UDP sockets).
* ``soak`` — back-to-back real calls for an hour: whether the server's footprint stays flat
  (``server_usage`` is the spawned server and its ``/proc`` and ``/healthz`` samples, shared
  with ``offer_flood``).
* ``telephony_bench`` — voice-to-voice latency over the Twilio and protobuf WebSocket paths
  (and WebRTC on the same server).
* ``tts_first_audio`` — Piper's time to a reply's first audio on the replies the bot gave,
  with and without the phrase cut of the first piece.
* ``turn_completeness`` — text-level end-of-turn verdicts on the tuning and held-out prompts
  (``python -m benchmarks.turn_completeness``).
* ``vision_v2v`` — voice-to-voice latency of vision turns over WebRTC, per camera mode.
* ``vocab_bench`` — vocabulary correction cost and STT time per utterance.
* ``vocab_context`` — bare answers to the bot's question, with and without the
  conversation context (the frozen context set, tuning or held-out split).
* ``vocab_matchers`` — per-call cost of the corrector's matchers, correction time per
  utterance (no Whisper).
* ``vocab_matrix`` — term accuracy per caller voice and audio condition.

The voice-to-voice latency bench itself: ``echo-agent bench --help`` (``docs/latency.md``).
"""
