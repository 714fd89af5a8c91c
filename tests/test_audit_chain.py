"""Hash chain: canonical JSON, record hashes and verification (property-based)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from audit.chain import (
    GENESIS,
    CanonicalError,
    Checkpoint,
    StoredRecord,
    canonical,
    envelope,
    record_hash,
    to_jsonable,
    verify_chain,
)


def build_chain(items: list[tuple[str, str, dict]]) -> list[StoredRecord]:
    """Chain (kind, session, body) items the way a store does."""
    out, prev = [], GENESIS
    for i, (kind, session, body) in enumerate(items, start=1):
        ts = f"2026-01-01T00:00:{i % 60:02d}.000000Z"
        digest = record_hash(prev, envelope(seq=i, ts=ts, kind=kind, session_id=session, body=body))
        out.append(StoredRecord(i, ts, kind, session, body, prev, digest))
        prev = digest
    return out


json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
bodies = st.dictionaries(st.text(min_size=1, max_size=8), json_values, min_size=1, max_size=5)
items = st.lists(
    st.tuples(
        st.sampled_from(["turn", "session_start", "gap", "tool_call"]),
        st.sampled_from(["s1", "s2"]),
        bodies,
    ),
    min_size=2,
    max_size=12,
)


# ------------------------------------------------------------------------------ canonical


def test_canonical_is_sorted_compact_utf8():
    assert (
        canonical({"b": 1, "a": [1.5, "é", None, True]})
        == '{"a":[1.5,"é",null,true],"b":1}'.encode()
    )


@pytest.mark.parametrize(
    "bad", [math.nan, math.inf, -math.inf, b"bytes", {1: "int key"}, {"s": {1, 2}}]
)
def test_canonical_rejects_non_json(bad):
    with pytest.raises(CanonicalError):
        canonical({"v": bad})


def test_canonical_rejects_lone_surrogate():
    with pytest.raises(CanonicalError):
        canonical({"t": "\ud800"})


@given(bodies)
def test_canonical_round_trips(body):
    text = canonical(body)
    assert canonical(json.loads(text)) == text


def test_record_hash_is_sha256_of_prev_and_canonical():
    rec = {"seq": 1, "ts": "t", "kind": "turn", "session_id": "s", "body": {"x": 1}}
    expected = hashlib.sha256(GENESIS.encode() + canonical(rec)).hexdigest()
    assert record_hash(GENESIS, rec) == expected
    assert record_hash("1" * 64, rec) != expected


def test_to_jsonable_keeps_everything_it_can():
    @dataclasses.dataclass
    class Booking:
        id: str
        when: dt.datetime

    value = {
        "booking": Booking("B-1", dt.datetime(2026, 3, 1, 9, 30, tzinfo=dt.UTC)),
        "audio": b"\x00\x01",
        "nan": math.nan,
        "tags": {"b", "a"},
        "tuple": (1, 2),
    }
    out = to_jsonable(value)
    assert out["booking"] == {"id": "B-1", "when": "2026-03-01T09:30:00+00:00"}
    assert out["audio"] == {"sha256": hashlib.sha256(b"\x00\x01").hexdigest(), "bytes": 2}
    assert out["nan"] == "NaN"
    assert out["tags"] == ["a", "b"]
    assert out["tuple"] == [1, 2]
    canonical(out)  # accepted


# ------------------------------------------------------------------------------ verify


@given(items)
def test_intact_chain_verifies(its):
    chain = build_chain(its)
    result = verify_chain(chain)
    assert result.ok and result.count == len(chain) and result.first_bad_seq is None
    assert result.head_hash == chain[-1].hash
    cp = Checkpoint(len(chain), chain[-1].hash)
    assert verify_chain(chain, checkpoint=cp).ok


def test_empty_chain_is_ok():
    assert verify_chain([]) == verify_chain([], checkpoint=Checkpoint(0, GENESIS))
    assert verify_chain([]).ok and verify_chain([]).count == 0


def _mutate_field(rec: StoredRecord, field: str, data) -> StoredRecord:
    if field == "body":
        key = data.draw(st.sampled_from(sorted(rec.body)))
        new_value = data.draw(json_values)
        assume(canonical(new_value) != canonical(rec.body[key]))
        return dataclasses.replace(rec, body={**rec.body, key: new_value})
    if field == "body_add":
        key = data.draw(st.text(min_size=1, max_size=8))
        assume(key not in rec.body)
        return dataclasses.replace(rec, body={**rec.body, key: "x"})
    if field in ("prev_hash", "hash"):
        new = data.draw(st.text(alphabet="0123456789abcdef", min_size=64, max_size=64))
        assume(new != getattr(rec, field))
        return dataclasses.replace(rec, **{field: new})
    if field == "seq":
        new = data.draw(st.integers(min_value=0, max_value=100))
        assume(new != rec.seq)
        return dataclasses.replace(rec, seq=new)
    new = data.draw(st.text(max_size=12))
    assume(new != getattr(rec, field))
    return dataclasses.replace(rec, **{field: new})


@settings(max_examples=300)
@given(items, st.data())
def test_any_single_edit_is_detected_at_that_record(its, data):
    chain = build_chain(its)
    i = data.draw(st.integers(0, len(chain) - 1))
    field = data.draw(
        st.sampled_from(
            ["body", "body_add", "ts", "kind", "session_id", "prev_hash", "hash", "seq"]
        )
    )
    tampered = list(chain)
    tampered[i] = _mutate_field(chain[i], field, data)
    result = verify_chain(tampered)
    assert not result.ok
    assert result.first_bad_seq == chain[i].seq
    assert result.count == i


@settings(max_examples=300)
@given(items, st.data())
def test_any_single_deletion_is_detected(its, data):
    chain = build_chain(its)
    i = data.draw(st.integers(0, len(chain) - 1))
    tampered = chain[:i] + chain[i + 1 :]
    checkpoint = Checkpoint(len(chain), chain[-1].hash)
    result = verify_chain(tampered, checkpoint=checkpoint)
    assert not result.ok
    assert result.first_bad_seq == chain[i].seq
    if i < len(chain) - 1:
        # Inside the chain even without a checkpoint.
        plain = verify_chain(tampered)
        assert not plain.ok and plain.first_bad_seq == chain[i].seq
        assert "missing" in plain.reason


@settings(max_examples=300)
@given(items, st.data())
def test_any_swap_is_detected(its, data):
    chain = build_chain(its)
    i = data.draw(st.integers(0, len(chain) - 2))
    j = data.draw(st.integers(i + 1, len(chain) - 1))
    tampered = list(chain)
    tampered[i], tampered[j] = tampered[j], tampered[i]
    result = verify_chain(tampered)
    assert not result.ok
    assert result.first_bad_seq == chain[i].seq


@settings(max_examples=200)
@given(items, st.data())
def test_swapping_contents_but_keeping_seq_is_detected(its, data):
    """Rows renumbered after a swap (seq kept in place, bodies exchanged)."""
    chain = build_chain(its)
    i = data.draw(st.integers(0, len(chain) - 2))
    j = data.draw(st.integers(i + 1, len(chain) - 1))
    assume(chain[i].envelope() | {"seq": 0} != chain[j].envelope() | {"seq": 0})
    tampered = list(chain)
    tampered[i] = dataclasses.replace(chain[j], seq=chain[i].seq, prev_hash=chain[i].prev_hash)
    tampered[j] = dataclasses.replace(chain[i], seq=chain[j].seq, prev_hash=chain[j].prev_hash)
    result = verify_chain(tampered)
    assert not result.ok and result.first_bad_seq == chain[i].seq


def test_rewritten_chain_is_caught_by_checkpoint():
    chain = build_chain([("turn", "s", {"n": k}) for k in range(5)])
    cp = Checkpoint(len(chain), chain[-1].hash)
    forged = build_chain([("turn", "s", {"n": k if k != 2 else 99}) for k in range(5)])
    assert verify_chain(forged).ok  # consistent on its own...
    result = verify_chain(forged, checkpoint=cp)  # ...but not what was checkpointed
    assert not result.ok and result.first_bad_seq == 5 and "checkpoint" in result.reason
    # Appending after a checkpoint is fine.
    longer = build_chain([("turn", "s", {"n": k}) for k in range(8)])
    assert verify_chain(longer, checkpoint=cp).ok


def test_checkpoint_round_trip_and_digest():
    cp = Checkpoint(3, "a" * 64, "2026-01-01T00:00:00Z")
    data = cp.to_dict()
    assert Checkpoint.from_dict(data) == cp
    data["count"] = 2
    with pytest.raises(ValueError, match="digest"):
        Checkpoint.from_dict(data)
    with pytest.raises(ValueError):
        Checkpoint.from_dict({"count": "x"})
