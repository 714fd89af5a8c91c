"""SQL dialects of the audit store: what differs between SQLite and PostgreSQL.

:class:`audit.store.AuditStore` holds every query and the hash chain; a dialect
supplies only the connection (open, reuse, drop after a failure), the schema
(column types, append-only triggers), the write lock of an append transaction
(``BEGIN IMMEDIATE`` in SQLite, a transaction-scoped advisory lock in PostgreSQL),
the parameter placeholder and the driver's error class. Both dialects run the same
statements otherwise, so the same records give the same chain. Dialects raise the
driver's own errors; the store turns them into ``AuditStoreError``.
"""

from __future__ import annotations

import contextlib
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

# pg_advisory_xact_lock key shared by every Echo process appending to one database.
_PG_LOCK_KEY = 0x4543484F  # "ECHO"

_TABLES = """
CREATE TABLE IF NOT EXISTS audit_meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
)
;
CREATE TABLE IF NOT EXISTS audit_records (
    seq        {seq_type} PRIMARY KEY,
    ts         TEXT NOT NULL,
    kind       TEXT NOT NULL,
    session_id TEXT NOT NULL,
    body       TEXT NOT NULL,
    prev_hash  TEXT NOT NULL,
    hash       TEXT NOT NULL
)
;
CREATE INDEX IF NOT EXISTS audit_records_session ON audit_records (session_id, seq)
;
CREATE INDEX IF NOT EXISTS audit_records_kind ON audit_records (kind, seq)
"""

_SQLITE_TRIGGERS = [
    """
    CREATE TRIGGER IF NOT EXISTS audit_records_no_update BEFORE UPDATE ON audit_records
    BEGIN SELECT RAISE(ABORT, 'audit_records is append-only'); END
    """,
    """
    CREATE TRIGGER IF NOT EXISTS audit_records_no_delete BEFORE DELETE ON audit_records
    BEGIN SELECT RAISE(ABORT, 'audit_records is append-only'); END
    """,
]

_PG_TRIGGERS = [
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


def _schema(seq_type: str, triggers: list[str]) -> list[str]:
    tables = _TABLES.format(seq_type=seq_type).split("\n;\n")
    return [stmt.strip() for stmt in tables] + triggers


def mask_url(url: str) -> str:
    """``url`` with any password replaced by ``***`` (safe for messages and logs)."""
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", url)


class Dialect(Protocol):
    """What :class:`audit.store.AuditStore` needs from one database engine.

    Every method is called with the store's lock held.
    """

    placeholder: str
    """Parameter marker in SQL text (``?`` or ``%s``)."""
    schema: list[str]
    """Statements that create the tables, indexes and append-only triggers."""
    table_exists_sql: str
    """A query whose first row's first column is not NULL when ``audit_records`` exists."""
    missing_table: str
    """Message for a database without the audit table (``{}`` is the description)."""
    errors: type[Exception]
    """The driver's error class."""

    @property
    def description(self) -> str:
        """Where the records live (path or masked URL), for messages."""
        ...

    def connection(self) -> Any:
        """The open connection (opened, or reopened after a failure, on demand).

        Raises:
            Exception: One of :attr:`errors` when the database cannot be reached.
        """
        ...

    def write_transaction(self, conn: Any) -> contextlib.AbstractContextManager[None]:
        """One transaction holding the store-wide write lock; commits on success."""
        ...

    def failed(self, conn: Any) -> None:
        """A statement on ``conn`` raised one of :attr:`errors`."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...


class SQLiteDialect:
    """One SQLite file (WAL journal, ``synchronous=FULL``), opened once.

    ``BEGIN IMMEDIATE`` serializes appends between processes; ``busy_timeout`` waits.
    """

    placeholder = "?"
    schema = _schema("INTEGER", _SQLITE_TRIGGERS)
    table_exists_sql = "SELECT name FROM sqlite_master WHERE type='table' AND name='audit_records'"
    missing_table = "{} is not an Echo audit database"
    errors = sqlite3.Error

    def __init__(self, path: str | Path, *, busy_timeout_ms: int):
        """Open the file (its folder must exist).

        Raises:
            sqlite3.Error: The file is not a usable database.
        """
        self.path = Path(path)
        self._conn = sqlite3.connect(
            str(self.path),
            isolation_level=None,  # explicit BEGIN/COMMIT
            check_same_thread=False,
            timeout=busy_timeout_ms / 1000,
        )
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
            mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise sqlite3.DatabaseError(f"could not switch to WAL (got {mode})")
            self._conn.execute("PRAGMA synchronous = FULL")
        except BaseException:
            self._conn.close()
            raise

    @property
    def description(self) -> str:
        """The database file path."""
        return str(self.path)

    def connection(self) -> sqlite3.Connection:
        """The one connection (shared between threads behind the store's lock)."""
        return self._conn

    @contextlib.contextmanager
    def write_transaction(self, conn: sqlite3.Connection) -> Iterator[None]:
        """``BEGIN IMMEDIATE`` … ``COMMIT``, rolled back on any exception."""
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    def failed(self, conn: sqlite3.Connection) -> None:
        """Nothing to do: the file connection stays usable."""

    def close(self) -> None:
        """Close the connection (SQLite checkpoints the WAL into the file)."""
        try:
            self._conn.close()
        except sqlite3.Error:
            pass


class PostgresDialect:
    """A PostgreSQL server through psycopg 3, reconnecting after a broken connection.

    Appends from any number of processes are serialized by a transaction-scoped
    advisory lock.
    """

    placeholder = "%s"
    schema = _schema("BIGINT", _PG_TRIGGERS)
    table_exists_sql = "SELECT to_regclass('audit_records')"
    missing_table = "{} has no Echo audit table"

    def __init__(self, url: str, *, connect_timeout: int):
        """Remember where to connect (the connection opens on first use)."""
        import psycopg

        self.errors = psycopg.Error
        self._url = url
        self._connect_timeout = connect_timeout
        self._conn = None

    @property
    def description(self) -> str:
        """The connection URL with any password masked."""
        return mask_url(self._url)

    def connection(self):
        """The open connection, reconnecting when it is closed or broken.

        Raises:
            psycopg.Error: The server cannot be reached.
        """
        import psycopg

        if self._conn is not None and not self._conn.closed and not self._conn.broken:
            return self._conn
        self.close()
        self._conn = psycopg.connect(
            self._url, autocommit=True, connect_timeout=self._connect_timeout
        )
        return self._conn

    @contextlib.contextmanager
    def write_transaction(self, conn) -> Iterator[None]:
        """A transaction that first takes the shared advisory lock."""
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_PG_LOCK_KEY,))
            yield

    def failed(self, conn) -> None:
        """Drop a broken connection so the next call reconnects."""
        if conn.broken or conn.closed:
            self.close()

    def close(self) -> None:
        """Close the connection, if any."""
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:
                pass
        self._conn = None
