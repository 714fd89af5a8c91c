"""Hash chain over audit records: canonical JSON, record hashes and chain verification.

Every stored record carries ``prev_hash`` (the hash of the record before it, or
:data:`GENESIS` for the first) and ``hash = sha256(prev_hash ‖ canonical(record))``
where *record* is the envelope ``{seq, ts, kind, session_id, body}``. ``seq`` is a
global counter starting at 1, so an edited, deleted, inserted or reordered record
breaks either a hash, a link or the sequence, and :func:`verify_chain` names the
first record where that happens. Deleting records from the *end* of the chain
leaves a shorter but consistent chain; a :class:`Checkpoint` (count and head hash
kept somewhere else) catches that.

Everything here is pure: no I/O, no global state.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import enum
import hashlib
import json
import math
from collections.abc import Iterable, Mapping
from pathlib import PurePath
from typing import Any

GENESIS = "0" * 64
"""``prev_hash`` of the first record in a chain."""

HASH_ALGORITHM = "sha256"


class CanonicalError(ValueError):
    """A value cannot be written as canonical JSON (NaN, infinity, bytes, bad text...)."""


def canonical(value: Any) -> bytes:
    """Serialize a JSON value canonically: sorted keys, no whitespace, UTF-8, no NaN.

    Args:
        value: A JSON value (dict with str keys, list, str, int, float, bool, None).

    Returns:
        The UTF-8 bytes of the canonical JSON text.

    Raises:
        CanonicalError: If the value holds NaN/infinity, a non-JSON type, a
            non-string key or text that is not valid Unicode.
    """
    _check_keys(value)
    try:
        text = json.dumps(
            value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
        )
    except (TypeError, ValueError) as e:
        raise CanonicalError(f"not canonical JSON: {e}") from e
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as e:
        raise CanonicalError(f"text is not valid Unicode: {e.reason}") from e


def _check_keys(value: Any) -> None:
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            for k, item in v.items():
                if not isinstance(k, str):
                    raise CanonicalError(f"not canonical JSON: key {k!r} is not a string")
                if isinstance(item, (dict, list)):
                    stack.append(item)
        elif isinstance(v, list):
            stack.extend(item for item in v if isinstance(item, (dict, list)))


def canonical_text(value: Any) -> str:
    """Canonical JSON as ``str`` (see :func:`canonical`)."""
    return canonical(value).decode("utf-8")


def sha256_hex(data: bytes) -> str:
    """Hex sha256 of some bytes."""
    return hashlib.sha256(data).hexdigest()


def envelope(*, seq: int, ts: str, kind: str, session_id: str, body: Mapping[str, Any]) -> dict:
    """The part of a stored record that its hash covers."""
    return {"seq": seq, "ts": ts, "kind": kind, "session_id": session_id, "body": body}


def record_hash(prev_hash: str, record: Mapping[str, Any]) -> str:
    """Hash one record into the chain.

    Args:
        prev_hash: Hex hash of the previous record (``GENESIS`` for the first).
        record: The record envelope (see :func:`envelope`).

    Returns:
        ``sha256(prev_hash ‖ canonical(record))`` as 64 lowercase hex digits.
    """
    h = hashlib.sha256()
    h.update(prev_hash.encode("ascii"))
    h.update(canonical(record))
    return h.hexdigest()


def to_jsonable(value: Any, *, _depth: int = 0) -> Any:
    """Turn an arbitrary value (tool result, dataclass, datetime...) into plain JSON.

    Nothing is silently dropped: bytes become ``{"sha256", "bytes"}``, NaN and
    infinities become strings, unknown objects their ``repr``.

    Args:
        value: Any Python value.

    Returns:
        A value :func:`canonical` accepts.
    """
    if _depth > 64:
        return repr(value)
    d = _depth + 1
    if value is None or isinstance(value, (bool, int, str)):
        if isinstance(value, str):
            return value.encode("utf-8", "surrogatepass").decode("utf-8", "replace")
        return value
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        if math.isinf(value):
            return "Infinity" if value > 0 else "-Infinity"
        return value
    if isinstance(value, enum.Enum):
        return to_jsonable(value.value, _depth=d)
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v, _depth=d) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v, _depth=d) for v in value]
    if isinstance(value, (set, frozenset)):
        items = [to_jsonable(v, _depth=d) for v in value]
        return sorted(items, key=lambda v: canonical_text(v))
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        return {"sha256": sha256_hex(raw), "bytes": len(raw)}
    if isinstance(value, _dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(_dt.UTC)
        return value.isoformat()
    if isinstance(value, (_dt.date, _dt.time)):
        return value.isoformat()
    if isinstance(value, _dt.timedelta):
        return value.total_seconds()
    if isinstance(value, PurePath):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {
            f.name: to_jsonable(getattr(value, f.name), _depth=d) for f in dataclasses.fields(value)
        }
    model_dump = getattr(value, "model_dump", None)
    if callable(model_dump):
        try:
            return to_jsonable(model_dump(mode="json"), _depth=d)
        except Exception:
            pass
    return repr(value)


@dataclasses.dataclass(frozen=True)
class StoredRecord:
    """One record as stored in the audit trail.

    Attributes:
        seq: Global position in the chain, 1, 2, 3, ...
        ts: UTC time the record was committed (ISO 8601, microseconds, ``Z``).
        kind: ``session_start``, ``turn``, ``tool_call``, ``gap``, ``error``,
            ``session_end``...
        session_id: The conversation the record belongs to.
        body: The record's content (plain JSON).
        prev_hash: Hash of the record before (``GENESIS`` for seq 1).
        hash: ``record_hash(prev_hash, envelope(...))``.
    """

    seq: int
    ts: str
    kind: str
    session_id: str
    body: dict[str, Any]
    prev_hash: str
    hash: str

    def envelope(self) -> dict:
        """The hashed part of the record."""
        return envelope(
            seq=self.seq, ts=self.ts, kind=self.kind, session_id=self.session_id, body=self.body
        )

    def expected_hash(self) -> str:
        """Hash recomputed from the record's content and its ``prev_hash``."""
        return record_hash(self.prev_hash, self.envelope())

    def to_dict(self) -> dict[str, Any]:
        """The whole record as a plain dict (for export)."""
        return dataclasses.asdict(self)


