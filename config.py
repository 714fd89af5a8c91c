"""Echo settings: one pydantic-settings object, built in ``main()`` and passed down.

Values come from environment variables (``ECHO_*``, plus the providers' usual
``OPENAI_API_KEY`` / ``DEEPGRAM_API_KEY`` / ``CARTESIA_API_KEY`` / ``GOOGLE_API_KEY`` /
``ANTHROPIC_API_KEY``) or a ``.env`` file. Secrets are ``SecretStr`` so they never print
in a repr or a log line.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_DIR = Path(__file__).resolve().parent
DEFAULT_VOCABULARY = PROJECT_DIR / "clinic" / "data" / "clinic_vocabulary.json"


class MissingKeyError(RuntimeError):
    """A chosen cloud provider has no API key; names the environment variable to set."""

    def __init__(self, variable: str, provider: str):
        self.variable = variable
        self.provider = provider
        super().__init__(f"{provider} needs {variable}: set it in the environment or in .env")


PHONE_TRANSPORTS = ("twilio",)  # transports whose audio is the 8 kHz telephone band


class EchoSettings(BaseSettings):
    """All of Echo's runtime configuration."""

    model_config = SettingsConfigDict(
        env_prefix="ECHO_", env_file=".env", extra="ignore", populate_by_name=True
    )

    # --- server -------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = 7860
    data_dir: Path = Path("echo_data")
    max_sessions: int = 4
    # How a call ends when the caller does not end it (docs/audit.md, session endings):
    connect_timeout_secs: float = 30.0  # answered offer never connected: freed, never_connected
    peer_silence_secs: float = 3.0  # no WebRTC caller audio this long: gone (hung_up)
    idle_timeout_secs: float = 60.0  # silence: the bot asks once, then ends (idle_timeout)
    max_call_secs: float = 1800.0  # longest call (max_duration)
    offers_per_minute: int = 30  # per client address on POST /api/offer (429 beyond)

    # --- provider choice ("auto": the cloud provider when its key is set, else local) ----
    stt_provider: Literal["auto", "whisper", "deepgram"] = "auto"
    llm_provider: Literal["auto", "local", "openai"] = "auto"
    tts_provider: Literal["auto", "piper", "cartesia"] = "auto"

    # --- cloud keys (read from the providers' usual variable names) -----------------------
    openai_api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("OPENAI_API_KEY", "ECHO_OPENAI_API_KEY")
    )
    openai_base_url: str | None = Field(
        None, validation_alias=AliasChoices("OPENAI_BASE_URL", "ECHO_OPENAI_BASE_URL")
    )
    openai_model: str = "gpt-4o-mini"
    deepgram_api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("DEEPGRAM_API_KEY", "ECHO_DEEPGRAM_API_KEY")
    )
    deepgram_model: str = "nova-3"
    cartesia_api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("CARTESIA_API_KEY", "ECHO_CARTESIA_API_KEY")
    )
    cartesia_voice: str = "71a7ad14-091c-4e8e-a314-022ece01c121"
    # Base URLs of the cloud speech providers (default: their own); e.g. a private
    # deployment or a local server speaking the same protocol (ws:// or wss://).
    deepgram_base_url: str | None = None  # → <base>/v1/listen
    cartesia_base_url: str | None = None  # → <base>/tts/websocket
    # A cloud stage that refuses its key, does not answer within provider_timeout_secs,
    # returns errors or drops its stream hands the call to the local model of that stage
    # (pipelines/failover.py, docs/failover.md).
    failover: bool = True
    provider_timeout_secs: float = 4.0
    google_api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("GOOGLE_API_KEY", "ECHO_GOOGLE_API_KEY")
    )
    anthropic_api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("ANTHROPIC_API_KEY", "ECHO_ANTHROPIC_API_KEY")
    )
    anthropic_base_url: str | None = Field(
        None, validation_alias=AliasChoices("ANTHROPIC_BASE_URL", "ECHO_ANTHROPIC_BASE_URL")
    )

    # --- speech-native variant (OpenAI Realtime; Gemini Live; offline local server) ---------
    realtime_provider: Literal["auto", "openai", "local", "gemini"] = "auto"
    realtime_model: str = "gpt-realtime"
    realtime_voice: str = "alloy"
    realtime_turn_detection: Literal["server_vad", "semantic_vad"] = "server_vad"
    realtime_vad_threshold: float = 0.5
    realtime_silence_duration_ms: int = 500
    realtime_prefix_padding_ms: int = 300
    realtime_semantic_eagerness: Literal["low", "medium", "high", "auto"] = "auto"
    realtime_interruptions: bool = True
    realtime_transcription_model: str = "gpt-realtime-whisper"
    realtime_base_url: str | None = None
    realtime_max_reconnects: int = 1
    realtime_server_key: SecretStr | None = None
    gemini_live_model: str | None = None
    gemini_live_voice: str = "Charon"
    gemini_live_base_url: str | None = None  # another Live API endpoint (always wss://)

    # --- vision variant (images in the call; see vision/) ----------------------------------
    # "auto": the OpenAI-compatible multimodal endpoint when its URL or key is set, else
    # Anthropic Claude when ANTHROPIC_API_KEY is set, else the local reader (OCR) with the
    # LLM chosen by llm_provider.
    vision_provider: Literal["auto", "local", "openai_compatible", "anthropic"] = "auto"
    vision_base_url: str | None = None  # e.g. http://127.0.0.1:11434/v1 (Ollama)
    vision_model: str = "gpt-4o-mini"
    vision_api_key: SecretStr | None = None
    vision_anthropic_model: str = "claude-haiku-5-5"  # key: anthropic_api_key
    vision_detail: Literal["auto", "low", "high"] = "auto"
    vision_max_image_bytes: int = 10 * 1024 * 1024
    vision_max_pixels: int = 40_000_000  # more in the header: refused before decoding
    vision_max_side: int = 1568  # longest side sent to a model / the reader
    # camera frame for a turn: "prefetch" (taken as the caller starts speaking and read while
    # they talk, used if the scene has not changed), "request" (taken when read_image runs),
    # "latest" (sampled at 1 fps, the newest used)
    vision_camera_mode: Literal["prefetch", "request", "latest"] = "prefetch"
    vision_max_images: int = 1  # images kept in the model input (older: by sha256 only)

    # --- embedded local models --------------------------------------------------------------
    whisper_model: str = "tiny.en"  # "tiny.en" (bundled), "base" (bundled, split), or a dir
    whisper_compute_type: str = "int8"
    # Mel window Whisper decodes short utterances in (Whisper's own is 30 s): 10 s measured
    # 128 ms vs 394 ms per utterance at a small accuracy cost (docs/vocabulary.md).
    whisper_pad_seconds: float = 10.0
    # speech end → transcript p99 (VAD silence + STT) the end-of-turn safety net waits for when
    # a segment brings no transcript (Pipecat's default: 1.0 s)
    whisper_ttfs_p99_secs: float = 0.7
    whisper_biasing: bool = True  # second, hotword-biased pass with the vocabulary's candidates
    piper_voice: str = "en_US-joe-medium"
    tts_split_clauses: bool = True  # synthesize a sentence's first clause on its own
    tts_warm_phrases: bool = True  # pre-synthesize the local brain's fixed phrases at start-up
    # Synthesize the local brain's likely reply at the caller's pause
    # (pipelines.speculative_reply). Off: on this 2-core machine it competed with the real
    # turn for the CPU and made the held-out client gap worse (p50 845 vs 703 ms, cold).
    tts_speculative_reply: bool = False

    # --- turn taking --------------------------------------------------------------------------
    # The only defaults of these knobs: pipelines.turn_taking.TurnTaking reads them as set here.
    vad_confidence: float = 0.7
    vad_start_secs: float = 0.2
    vad_stop_secs: float = 0.2  # 0.15 split "Yes, please book it" at the comma (docs/latency.md)
    smart_turn: bool = True
    smart_turn_fallback_secs: float = 1.2  # Pipecat's default is 3 s
    turn_unfinished_hold_secs: float = 1.0  # silence to wait when text stops mid-clause
    turn_question_silence_secs: float = 0.3  # a "?" turn smart-turn calls unfinished
    turn_min_silence_secs: float = 0.0
    # smart-turn "complete" below this probability on a statement waits the hold (1.0 s)
    turn_uncertain_below: float = 0.85
    turn_uncertain_hold_secs: float = 1.0
    # silence a bare acknowledgement ("Thank you.", "Yes.") waits for: callers go on after
    # a comma pause ("Thank you, that's all."); a voice onset cancels the wait (0: off)
    turn_short_hold_secs: float = 0.4
    # Audio packets aiortc's jitter buffer holds before handing one on (aiortc: 4 = 80 ms);
    # 1 suits loopback and LANs (transports.set_audio_jitter_prefetch).
    webrtc_audio_prefetch: int = 1
    # Give up on a missing audio packet once this many wait behind it (0: aiortc's own wait,
    # until 16 are queued, after which the buffer stays ~300 ms deep for the rest of the call;
    # 3 keeps it ~60 ms deep under 30 ms jitter + 2% loss: benchmarks/jitter_bench.py).
    webrtc_audio_skip_after: int = 3
    # Start STT + smart-turn once this much silence is heard, before the VAD stop confirms it
    # (pipelines/speculation.py); a negative value turns the speculation off.
    turn_speculation_secs: float = 0.064

    # --- phone calls (Twilio Media Streams) and Daily rooms: transports/telephony.py, ... --
    public_url: str | None = None  # https://host as callers' carriers see it (default: Host)
    telephony_pipelines: dict[str, str] = {}  # called number → variant, e.g. {"+15550100": ...}
    # The Whisper model of phone calls (8 kHz μ-law); unset: ``whisper_model``. "base" heard
    # an unfamiliar voice better on the phone band and invented more terms (docs/telephony.md).
    telephony_whisper_model: str | None = None
    twilio_auth_token: SecretStr | None = Field(
        None, validation_alias=AliasChoices("TWILIO_AUTH_TOKEN", "ECHO_TWILIO_AUTH_TOKEN")
    )  # set: every webhook and stream must carry a valid X-Twilio-Signature
    twilio_account_sid: str | None = Field(
        None, validation_alias=AliasChoices("TWILIO_ACCOUNT_SID", "ECHO_TWILIO_ACCOUNT_SID")
    )  # with the token: hang up through Twilio's REST API when the agent ends the call
    twilio_api_base_url: str | None = None  # Twilio REST root (default: Twilio's own)
    # Hand-off on a phone call: the number Twilio dials for "a person" (with the account sid
    # and auth token). Unset: hand-off is a recorded call-back.
    handoff_phone_number: str | None = None
    daily_api_key: SecretStr | None = Field(
        None, validation_alias=AliasChoices("DAILY_API_KEY", "ECHO_DAILY_API_KEY")
    )
    daily_api_url: str = Field(
        "https://api.daily.co/v1",
        validation_alias=AliasChoices("DAILY_API_URL", "ECHO_DAILY_API_URL"),
    )
    daily_room_expiry_secs: float = 1800.0  # rooms made by POST /api/daily expire after this

    # --- domain -----------------------------------------------------------------------------------
    vocabulary_path: Path = DEFAULT_VOCABULARY
    vocabulary_correction: bool = True
    clinic_db_path: Path | None = None  # default: <data_dir>/clinic.db
    clinic_timezone: str = "UTC"
    clinic_info_path: Path = PROJECT_DIR / "clinic" / "data" / "clinic_info.json"
    # Patient records loaded into the clinic database at start-up (a demo set by default;
    # a real deployment points this at its own export, or None for none).
    patients_path: Path | None = PROJECT_DIR / "clinic" / "data" / "demo_patients.json"
    # Signs request_data.patient_token (clinic/identity.py); unset: no token is accepted and
    # every caller is identified in the conversation.
    patient_token_secret: SecretStr | None = None
    # Set: the bootstrap and admin API (/api/..., /ws) needs "Authorization: Bearer <token>"
    # (transports/guards.py); the page takes it from its URL fragment (#token=...).
    api_token: SecretStr | None = None

    # --- audit ---------------------------------------------------------------------------
    audit_enabled: bool = True
    audit_db_path: Path | None = None  # default: <data_dir>/audit.db
    database_url: SecretStr | None = Field(
        None, validation_alias=AliasChoices("DATABASE_URL", "ECHO_DATABASE_URL")
    )
    audit_queue_size: int = 1000
    audit_keep_audio: bool = False  # write each turn's user/bot audio as WAV (hashes always)
    audit_audio_retention_days: float = 30.0
    # Keep the copy of each image a model was given (hashes and sizes are always recorded).
    audit_keep_images: bool = False
    audit_image_retention_days: float = 30.0
    audit_redact_exports: bool = False  # redact phones / dates of birth / emails in exports

    def resolved_clinic_db(self) -> Path:
        """Path of the clinic booking database."""
        return self.clinic_db_path or self.data_dir / "clinic.db"

    def models_dir(self) -> Path:
        """Where models bundled in parts are assembled (``<data_dir>/models``)."""
        return self.data_dir / "models"

    def whisper_model_path(self) -> str:
        """Directory of the configured Whisper model (split models assembled on first use)."""
        from models import whisper_model_dir

        return whisper_model_dir(self.whisper_model, cache_dir=self.models_dir())

    def resolved_audit_db(self) -> Path:
        """Path of the SQLite audit database."""
        return self.audit_db_path or self.data_dir / "audit.db"

    def audit_audio_dir(self) -> Path:
        """Where turn audio is kept when ``audit_keep_audio`` is on."""
        return self.data_dir / "audit_audio"

    def audit_images_dir(self) -> Path:
        """Where images are kept when ``audit_keep_images`` is on."""
        return self.data_dir / "audit_images"

    def for_transport(self, transport: str) -> EchoSettings:
        """These settings as a session on ``transport`` uses them (a phone call's model)."""
        if transport in PHONE_TRANSPORTS and self.telephony_whisper_model:
            return self.model_copy(update={"whisper_model": self.telephony_whisper_model})
        return self

    def config_hash(self, variant: str) -> str:
        """sha256 of the variant name and every non-secret setting (for the audit trail)."""
        import hashlib
        import json

        public = self.model_dump(mode="json")  # SecretStr fields dump as "**********"
        blob = json.dumps({"variant": variant, "settings": public}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()

    def secret(self, name: str) -> str | None:
        """Plain value of a secret field, or None when unset or empty."""
        value: SecretStr | None = getattr(self, name)
        if value is None:
            return None
        raw = value.get_secret_value().strip()
        return raw or None
