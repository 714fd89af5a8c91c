"""Audit stores: one small append-only interface, SQLite and PostgreSQL behind it.

The only write is :meth:`AuditStore.append`, which assigns the next ``seq``,
links the record to the chain head and commits, all in one transaction that
holds the store's write lock (``BEGIN IMMEDIATE`` in SQLite, a transaction-scoped
advisory lock in PostgreSQL), so concurrent writers — threads or processes —
still produce one unbroken chain. There is no update or delete path; both
databases also carry triggers that refuse row changes, so an accidental write
fails loudly. (Someone with raw file access can still edit rows: the hash chain
is what makes that visible.)
"""

from __future__ import annotations

import abc
import datetime as _dt
import json
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audit.chain import GENESIS, StoredRecord, canonical_text, envelope, record_hash

if TYPE_CHECKING:
    from config import EchoSettings

SCHEMA_VERSION = "1"
_PAGE = 500
_KIND_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
# pg_advisory_xact_lock key shared by every Echo process appending to one database.
_PG_LOCK_KEY = 0x4543484F  # "ECHO"


class AuditStoreError(RuntimeError):
    """The audit store could not do what was asked (I/O, bad database, bad input)."""


def utc_now_iso() -> str:
    """Current UTC time, ISO 8601 with microseconds and a ``Z`` suffix."""
    return _dt.datetime.now(_dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _check_input(kind: str, session_id: str, body: dict) -> str:
    if not isinstance(kind, str) or not _KIND_RE.match(kind):
        raise ValueError(f"bad record kind {kind!r}: lowercase letters, digits and _ only")
    if not isinstance(session_id, str) or not session_id or len(session_id) > 200:
        raise ValueError("session_id must be a non-empty string of at most 200 characters")
    if not isinstance(body, dict):
        raise TypeError(f"record body must be a dict, not {type(body).__name__}")
    return canonical_text(body)


def _mask_url(url: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


class AuditStore(abc.ABC):
    """Append-only store of hash-chained audit records."""

    @abc.abstractmethod
    def append(self, kind: str, session_id: str, body: dict[str, Any]) -> StoredRecord:
        """Append one record and commit it.

        Args:
            kind: Record kind (``turn``, ``session_start``, ...).
            session_id: Conversation id.
            body: Plain-JSON content (see :func:`audit.chain.to_jsonable`).

        Returns:
            The committed record with its ``seq``, ``ts``, ``prev_hash`` and ``hash``.

        Raises:
            ValueError, TypeError: Bad input (nothing is written).
            AuditStoreError: The database failed (nothing is written).
        """

    @abc.abstractmethod
    def iter_records(
        self, session_id: str | None = None, *, kinds: Iterable[str] | None = None
    ) -> Iterator[StoredRecord]:
        """Records in ascending ``seq``, optionally of one session and/or some kinds."""

    @abc.abstractmethod
    def head(self) -> tuple[int, str]:
        """``(count, head_hash)`` of the chain; ``(0, GENESIS)`` when empty."""

    @abc.abstractmethod
    def close(self) -> None:
        """Release the connection."""

    @property
    @abc.abstractmethod
    def description(self) -> str:
        """Where the records live (path or masked URL), for messages."""

    def session_ids(self) -> list[str]:
        """Ids of sessions that have a ``session_start`` record, in order of start."""
        return [r.session_id for r in self.iter_records(kinds=["session_start"])]

    def __enter__(self) -> AuditStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _make_record(
    *, seq: int, ts: str, kind: str, session_id: str, body_text: str, prev: str
) -> StoredRecord:
    body = json.loads(body_text)
    digest = record_hash(
        prev, envelope(seq=seq, ts=ts, kind=kind, session_id=session_id, body=body)
    )
    return StoredRecord(
        seq=seq, ts=ts, kind=kind, session_id=session_id, body=body, prev_hash=prev, hash=digest
    )


def _row_to_record(row: tuple) -> StoredRecord:
    seq, ts, kind, session_id, body_text, prev_hash, digest = row
    try:
        body = json.loads(body_text)
    except (TypeError, ValueError):
        body = {"_unreadable_body": str(body_text)}
    if not isinstance(body, dict):
        body = {"_unreadable_body": str(body_text)}
    return StoredRecord(
        seq=int(seq),
        ts=str(ts),
        kind=str(kind),
        session_id=str(session_id),
        body=body,
        prev_hash=str(prev_hash),
        hash=str(digest),
    )


# --------------------------------------------------------------------------------------------
# SQLite
# --------------------------------------------------------------------------------------------

_SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_records (
    seq        INTEGER PRIMARY KEY,
    ts         TEXT NOT NULL,
    kind       TEXT NOT NULL,
    session_id TEXT NOT NULL,
    body       TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS audit_records_session ON audit_records (session_id, seq);
CREATE INDEX IF NOT EXISTS audit_records_kind ON audit_records (kind, seq);
CREATE TRIGGER IF NOT EXISTS audit_records_no_update BEFORE UPDATE ON audit_records
BEGIN SELECT RAISE(ABORT, 'audit_records is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_records_no_delete BEFORE DELETE ON audit_records
BEGIN SELECT RAISE(ABORT, 'audit_records is append-only'); END;
"""

_COLUMNS = "seq, ts, kind, session_id, body, prev_hash, hash"


class SQLiteAuditStore(AuditStore):
    """Audit store in one SQLite file (WAL journal, ``synchronous=FULL``).

    Safe to share between threads (one connection behind a lock) and between
    processes (``BEGIN IMMEDIATE`` serializes appends; ``busy_timeout`` waits).
    """

    def __init__(self, path: str | Path, *, create: bool = True, busy_timeout_ms: int = 10_000):
        """Open (and, when ``create``, create) the audit database.

        Args:
            path: SQLite file.
            create: Create the file, its folder and the schema when missing.
                With False, a missing file or one without an audit table is an error.
            busy_timeout_ms: How long an append waits for another writer's lock.

        Raises:
            AuditStoreError: The file is missing (``create=False``), unreadable,
                or not an audit database.
        """
        self._path = Path(path)
        self._lock = threading.Lock()
        if not create and not self._path.is_file():
            raise AuditStoreError(f"no audit database at {self._path}")
        try:
            if create:
                self._path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(
                str(self._path),
                isolation_level=None,  # explicit BEGIN/COMMIT
                check_same_thread=False,
                timeout=busy_timeout_ms / 1000,
            )
            self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise AuditStoreError(f"{self._path}: could not switch to WAL (got {mode})")
            self._conn.execute("PRAGMA synchronous = FULL")
            if create:
                self._conn.executescript(_SQLITE_SCHEMA)
                self._conn.execute(
                    "INSERT OR IGNORE INTO audit_meta (key, value) VALUES ('schema_version', ?)",
                    (SCHEMA_VERSION,),
                )
            else:
                found = self._conn.execute(
                    "SELECT name FROM sqlite_master WHERE type='table' AND name='audit_records'"
                ).fetchone()
                if not found:
                    raise AuditStoreError(f"{self._path} is not an Echo audit database")
        except sqlite3.DatabaseError as e:
            raise AuditStoreError(f"{self._path}: {e}") from e

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path

    @property
    def description(self) -> str:
        """The database file path."""
        return str(self._path)

    def append(self, kind: str, session_id: str, body: dict[str, Any]) -> StoredRecord:
        """Append and commit one record (see :meth:`AuditStore.append`)."""
        body_text = _check_input(kind, session_id, body)
        with self._lock:
            conn = self._conn
            try:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    row = conn.execute(
                        "SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1"
                    ).fetchone()
                    seq, prev = (int(row[0]) + 1, str(row[1])) if row else (1, GENESIS)
                    rec = _make_record(
                        seq=seq,
                        ts=utc_now_iso(),
                        kind=kind,
                        session_id=session_id,
                        body_text=body_text,
                        prev=prev,
                    )
                    conn.execute(
                        f"INSERT INTO audit_records ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (seq, rec.ts, kind, session_id, body_text, prev, rec.hash),
                    )
                    conn.execute("COMMIT")
                except BaseException:
                    if conn.in_transaction:
                        conn.execute("ROLLBACK")
                    raise
            except sqlite3.Error as e:
                raise AuditStoreError(f"audit append failed ({self._path}): {e}") from e
        return rec

    def iter_records(
        self, session_id: str | None = None, *, kinds: Iterable[str] | None = None
    ) -> Iterator[StoredRecord]:
        """Records in ascending ``seq`` (read page by page)."""
        where = ["seq > ?"]
        params: list[Any] = []
        if session_id is not None:
            where.append("session_id = ?")
            params.append(session_id)
        kind_list = list(kinds) if kinds is not None else None
        if kind_list is not None:
            if not kind_list:
                return
            where.append(f"kind IN ({', '.join('?' * len(kind_list))})")
            params.extend(kind_list)
        sql = (
            f"SELECT {_COLUMNS} FROM audit_records WHERE {' AND '.join(where)} "
            f"ORDER BY seq LIMIT {_PAGE}"
        )
        last = 0
        while True:
            with self._lock:
                try:
                    rows = self._conn.execute(sql, [last, *params]).fetchall()
                except sqlite3.Error as e:
                    raise AuditStoreError(f"audit read failed ({self._path}): {e}") from e
            for row in rows:
                yield _row_to_record(row)
            if len(rows) < _PAGE:
                return
            last = int(rows[-1][0])

    def head(self) -> tuple[int, str]:
        """``(count, head_hash)`` of the chain."""
        with self._lock:
            try:
                row = self._conn.execute(
                    "SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1"
                ).fetchone()
            except sqlite3.Error as e:
                raise AuditStoreError(f"audit read failed ({self._path}): {e}") from e
        return (int(row[0]), str(row[1])) if row else (0, GENESIS)

    def close(self) -> None:
        """Close the connection (SQLite checkpoints the WAL into the file)."""
        with self._lock:
            try:
                self._conn.close()
            except sqlite3.Error:
                pass


# --------------------------------------------------------------------------------------------
# PostgreSQL
# --------------------------------------------------------------------------------------------

_PG_SCHEMA = [
    """
    CREATE TABLE IF NOT EXISTS audit_meta (
        key   TEXT PRIMARY KEY,
        value TEXT NOT NULL
    )
    """,
    """
    CREATE TABLE IF NOT EXISTS audit_records (
        seq        BIGINT PRIMARY KEY,
        ts         TEXT NOT NULL,
        kind       TEXT NOT NULL,
        session_id TEXT NOT NULL,
        body       TEXT NOT NULL,
        prev_hash  TEXT NOT NULL,
        hash       TEXT NOT NULL
    )
    """,
    "CREATE INDEX IF NOT EXISTS audit_records_session ON audit_records (session_id, seq)",
    "CREATE INDEX IF NOT EXISTS audit_records_kind ON audit_records (kind, seq)",
    """
    CREATE OR REPLACE FUNCTION audit_records_append_only() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'audit_records is append-only';
    END
    $$
    """,
    """
    DO $$
    BEGIN
        IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'audit_records_no_change') THEN
            CREATE TRIGGER audit_records_no_change BEFORE UPDATE OR DELETE ON audit_records
                FOR EACH ROW EXECUTE FUNCTION audit_records_append_only();
        END IF;
        IF NOT EXISTS (SELECT 1 FROM pg_trigger WHERE tgname = 'audit_records_no_truncate') THEN
            CREATE TRIGGER audit_records_no_truncate BEFORE TRUNCATE ON audit_records
                FOR EACH STATEMENT EXECUTE FUNCTION audit_records_append_only();
        END IF;
    END
    $$
    """,
]


class PostgresAuditStore(AuditStore):
    """Audit store in PostgreSQL (psycopg 3), same schema and chain as SQLite.

    Appends from any number of processes are serialized by a transaction-scoped
    advisory lock. A broken connection is reopened on the next call, so the
    recorder's retry loop recovers once the server is back.
    """

    def __init__(self, url: str, *, create: bool = True, connect_timeout: int = 5):
        """Connect (and, when ``create``, create the schema).

        Args:
            url: ``postgresql://user[:password]@host[:port]/db`` or a libpq
                keyword string.
            create: Create the tables when missing; with False, a database
                without an audit table is an error.
            connect_timeout: Seconds to wait for the server.

        Raises:
            AuditStoreError: The server is unreachable or the database is not usable.
        """
        self._url = url
        self._create = create
        self._connect_timeout = connect_timeout
        self._lock = threading.Lock()
        self._conn = None
        with self._lock:
            conn = self._connection()
            try:
                if create:
                    with conn.transaction():
                        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_PG_LOCK_KEY,))
                        for stmt in _PG_SCHEMA:
                            conn.execute(stmt)
                        conn.execute(
                            "INSERT INTO audit_meta (key, value) VALUES ('schema_version', %s) "
                            "ON CONFLICT (key) DO NOTHING",
                            (SCHEMA_VERSION,),
                        )
                else:
                    row = conn.execute("SELECT to_regclass('audit_records')").fetchone()
                    if not row or row[0] is None:
                        raise AuditStoreError(f"{self.description} has no Echo audit table")
            except self._pg_errors() as e:
                self._drop_connection()
                raise AuditStoreError(f"{self.description}: {e}") from e

    @staticmethod
    def _pg_errors():
        import psycopg

        return psycopg.Error

    @property
    def description(self) -> str:
        """The connection URL with any password masked."""
        return _mask_url(self._url)

    def _connection(self):
        import psycopg

        if self._conn is not None and not self._conn.closed and not self._conn.broken:
            return self._conn
        self._drop_connection()
        try:
            self._conn = psycopg.connect(
                self._url, autocommit=True, connect_timeout=self._connect_timeout
            )
        except psycopg.Error as e:
            raise AuditStoreError(f"cannot connect to {self.description}: {e}") from e
        return self._conn

    def _drop_connection(self) -> None:
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:
                pass
        self._conn = None

    def append(self, kind: str, session_id: str, body: dict[str, Any]) -> StoredRecord:
        """Append and commit one record (see :meth:`AuditStore.append`)."""
        body_text = _check_input(kind, session_id, body)
        with self._lock:
            conn = self._connection()
            try:
                with conn.transaction():
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", (_PG_LOCK_KEY,))
                    row = conn.execute(
                        "SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1"
                    ).fetchone()
                    seq, prev = (int(row[0]) + 1, str(row[1])) if row else (1, GENESIS)
                    rec = _make_record(
                        seq=seq,
                        ts=utc_now_iso(),
                        kind=kind,
                        session_id=session_id,
                        body_text=body_text,
                        prev=prev,
                    )
                    conn.execute(
                        f"INSERT INTO audit_records ({_COLUMNS}) "
                        "VALUES (%s, %s, %s, %s, %s, %s, %s)",
                        (seq, rec.ts, kind, session_id, body_text, prev, rec.hash),
                    )
            except self._pg_errors() as e:
                if conn.broken or conn.closed:
                    self._drop_connection()
                raise AuditStoreError(f"audit append failed ({self.description}): {e}") from e
        return rec

    def iter_records(
        self, session_id: str | None = None, *, kinds: Iterable[str] | None = None
    ) -> Iterator[StoredRecord]:
        """Records in ascending ``seq`` (read page by page)."""
        where = ["seq > %s"]
        params: list[Any] = []
        if session_id is not None:
            where.append("session_id = %s")
            params.append(session_id)
        kind_list = list(kinds) if kinds is not None else None
        if kind_list is not None:
            if not kind_list:
                return
            where.append("kind = ANY(%s)")
            params.append(kind_list)
        sql = (
            f"SELECT {_COLUMNS} FROM audit_records WHERE {' AND '.join(where)} "
            f"ORDER BY seq LIMIT {_PAGE}"
        )
        last = 0
        while True:
            with self._lock:
                conn = self._connection()
                try:
                    rows = conn.execute(sql, [last, *params]).fetchall()
                except self._pg_errors() as e:
                    if conn.broken or conn.closed:
                        self._drop_connection()
                    raise AuditStoreError(f"audit read failed ({self.description}): {e}") from e
            for row in rows:
                yield _row_to_record(row)
            if len(rows) < _PAGE:
                return
            last = int(rows[-1][0])

    def head(self) -> tuple[int, str]:
        """``(count, head_hash)`` of the chain."""
        with self._lock:
            conn = self._connection()
            try:
                row = conn.execute(
                    "SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1"
                ).fetchone()
            except self._pg_errors() as e:
                if conn.broken or conn.closed:
                    self._drop_connection()
                raise AuditStoreError(f"audit read failed ({self.description}): {e}") from e
        return (int(row[0]), str(row[1])) if row else (0, GENESIS)

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._drop_connection()


# --------------------------------------------------------------------------------------------
# Choosing a store
# --------------------------------------------------------------------------------------------


def is_postgres_url(url: str) -> bool:
    """Whether a DATABASE_URL names a PostgreSQL server."""
    return url.startswith(("postgres://", "postgresql://"))


def store_for_url(url: str, *, create: bool = True) -> AuditStore:
    """Open the store a URL names: ``postgresql://...`` or ``sqlite:///path``.

    Raises:
        AuditStoreError: Unsupported scheme, or the store cannot be opened.
    """
    if is_postgres_url(url):
        return PostgresAuditStore(url, create=create)
    if url.startswith("sqlite:///"):
        return SQLiteAuditStore(url[len("sqlite:///") :], create=create)
    scheme = url.split(":", 1)[0] if ":" in url else "(none)"
    raise AuditStoreError(
        f"DATABASE_URL scheme {scheme!r} is not supported: use postgresql://... or sqlite:///path"
    )


def open_store(
    settings: EchoSettings,
    *,
    create: bool = True,
    db_path: str | Path | None = None,
    database_url: str | None = None,
) -> AuditStore:
    """Open the audit store the settings (or explicit overrides) point at.

    Order: ``database_url`` argument, ``db_path`` argument, ``settings.database_url``
    (DATABASE_URL), then the SQLite file ``settings.resolved_audit_db()``.

    Args:
        settings: Echo settings.
        create: Create the database/schema when missing.
        db_path: Explicit SQLite file (overrides settings).
        database_url: Explicit database URL (overrides everything).

    Returns:
        An open :class:`AuditStore`.
    """
    if database_url:
        return store_for_url(database_url, create=create)
    if db_path is not None:
        return SQLiteAuditStore(db_path, create=create)
    url = settings.secret("database_url")
    if url:
        return store_for_url(url, create=create)
    return SQLiteAuditStore(settings.resolved_audit_db(), create=create)