@dataclasses.dataclass(frozen=True)
class Checkpoint:
    """A chain's length and head hash, to be kept outside the audit store.

    Attributes:
        count: Number of records (the ``seq`` of the head record).
        head_hash: Hash of the record at ``seq == count`` (``GENESIS`` when empty).
        created_at: UTC time the checkpoint was taken.
        store: Which store it was taken from (path or masked URL).
    """

    count: int
    head_hash: str
    created_at: str = ""
    store: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Checkpoint as JSON, with a digest of its own content."""
        data = {
            "count": self.count,
            "head_hash": self.head_hash,
            "created_at": self.created_at,
            "store": self.store,
            "algorithm": HASH_ALGORITHM,
        }
        data["digest"] = sha256_hex(canonical(data))
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Checkpoint:
        """Read a checkpoint written by :meth:`to_dict`.

        Raises:
            ValueError: If fields are missing or the digest does not match.
        """
        try:
            count = int(data["count"])
            head = str(data["head_hash"])
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"not an audit checkpoint: {e}") from e
        if "digest" in data:
            inner = {k: v for k, v in data.items() if k != "digest"}
            if sha256_hex(canonical(inner)) != data["digest"]:
                raise ValueError("checkpoint digest does not match its content")
        if count < 0 or len(head) != 64:
            raise ValueError("not an audit checkpoint: bad count or head_hash")
        return cls(
            count=count,
            head_hash=head,
            created_at=str(data.get("created_at", "")),
            store=str(data.get("store", "")),
        )


@dataclasses.dataclass(frozen=True)
class VerifyResult:
    """Outcome of :func:`verify_chain`.

    Attributes:
        ok: True when every record checks out.
        count: Records read (when ``ok``, the chain length).
        first_bad_seq: The first ``seq`` found broken (missing, altered, out of
            place), or None.
        reason: Human-readable explanation ("OK" when ok).
        head_hash: Hash of the last good record.
    """

    ok: bool
    count: int
    first_bad_seq: int | None
    reason: str
    head_hash: str = GENESIS


def verify_chain(
    records: Iterable[StoredRecord], *, checkpoint: Checkpoint | None = None
) -> VerifyResult:
    """Recompute a chain and report the first broken record.

    Args:
        records: The records in stored order (ascending ``seq``).
        checkpoint: Optional checkpoint taken earlier; the chain must still
            contain it (same hash at ``seq == checkpoint.count``).

    Returns:
        A :class:`VerifyResult`; ``first_bad_seq`` names the record where the
        chain first fails: an altered record, the first missing ``seq`` of a
        deletion, or the position where a record is out of order.
    """
    expected_seq = 1
    prev = GENESIS
    count = 0
    for rec in records:
        if rec.seq != expected_seq:
            if rec.seq > expected_seq:
                missing = (
                    f"seq {expected_seq} is missing"
                    if rec.seq == expected_seq + 1
                    else f"seq {expected_seq}..{rec.seq - 1} are missing"
                )
                reason = f"{missing} (record deleted): found seq {rec.seq} after {expected_seq - 1}"
            else:
                reason = (
                    f"record out of order or duplicated: seq {rec.seq} found where "
                    f"{expected_seq} was expected"
                )
            return VerifyResult(False, count, expected_seq, reason, prev)
        if rec.prev_hash != prev:
            return VerifyResult(
                False,
                count,
                rec.seq,
                f"seq {rec.seq}: prev_hash does not match the hash of seq {rec.seq - 1} "
                "(record before it altered, removed or reordered)",
                prev,
            )
        try:
            actual = rec.expected_hash()
        except CanonicalError as e:
            return VerifyResult(False, count, rec.seq, f"seq {rec.seq}: unreadable ({e})", prev)
        if actual != rec.hash:
            return VerifyResult(
                False,
                count,
                rec.seq,
                f"seq {rec.seq}: content does not match its hash (record altered)",
                prev,
            )
        if (
            checkpoint is not None
            and rec.seq == checkpoint.count
            and rec.hash != (checkpoint.head_hash)
        ):
            return VerifyResult(
                False,
                count,
                rec.seq,
                f"seq {rec.seq}: hash differs from the checkpoint's head hash "
                "(chain rewritten since the checkpoint)",
                prev,
            )
        prev = rec.hash
        count += 1
        expected_seq += 1
    if checkpoint is not None:
        if count < checkpoint.count:
            return VerifyResult(
                False,
                count,
                count + 1,
                f"chain has {count} records but the checkpoint recorded {checkpoint.count} "
                f"(seq {count + 1}..{checkpoint.count} removed)",
                prev,
            )
        if checkpoint.count == 0 and checkpoint.head_hash != GENESIS:
            return VerifyResult(False, count, 1, "checkpoint head hash is not genesis", prev)
    return VerifyResult(True, count, None, "OK", prev)
