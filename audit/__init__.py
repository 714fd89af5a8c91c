"""Echo's tamper-evident audit trail: hash-chained records of every turn.

See docs/audit.md. The pipeline side is ``observers.audit.AuditObserver``.
"""

from audit.chain import (
    GENESIS,
    Checkpoint,
    StoredRecord,
    VerifyResult,
    canonical,
    record_hash,
    to_jsonable,
    verify_chain,
)
from audit.recorder import AuditRecorder, AuditWriteError
from audit.recovery import recover_incomplete_sessions
from audit.store import (
    AuditStore,
    AuditStoreError,
    PostgresAuditStore,
    SQLiteAuditStore,
    open_store,
)

__all__ = [
    "GENESIS",
    "AuditRecorder",
    "AuditStore",
    "AuditStoreError",
    "AuditWriteError",
    "Checkpoint",
    "PostgresAuditStore",
    "SQLiteAuditStore",
    "StoredRecord",
    "VerifyResult",
    "canonical",
    "open_store",
    "record_hash",
    "recover_incomplete_sessions",
    "to_jsonable",
    "verify_chain",
]
