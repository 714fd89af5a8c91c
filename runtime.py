"""What one Echo server process holds: warm models, stores, live sessions; and a session's run.

:class:`EchoRuntime` is built at start-up (``server.create_app``'s lifespan) and kept on
``app.state.runtime``: the local models and phrase cache, the clinic and audit stores, the
lexicon, the offline Realtime server, the WebRTC request handler, and every live session.
``new_session`` builds a :class:`pipelines.Session` for a transport and ``run_session`` runs
a variant in it with its audit trail, recording how it ended; :class:`memory.MemoryRelease` then
frees what the session held (and returns it to the OS when idle). The ``load_*`` / ``open_*``
helpers are shared with the CLI commands that need the same stores outside a server.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from loguru import logger

import pipelines
import providers
from config import EchoSettings
from memory import MemoryRelease, freeze_startup_objects
from transports import TRANSPORTS
from transports.guards import RateLimiter
from transports.pc_binding import PeerBindings


class EchoRuntime:
    """Server-wide state: warm models, stores, live sessions. One per app, never global."""

    def __init__(self, settings: EchoSettings):
        from pipecat.transports.smallwebrtc.request_handler import SmallWebRTCRequestHandler

        from clinic.store import ClinicStore
        from providers.local import LocalModels

        self.settings = settings
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        self.models = LocalModels(settings)
        self.clinic_store = ClinicStore(
            settings.resolved_clinic_db(), timezone=settings.clinic_timezone
        )
        self.clinic_store.seed(load_vocabulary(settings), start=self.today())
        load_patients(self.clinic_store, settings)
        self.lexicon = load_lexicon(settings)
        self.webrtc = SmallWebRTCRequestHandler(ice_servers=[])
        self.sessions: dict[str, asyncio.Task] = {}
        self.starting = 0  # offers being answered, not yet a session (count against the cap)
        self.offer_rate = RateLimiter(settings.offers_per_minute)
        self.pc_sessions: dict[str, pipelines.Session] = {}  # WebRTC pc_id → live session
        self.pc_bindings = PeerBindings()  # live pc_id → its token and the address that made it
        self.audit_store = open_audit_store(settings)
        from realtime.local import LocalRealtime

        # The offline Realtime server for speech_native, started on first use.
        self.realtime = LocalRealtime(
            settings, models=self.models, clinic_store=self.clinic_store, lexicon=self.lexicon
        )
        self._warming: asyncio.Task | None = None
        self._stop_warming = threading.Event()
        self.memory = MemoryRelease(busy=lambda: self.live_or_starting() > 0)
        freeze_startup_objects()

    def warm_phrases_in_background(self) -> None:
        """Pre-synthesize the local brain's fixed phrases into the shared phrase cache."""
        from clinic.wording.phrases import fixed_phrases

        async def warm():
            phrases = fixed_phrases()
            cached = await asyncio.to_thread(
                self.models.warm_phrases,
                phrases,
                stop=self._stop_warming,
                pause=lambda: bool(self.sessions),  # a live call has the CPU first
            )
            logger.info(f"pre-synthesized {cached} phrases")

        self._warming = asyncio.create_task(warm())

    def live_or_starting(self) -> int:
        """Sessions running plus offers still being answered (what the cap counts)."""
        return len(self.sessions) + self.starting

    def forget_pc_session(self, session) -> None:
        """Drop every pc_id of an ended ``session`` (the first and any after a restart)."""
        for pc_id in [p for p, s in self.pc_sessions.items() if s is session]:
            self.pc_sessions.pop(pc_id, None)
            self.pc_bindings.release(pc_id)

    def renegotiated(
        self, session, *, pc_id: str, answer_pc_id: str, address, restart: bool, allowed_by: str
    ) -> None:
        """Keep a renegotiated connection bound to its client, and put it in the audit trail.

        A ``restart_pc`` gives the connection a new ``pc_id`` (Pipecat makes a new peer
        connection); both stay bound to the session until it ends.
        """
        if session.session_id not in self.sessions:
            return  # ended meanwhile: nothing left to bind
        for pc in {pc_id, answer_pc_id}:
            self.pc_sessions[pc] = session
            self.pc_bindings.bind(pc, address)  # a token holder may have moved address
        if session.audit is not None:
            session.audit.submit(
                "renegotiated",
                {
                    "pc_id": answer_pc_id,
                    "previous_pc_id": pc_id if answer_pc_id != pc_id else None,
                    "restart_pc": restart,
                    "allowed_by": allowed_by,  # pc_token or same_address; no address kept
                },
            )
        logger.info(
            f"session {session.session_id} renegotiated (restart_pc={restart}, by {allowed_by})"
        )

    @property
    def warming(self) -> bool:
        """Whether the start-up phrase synthesis is still under way (paused or not)."""
        return self._warming is not None and not self._warming.done()

    def today(self):
        """The clinic's current date."""
        return datetime.now(ZoneInfo(self.settings.clinic_timezone)).date()

    def new_session(
        self,
        *,
        transport,
        transport_name: str,
        patient_id: str | None = None,
        identified: bool = False,
    ):
        """A :class:`pipelines.Session` for one conversation.

        ``identified``: the host vouched for ``patient_id`` (a signed token). Otherwise the
        id only names the session's own bookings until the caller is identified in the call.
        """
        from observers.latency import LatencyObserver

        session_id = uuid.uuid4().hex
        client_events = TRANSPORTS[transport_name].client_events
        # Per-turn latency breakdown, published live to the web client over the data channel.
        latency = LatencyObserver(session_id=session_id, publish=client_events)
        return pipelines.Session(
            session_id=session_id,
            settings=self.settings.for_transport(transport_name),
            transport=transport,
            models=self.models,
            clinic_store=self.clinic_store,
            lexicon=self.lexicon,
            patient_id=patient_id or f"patient-{session_id[:8]}",
            identified=identified and bool(patient_id),
            today=self.today(),
            client_events=client_events,
            transport_name=transport_name,
            observers=[latency],
            realtime=self.realtime,
        )

    async def run_session(self, name: str, variant, session) -> None:
        """Build and run one conversation until it ends, with its audit trail."""
        from pipecat.workers.runner import WorkerRunner

        recorder, observer = await self.start_audit(name, session)
        status = "complete"
        try:
            runner = WorkerRunner(handle_sigint=False)
            await runner.add_workers(variant.build(session))
            await runner.run()
            status = session.ending or "complete"
        except asyncio.CancelledError:
            status = session.ending or "cancelled"
            raise
        except Exception as e:
            status = "server_error"
            logger.exception(f"session {session.session_id} failed: {type(e).__name__}")
        finally:
            if observer is not None:
                observer.flush()
                await recorder.close(status)
            logger.info(f"session {session.session_id} ended: {status}")
            self.memory.session_ended()

    async def start_audit(self, name: str, session):
        """Attach an audit recorder (the tools' fail-closed sink) and observer to a session."""
        if self.audit_store is None:
            return None, None
        from audit import AuditRecorder
        from observers.audit import AuditObserver

        settings = session.settings  # as this transport uses them (a phone call's model)
        stages = providers.describe(settings)
        if name == "vision":  # which model saw the caller's images
            from vision.providers import describe_vision

            stages["vision"] = describe_vision(settings)
        recorder = AuditRecorder(
            self.audit_store,
            session_id=session.session_id,
            variant=name,
            config_hash=settings.config_hash(name),
            providers=stages,
            max_queue=settings.audit_queue_size,
            audio_dir=settings.audit_audio_dir() if settings.audit_keep_audio else None,
        )
        await recorder.start(transport=session.transport_name, patient_id=session.patient_id)
        observer = AuditObserver(
            recorder=recorder,
            keep_audio=settings.audit_keep_audio,
            ending=lambda: session.ending,  # a reply cut by a hang-up is told as such
        )
        session.audit = recorder
        session.observers.append(observer)
        from observers.latency import LatencyObserver

        async def keep_latency(_, record):
            recorder.submit("latency", record.to_dict(include_text=False))

        for latency in (o for o in session.observers if isinstance(o, LatencyObserver)):
            latency.add_event_handler("on_turn_latency", keep_latency)
        return recorder, observer

    async def close(self) -> None:
        """Stop every live session and close the stores."""
        self._stop_warming.set()
        if self._warming is not None:
            await asyncio.gather(self._warming, return_exceptions=True)
        for task in list(self.sessions.values()):
            task.cancel()
        await asyncio.gather(*self.sessions.values(), return_exceptions=True)
        await self.webrtc.close()
        await self.realtime.close()
        await self.memory.close()
        if self.audit_store is not None:
            self.audit_store.close()


