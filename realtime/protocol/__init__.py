"""The OpenAI Realtime (GA) protocol subset Echo's offline server speaks: pure functions.

Client events are parsed and validated here; server events are built here. Nothing in this
package touches a socket or a model, so every rule is testable on its own:
:mod:`~realtime.protocol.events` (ids, parsing, event builders),
:mod:`~realtime.protocol.session` (the session and ``response.create`` options),
:mod:`~realtime.protocol.fields` (field value checks), :mod:`~realtime.protocol.items`
(conversation items, the conversation as chat messages) and
:mod:`~realtime.protocol.spoken` (spoken output and what was heard of it).
"""

from realtime.protocol.events import (
    BYTES_PER_MS,
    SAMPLE_RATE,
    ProtocolError,
    decode_audio,
    error_event,
    known_model,
    new_id,
    parse_client_event,
    server_event,
)
from realtime.protocol.fields import check_passive_setting, check_tools, check_turn_detection
from realtime.protocol.items import (
    check_image_part,
    check_item,
    image_bytes,
    item_text,
    messages_for_brain,
    public_item,
    unpack_saved_conversation,
)
from realtime.protocol.session import (
    BETA_RESPONSE_FIELDS,
    BETA_SESSION_FIELDS,
    apply_session_update,
    check_beta_fields,
    check_response_options,
    default_session,
)
from realtime.protocol.spoken import WordTiming, heard_transcript, word_timings

__all__ = [
    "BETA_RESPONSE_FIELDS",
    "BETA_SESSION_FIELDS",
    "BYTES_PER_MS",
    "SAMPLE_RATE",
    "ProtocolError",
    "WordTiming",
    "apply_session_update",
    "check_beta_fields",
    "check_image_part",
    "check_item",
    "check_passive_setting",
    "check_response_options",
    "check_tools",
    "check_turn_detection",
    "decode_audio",
    "default_session",
    "error_event",
    "heard_transcript",
    "image_bytes",
    "item_text",
    "known_model",
    "messages_for_brain",
    "new_id",
    "parse_client_event",
    "public_item",
    "server_event",
    "unpack_saved_conversation",
    "word_timings",
]
