"""The audit store: one small append-only interface over SQLite or PostgreSQL.

The only write is :meth:`AuditStore.append`, which assigns the next ``seq``,
links the record to the chain head and commits, all in one transaction that
holds the store's write lock (``BEGIN IMMEDIATE`` in SQLite, a transaction-scoped
advisory lock in PostgreSQL), so concurrent writers — threads or processes —
still produce one unbroken chain. There is no update or delete path; both
databases also carry triggers that refuse row changes, so an accidental write
fails loudly. (Someone with raw file access can still edit rows: the hash chain
is what makes that visible.) One implementation serves both databases; what
differs between them lives in :mod:`audit.dialects`.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import json
import re
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audit.chain import GENESIS, StoredRecord, canonical_text, envelope, record_hash
from audit.dialects import Dialect, PostgresDialect, SQLiteDialect

if TYPE_CHECKING:
    from config import EchoSettings

SCHEMA_VERSION = "1"
_PAGE = 500
_KIND_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_COLUMNS = "seq, ts, kind, session_id, body, prev_hash, hash"
_HEAD_SQL = "SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1"


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


class AuditStore:
    """Append-only store of hash-chained audit records in one SQL database.

    Safe to share between threads (one connection behind a lock) and between
    processes (the dialect's write lock serializes appends).
    """

    def __init__(self, dialect: Dialect, *, create: bool = True):
        """Check (and, when ``create``, create) the schema on ``dialect``'s database.

        Args:
            dialect: The database engine and connection (see :mod:`audit.dialects`).
            create: Create the tables when missing; with False, a database
                without an audit table is an error.

        Raises:
            AuditStoreError: The database is unreachable or not usable.
        """
        self._dialect = dialect
        self._lock = threading.Lock()
        ph = dialect.placeholder
        try:
            with self._session("{where}: {error}") as conn:
                if create:
                    with dialect.write_transaction(conn):
                        for stmt in dialect.schema:
                            conn.execute(stmt)
                        conn.execute(
                            "INSERT INTO audit_meta (key, value) "
                            f"VALUES ('schema_version', {ph}) ON CONFLICT (key) DO NOTHING",
                            (SCHEMA_VERSION,),
                        )
                else:
                    row = conn.execute(dialect.table_exists_sql).fetchone()
                    if not row or row[0] is None:
                        raise AuditStoreError(dialect.missing_table.format(self.description))
        except BaseException:
            dialect.close()
            raise

    @property
    def description(self) -> str:
        """Where the records live (path or masked URL), for messages."""
        return self._dialect.description

    @contextlib.contextmanager
    def _session(self, failure: str) -> Iterator[Any]:
        """The connection, under the store's lock; driver errors become AuditStoreError.

        Args:
            failure: Message for a failed statement, with ``{where}`` and ``{error}``.
        """
        dialect = self._dialect
        with self._lock:
            try:
                conn = dialect.connection()
            except dialect.errors as e:
                raise AuditStoreError(f"cannot connect to {self.description}: {e}") from e
            try:
                yield conn
            except dialect.errors as e:
                dialect.failed(conn)
                raise AuditStoreError(failure.format(where=self.description, error=e)) from e

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
        body_text = _check_input(kind, session_id, body)
        values = ", ".join([self._dialect.placeholder] * 7)
        with self._session("audit append failed ({where}): {error}") as conn:
            with self._dialect.write_transaction(conn):
                row = conn.execute(_HEAD_SQL).fetchone()
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
                    f"INSERT INTO audit_records ({_COLUMNS}) VALUES ({values})",
                    (seq, rec.ts, kind, session_id, body_text, prev, rec.hash),
                )
        return rec

    def iter_records(
        self, session_id: str | None = None, *, kinds: Iterable[str] | None = None
    ) -> Iterator[StoredRecord]:
        """Records in ascending ``seq``, optionally of one session and/or some kinds.

        Read page by page; the lock is not held between pages.
        """
        ph = self._dialect.placeholder
        where = [f"seq > {ph}"]
        params: list[Any] = []
        if session_id is not None:
            where.append(f"session_id = {ph}")
            params.append(session_id)
        kind_list = list(kinds) if kinds is not None else None
        if kind_list is not None:
            if not kind_list:
                return
            where.append(f"kind IN ({', '.join([ph] * len(kind_list))})")
            params.extend(kind_list)
        sql = (
            f"SELECT {_COLUMNS} FROM audit_records WHERE {' AND '.join(where)} "
            f"ORDER BY seq LIMIT {_PAGE}"
        )
        last = 0
        while True:
            with self._session("audit read failed ({where}): {error}") as conn:
                rows = conn.execute(sql, [last, *params]).fetchall()
            for row in rows:
                yield _row_to_record(row)
            if len(rows) < _PAGE:
                return
            last = int(rows[-1][0])

    def head(self) -> tuple[int, str]:
        """``(count, head_hash)`` of the chain; ``(0, GENESIS)`` when empty."""
        with self._session("audit read failed ({where}): {error}") as conn:
            row = conn.execute(_HEAD_SQL).fetchone()
        return (int(row[0]), str(row[1])) if row else (0, GENESIS)

    def session_ids(self) -> list[str]:
        """Ids of sessions that have a ``session_start`` record, in order of start."""
        return [r.session_id for r in self.iter_records(kinds=["session_start"])]

    def close(self) -> None:
        """Release the connection."""
        with self._lock:
            self._dialect.close()

    def __enter__(self) -> AuditStore:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class SQLiteAuditStore(AuditStore):
    """Audit store in one SQLite file (WAL journal, ``synchronous=FULL``)."""

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
        path = Path(path)
        if not create and not path.is_file():
            raise AuditStoreError(f"no audit database at {path}")
        if create:
            path.parent.mkdir(parents=True, exist_ok=True)
        try:
            dialect = SQLiteDialect(path, busy_timeout_ms=busy_timeout_ms)
        except sqlite3.Error as e:
            raise AuditStoreError(f"{path}: {e}") from e
        super().__init__(dialect, create=create)
        self._path = path

    @property
    def path(self) -> Path:
        """The database file."""
        return self._path


class PostgresAuditStore(AuditStore):
    """Audit store in PostgreSQL (psycopg 3), same schema and chain as SQLite.

    A broken connection is reopened on the next call, so the recorder's retry
    loop recovers once the server is back.
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
        super().__init__(PostgresDialect(url, connect_timeout=connect_timeout), create=create)


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