async def run_and_release(runtime: EchoRuntime, name: str, variant, session, connection):
    """Run a WebRTC session, then close its peer connection whatever ended it.

    Pipecat closes the connection only when it had connected: an answered offer that never
    connected kept its aiortc peer connection (2 UDP sockets, ~20 MB) and its place in the
    request handler's map for good.
    """
    try:
        await runtime.run_session(name, variant, session)
    finally:
        if connection.pc.connectionState != "closed":
            await connection.disconnect()  # "closed": the handler forgets the pc_id too


def watch_peer(session, connection, silence_secs: float) -> None:
    """Close a WebRTC connection whose caller audio stopped: the call ends ``hung_up``.

    A killed client or a dropped network sends no goodbye; without this the call would go
    on for ~30 s (ICE consent) with Echo speaking to nobody.
    """
    from observers.peer_silence import PeerSilenceObserver

    watch = PeerSilenceObserver(silence_secs=silence_secs)

    async def gone(_, silent_secs):
        await connection.disconnect()  # the transport reports on_client_disconnected

    watch.add_event_handler("on_peer_silent", gone)
    session.observers.append(watch)


def load_patients(store, settings: EchoSettings) -> None:
    """Load the patient records file (settings.patients_path) into the clinic database."""
    from clinic.care import CareStore

    if settings.patients_path is not None:
        added = CareStore(store).load_patients(settings.patients_path)
        if added:
            logger.info(f"loaded {added} patient record(s)")


def load_vocabulary(settings: EchoSettings) -> dict:
    """The deployment vocabulary JSON (providers, medications, specialties, procedures)."""
    return json.loads(Path(settings.vocabulary_path).read_text())


def open_audit_store(settings: EchoSettings):
    """Open the audit store (PostgreSQL when DATABASE_URL is set) and close orphaned sessions."""
    if not settings.audit_enabled:
        logger.warning("audit trail is OFF (ECHO_AUDIT_ENABLED=false)")
        return None
    from audit import open_store, recover_incomplete_sessions
    from audit.audio import purge_audio, purge_kept

    store = open_store(settings)
    closed = recover_incomplete_sessions(store)
    if closed:
        logger.warning(f"audit: closed {len(closed)} interrupted session(s) as incomplete")
    if settings.audit_keep_audio:
        purge_audio(settings.audit_audio_dir(), retention_days=settings.audit_audio_retention_days)
    if settings.audit_keep_images:
        purge_kept(
            settings.audit_images_dir(),
            "*/*.*",
            retention_days=settings.audit_image_retention_days,
        )
    return store


def load_lexicon(settings: EchoSettings):
    """The deployment vocabulary as a lexicon (STT biasing and correction)."""
    from vocabulary import Lexicon

    return Lexicon.load(settings.vocabulary_path)
