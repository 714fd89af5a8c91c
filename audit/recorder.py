"""Session recorder: takes audit records off the hot path and writes them in order.

``submit()`` is synchronous and never blocks: it puts the record on a bounded
``asyncio.Queue`` that one writer task drains, appending each record to the store
in a worker thread. Nothing is lost silently:

* queue full → the record is counted as dropped, a warning is logged (kind, turn
  and counts only, never transcript text) and, as soon as there is room again, a
  ``gap`` record says how many records of which kinds were lost and between which
  turns;
* database failure → the writer keeps the record, retries with backoff, logs, and
  when the store is back writes a ``gap`` record describing the outage before
  carrying on (records queued meanwhile are kept; only overflow is dropped, and
  that is counted as above).

``record_now()`` / ``record_tool_call()`` commit before returning and raise
:class:`AuditWriteError` when they cannot: a tool that must not report success
unless its audit record is committed (fail closed) awaits them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
from pathlib import Path
from typing import Any

from loguru import logger

from audit.audio import AudioClip, audio_file_path, write_wav
from audit.bodies import (
    ERROR,
    GAP,
    SESSION_END,
    SESSION_START,
    TOOL_CALL,
    Loss,
    outage_gap_body,
    short_error,
    stamp,
)
from audit.chain import StoredRecord, to_jsonable
from audit.store import AuditStore, utc_now_iso


class AuditWriteError(RuntimeError):
    """A record that had to be committed now could not be."""


@dataclasses.dataclass
class _Item:
    kind: str
    body: dict[str, Any]
    audio: dict[str, AudioClip] | None = None


_STOP = object()


class AuditRecorder:
    """Writes one session's audit records to an :class:`AuditStore` off the hot path."""

    def __init__(
        self,
        store: AuditStore,
        *,
        session_id: str,
        variant: str,
        config_hash: str,
        providers: dict[str, Any] | None = None,
        max_queue: int = 1000,
        retry_initial_secs: float = 0.05,
        retry_max_secs: float = 2.0,
        audio_dir: str | Path | None = None,
    ):
        """Create a recorder for one session (call :meth:`start` before submitting).

        Args:
            store: Where records go.
            session_id: Conversation id (every record carries it).
            variant: Pipeline variant name, stamped on every turn.
            config_hash: Hash of the variant's configuration, stamped on every turn.
            providers: Provider and model per stage, e.g.
                ``{"stt": {"provider": "whisper", "model": "tiny.en"}, ...}``.
            max_queue: Bound of the queue between :meth:`submit` and the writer.
            retry_initial_secs: First backoff after a database failure.
            retry_max_secs: Longest backoff.
            audio_dir: Where turn audio is saved as WAV when a record comes with
                audio (None: audio is never written, only its hash is recorded).
        """
        if max_queue < 2:
            raise ValueError("max_queue must be at least 2")
        self._store = store
        self.session_id = session_id
        self.variant = variant
        self.config_hash = config_hash
        self.providers = to_jsonable(providers or {})
        self._max_queue = max_queue
        self._retry_initial = retry_initial_secs
        self._retry_max = retry_max_secs
        self._audio_dir = Path(audio_dir) if audio_dir is not None else None
        self._queue: asyncio.Queue | None = None
        self._writer: asyncio.Task | None = None
        self._loss = Loss()
        self._last_submitted_turn: int | None = None
        self._last_written_turn: int | None = None
        self._outage: dict[str, Any] | None = None
        self._closed = False
        self.dropped_total = 0
        self.written = 0
        self.failures = 0
        self.gaps_written = 0

    # ----------------------------------------------------------------------------- lifecycle

    @property
    def store(self) -> AuditStore:
        """The store records go to."""
        return self._store

    @property
    def started(self) -> bool:
        """Whether :meth:`start` ran."""
        return self._writer is not None

    def pending(self) -> int:
        """Records waiting for the writer."""
        return self._queue.qsize() if self._queue is not None else 0

    async def start(self, **session_info: Any) -> None:
        """Start the writer and queue the ``session_start`` record.

        Args:
            **session_info: Extra ``session_start`` fields (transport, client, ...).
        """
        if self._writer is not None:
            raise RuntimeError("AuditRecorder.start() called twice")
        self._queue = asyncio.Queue(maxsize=self._max_queue)
        self._writer = asyncio.create_task(self._run_writer(), name=f"audit-{self.session_id}")
        body = {
            "variant": self.variant,
            "config_hash": self.config_hash,
            "providers": self.providers,
            "started_at": utc_now_iso(),
            **session_info,
        }
        self._queue.put_nowait(_Item(SESSION_START, body))

    async def close(self, status: str = "complete", *, timeout: float = 30.0, **info: Any) -> None:
        """Queue ``session_end`` and wait for every queued record to be written.

        Args:
            status: ``complete``, ``error``, ``cancelled``...
            timeout: Longest wait for the writer; on expiry what is still queued
                is reported as lost in the log (the session then lacks its end
                record and is closed as ``incomplete`` at the next start-up).
            **info: Extra ``session_end`` fields.
        """
        if self._closed:
            return
        self._closed = True
        if self._queue is None or self._writer is None:
            return
        queue, writer = self._queue, self._writer
        body = {
            "status": status,
            "ended_at": utc_now_iso(),
            "last_turn": self._last_submitted_turn,
            **info,
        }

        async def finish() -> None:
            if self._loss.count:
                await queue.put(_Item(GAP, self._take_loss_body("queue_full")))
            body["records_dropped"] = self.dropped_total
            await queue.put(_Item(SESSION_END, body))
            await queue.put(_STOP)
            await asyncio.shield(writer)

        try:
            await asyncio.wait_for(finish(), timeout=timeout)
        except TimeoutError:
            logger.error(
                f"audit: session {self.session_id}: writer did not finish within {timeout}s; "
                f"{queue.qsize()} record(s) not written (store: {self._store.description})"
            )
            writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer
        except Exception as e:
            logger.error(
                f"audit: session {self.session_id}: writer failed ({short_error(e)}); "
                f"{queue.qsize()} record(s) not written"
            )

    # ----------------------------------------------------------------------------- submitting

    def submit(
        self, kind: str, body: dict[str, Any], *, audio: dict[str, AudioClip] | None = None
    ) -> bool:
        """Queue a record without waiting (safe to call from the hot path).

        Args:
            kind: Record kind (``turn``, ``error``, ...).
            body: Record content; ownership passes to the recorder.
            audio: Optional audio to save next to the record (``{"user": clip}``)
                when the recorder has an ``audio_dir``.

        Returns:
            True if queued, False if dropped (counted, logged, and reported by a
            later ``gap`` record).
        """
        turn = body.get("turn") if isinstance(body.get("turn"), int) else None
        if self._queue is None or self._closed:
            self._drop(kind, turn, "recorder not running")
            return False
        if self._loss.count:
            # Room again: the gap goes first, exactly where the records went missing.
            if self._queue.maxsize - self._queue.qsize() >= 2:
                self._queue.put_nowait(_Item(GAP, self._take_loss_body("queue_full")))
            else:
                self._drop(kind, turn, "queue full")
                return False
        try:
            self._queue.put_nowait(_Item(kind, body, audio))
        except asyncio.QueueFull:
            self._drop(kind, turn, "queue full")
            return False
        if turn is not None:
            self._last_submitted_turn = turn
        return True

    def _drop(self, kind: str, turn: int | None, why: str) -> None:
        self._loss.add(kind, turn, self._last_submitted_turn)
        self.dropped_total += 1
        if self._loss.count == 1 or self._loss.count % 100 == 0:
            logger.warning(
                f"audit: session {self.session_id}: {why}, dropped {kind} record"
                f"{'' if turn is None else f' for turn {turn}'} "
                f"({self._loss.count} lost since last gap record; a gap record will follow)"
            )

    def _take_loss_body(self, reason: str) -> dict[str, Any]:
        loss, self._loss = self._loss, Loss()
        return loss.gap_body(reason)

    async def record_now(self, kind: str, body: dict[str, Any]) -> StoredRecord:
        """Commit a record before returning (fail closed).

        Args:
            kind: Record kind.
            body: Record content.

        Returns:
            The committed record.

        Raises:
            AuditWriteError: The record could not be committed.
        """
        full = self._stamp(kind, body)
        try:
            rec = await asyncio.to_thread(self._store.append, kind, self.session_id, full)
        except Exception as e:
            self.failures += 1
            logger.error(
                f"audit: session {self.session_id}: could not commit {kind} record "
                f"({type(e).__name__}); the caller is told it failed"
            )
            if self._outage is None:
                self._outage = {"since": utc_now_iso(), "error": short_error(e), "attempts": 0}
            self._outage["attempts"] += 1
            self._outage.setdefault("failed_now", 0)
            self._outage["failed_now"] += 1
            raise AuditWriteError(f"audit record ({kind}) not committed: {short_error(e)}") from e
        self.written += 1
        return rec

    async def record_tool_call(
        self, *, name: str, arguments: Any, result: Any, tool_call_id: str | None = None
    ) -> StoredRecord:
        """Commit a ``tool_call`` record (the ToolAuditSink protocol).

        A booking tool awaits this before reporting success and reports failure
        when it raises.

        Args:
            name: Tool (function) name.
            arguments: Arguments the tool was called with.
            result: What the tool returned (e.g. the booking id).
            tool_call_id: The LLM's id for the call, when known.

        Raises:
            AuditWriteError: The record could not be committed.
        """
        body = {
            "name": name,
            "arguments": arguments,
            "result": result,
            "tool_call_id": tool_call_id,
            "at": utc_now_iso(),
            "turn": self._last_submitted_turn,
        }
        return await self.record_now(TOOL_CALL, body)

    def _stamp(self, kind: str, body: dict[str, Any]) -> dict[str, Any]:
        return stamp(
            kind,
            body,
            variant=self.variant,
            config_hash=self.config_hash,
            providers=self.providers,
        )

    # ----------------------------------------------------------------------------- writer

    async def _run_writer(self) -> None:
        assert self._queue is not None
        queue = self._queue
        while True:
            item = await queue.get()
            if item is _STOP:
                return
            await self._write_with_retry(item)
            if self._loss.count and queue.maxsize - queue.qsize() >= 1 and not self._closed:
                queue.put_nowait(_Item(GAP, self._take_loss_body("queue_full")))

    async def _write_with_retry(self, item: _Item) -> None:
        delay = self._retry_initial
        while True:
            try:
                if self._outage is not None:
                    await asyncio.to_thread(
                        self._store.append, GAP, self.session_id, outage_gap_body(self._outage)
                    )
                    self.gaps_written += 1
                    logger.info(
                        f"audit: session {self.session_id}: store is back after "
                        f"{self._outage['attempts']} failed attempt(s); gap recorded"
                    )
                    self._outage = None
                await asyncio.to_thread(self._write_item, item)
                self.written += 1
                turn = item.body.get("turn")
                if isinstance(turn, int):
                    self._last_written_turn = turn
                if item.kind == GAP:
                    self.gaps_written += 1
                return
            except (ValueError, TypeError) as e:
                # Bad content: retrying cannot help. Keep a trace of it instead.
                logger.error(
                    f"audit: session {self.session_id}: {item.kind} record rejected "
                    f"({type(e).__name__}); writing an error record in its place"
                )
                item = _Item(
                    ERROR,
                    {"error": "record rejected", "detail": short_error(e), "kind": item.kind},
                )
            except Exception as e:
                self.failures += 1
                if self._outage is None:
                    self._outage = {
                        "since": utc_now_iso(),
                        "error": short_error(e),
                        "attempts": 0,
                        "after_turn": self._last_written_turn,
                    }
                    logger.error(
                        f"audit: session {self.session_id}: store write failed "
                        f"({short_error(e)}); retrying, records are kept in the queue"
                    )
                self._outage["attempts"] += 1
                self._outage.setdefault("after_turn", self._last_written_turn)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._retry_max)

    def _write_item(self, item: _Item) -> StoredRecord:
        """Runs in a worker thread: save audio (if enabled), then append the record."""
        body = self._stamp(item.kind, item.body)
        if item.audio and self._audio_dir is not None:
            files = {}
            for who, clip in item.audio.items():
                path = audio_file_path(
                    self._audio_dir, self.session_id, body.get("turn"), who, clip.sha256
                )
                try:
                    write_wav(path, clip)
                except OSError as e:  # the record matters more than the audio file
                    body.setdefault("audio_file_errors", {})[who] = short_error(e)
                    continue
                files[who] = str(path)
            body["audio_files"] = files
        return self._store.append(item.kind, self.session_id, body)
