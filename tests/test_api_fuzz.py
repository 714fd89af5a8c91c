"""Fuzz every HTTP operation of Echo's OpenAPI schema with schemathesis, in process.

The real app (``server.create_app``) runs under schemathesis's ASGI transport with the
local defaults in a temp data dir: real SQLite stores, real aiortc for offers. Checks: no
server error (a 503 whose JSON names what is missing or busy is by design), schema-invalid
input refused with a 4xx, and responses that match what the schema declares. Every request
has a timeout (a hang fails). Then real aiortc offers, mutated, go through the whole path
(offer, ICE candidates, an image upload) and each session they start must be freed after
the connect timeout; last, the server still answers ``/healthz`` holding nothing.
WebSocket routes are not in OpenAPI.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.core.failures import Failure
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
)

from config import EchoSettings
from tests.conftest import KEY_VARS

pytestmark = pytest.mark.slow

REQUEST_TIMEOUT_SECS = 10.0  # any single request slower than this is a hang
CONNECT_TIMEOUT_SECS = 1.0  # an answered offer that never connects is freed after this
MAX_EXAMPLES = 100  # per operation in the fuzzing phase (the coverage phase adds its own)
OFFER_EXAMPLES = 25  # real aiortc offers, mutated; each one answered holds a session ~1 s


class UndeclaredServerError(Failure):
    """A 5xx that is not one of the documented, JSON-explained refusals."""


def server_errors_are_by_design(ctx, response, case):
    """No 5xx but a 503 whose JSON body says what is missing or busy.

    503 is how Echo says "not now": a variant or transport needing a key it does not have
    (the body names the variable), or every session slot taken. Anything else at 500+
    is a bug.
    """
    status = response.status_code
    if status < 500:
        return None
    try:
        body = json.loads(response.content or b"null")
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("detail"), dict):
        body = body["detail"]
    if status == 503 and isinstance(body, dict) and body.get("error"):
        return None
    raise UndeclaredServerError(
        operation=case.operation.label,
        title=f"Server error {status}",
        message=f"{case.method} {case.formatted_path}: {status} {response.content[:300]!r}",
    )


CHECKS = [
    server_errors_are_by_design,
    negative_data_rejection,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def echo_app(tmp_path_factory):
    """Echo's app on local defaults, small limits, no model warm-up; shut down afterwards."""
    from server import create_app

    with pytest.MonkeyPatch.context() as mp:
        for var in KEY_VARS:
            mp.delenv(var, raising=False)
        mp.chdir(Path(__file__).resolve().parents[1])
        echo_settings = EchoSettings(
            _env_file=None,
            data_dir=tmp_path_factory.mktemp("fuzz") / "data",
            max_sessions=1,  # a fuzzed offer that does start a session holds one slot only
            connect_timeout_secs=CONNECT_TIMEOUT_SECS,
            offers_per_minute=1_000_000,  # reach the checks past the rate limit
            tts_warm_phrases=False,
        )
        app = create_app(echo_settings, warm_up=False)
        try:
            yield app
        finally:
            asgi.shutdown_lifespans()  # stops the runtime: sessions, stores, WebRTC


def openapi_document() -> dict:
    """Echo's OpenAPI document (the routes do not depend on the settings' values)."""
    from server import create_app

    return create_app(EchoSettings(_env_file=None), warm_up=False).openapi()


schema = schemathesis.openapi.from_dict(openapi_document())


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_every_operation_survives_fuzzing(case, echo_app):
    case.call_and_validate(app=echo_app, checks=CHECKS, timeout=REQUEST_TIMEOUT_SECS)


def sessions_drain(client) -> bool:
    """Wait until /healthz counts no session (False well after the connect timeout)."""
    deadline = time.monotonic() + CONNECT_TIMEOUT_SECS + 15
    while time.monotonic() < deadline:
        res = client.get("/healthz", timeout=REQUEST_TIMEOUT_SECS)
        assert res.status_code == 200
        if res.json()["sessions"] == 0:
            return True
        time.sleep(0.1)
    return False


# --- offers that pass the SDP shape check: real aiortc runs, sessions may start ------------


@pytest.fixture(scope="module")
def real_offer_lines() -> list[str]:
    """The lines of a real aiortc audio offer (what a browser sends, give or take)."""
    import asyncio

    from aiortc import RTCPeerConnection

    async def offer() -> str:
        pc = RTCPeerConnection()
        pc.addTransceiver("audio", direction="sendrecv")
        await pc.setLocalDescription(await pc.createOffer())
        sdp = pc.localDescription.sdp
        await pc.close()
        return sdp

    return asyncio.run(offer()).strip().splitlines()


printable = st.text(st.characters(min_codepoint=32, max_codepoint=0x2FF), max_size=40)


@st.composite
def mutated_offers(draw, lines: list[str]) -> str:
    """A real offer with a few lines changed, dropped, repeated or added."""
    lines = list(lines)
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(1, len(lines) - 1))  # "v=0" stays: the shape check passes more
        kind = draw(st.sampled_from(["value", "drop", "repeat", "add", "truncate"]))
        key, _, value = lines[i].partition("=")
        if kind == "value":
            head, sep, _ = value.partition(" " if value.startswith(("m", "c", "o")) else ":")
            lines[i] = f"{key}={head}{sep}{draw(printable)}"
        elif kind == "drop":
            del lines[i]
        elif kind == "repeat":
            lines.insert(i, lines[i])
        elif kind == "add":
            lines.insert(i, f"{draw(st.sampled_from('amcbtk'))}={draw(printable)}")
        else:
            lines[i] = lines[i][: draw(st.integers(0, len(lines[i])))]
    return draw(st.sampled_from(["\r\n", "\n"])).join(lines) + "\r\n"


candidates = st.one_of(
    printable,
    st.builds(
        lambda f, c, proto, prio, addr, port, kind, extra: (
            f"candidate:{f} {c} {proto} {prio} {addr} {port} typ {kind}{extra}"
        ),
        st.text("0123456789abcdef", min_size=1, max_size=10),
        st.integers(-1, 300),
        st.sampled_from(["udp", "UDP", "tcp", "sctp"]),
        st.integers(-1, 2**33),
        st.one_of(st.ip_addresses().map(str), st.just("abc.local"), printable),
        st.integers(-1, 70000),
        st.sampled_from(["host", "srflx", "prflx", "relay", "bogus"]),
        st.sampled_from(["", " generation 0", " raddr 0.0.0.0 rport 0", " tcptype active"]),
    ),
)


@pytest.fixture(scope="module")
def small_images() -> list[bytes]:
    """A tiny image in each accepted format (fuzzed into corrupt ones below)."""
    import io

    from PIL import Image, ImageDraw

    img = Image.new("RGB", (24, 16), "white")
    ImageDraw.Draw(img).text((2, 2), "Rx", fill="black")
    out = []
    for fmt in ("PNG", "JPEG", "WEBP", "GIF"):
        buf = io.BytesIO()
        img.save(buf, format=fmt)
        out.append(buf.getvalue())
    return out


@st.composite
def mutated_images(draw, images: list[bytes]) -> bytes:
    """Random bytes, or a real image truncated, with bytes flipped, or the header lying."""
    data = bytearray(draw(st.sampled_from(images)))
    kind = draw(st.sampled_from(["random", "truncate", "flip", "size", "intact"]))
    if kind == "random":
        return draw(st.binary(max_size=256))
    if kind == "truncate":
        return bytes(data[: draw(st.integers(0, len(data) - 1))])
    if kind == "flip":
        for _ in range(draw(st.integers(1, 8))):
            data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    if kind == "size":  # the dimensions in the header (PNG's IHDR, GIF's screen), made huge
        at = 16 if data.startswith(b"\x89PNG") else 6
        data[at : at + 4] = draw(st.binary(min_size=4, max_size=4))
    return bytes(data)


@given(data=st.data())
@settings(max_examples=OFFER_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_valid_looking_offers_then_candidates_and_images(
    echo_app, real_offer_lines, small_images, data
):
    with asgi.get_client(echo_app) as client:
        assert sessions_drain(client)  # each example starts from an idle server
        sdp = data.draw(mutated_offers(real_offer_lines), label="sdp")
        pipeline = data.draw(st.sampled_from([None, "cascaded", "vision", "speech_native"]))
        res = client.post(
            "/api/offer",
            json={"sdp": sdp, "type": "offer", "request_data": {"pipeline": pipeline}},
            timeout=REQUEST_TIMEOUT_SECS,
        )
        assert res.status_code in (200, 400), res.text
        if res.status_code != 200:
            assert res.json()["detail"]["error"]
            return
        answer = res.json()
        # While it waits for its caller: ICE candidates for it, then an image into it.
        draw_candidates = st.lists(candidates, max_size=3)
        patch = {
            "pc_id": answer["pc_id"],
            "pc_token": answer["pc_token"],
            "candidates": [
                {
                    "candidate": c,
                    "sdp_mid": data.draw(st.sampled_from(["0", "1", "x"])),
                    "sdp_mline_index": data.draw(st.integers(0, 2)),
                }
                for c in data.draw(draw_candidates, label="candidates")
            ],
        }
        res = client.patch("/api/offer", json=patch, timeout=REQUEST_TIMEOUT_SECS)
        # 404: the session ended meanwhile (it never connects); 400: a candidate refused.
        assert res.status_code in (200, 400, 404), res.text
        image = data.draw(mutated_images(small_images), label="image")
        content_type = data.draw(st.sampled_from(["image/png", "text/plain", "", "x/y"]))
        res = client.post(
            "/api/vision/image",
            params={"pc_id": answer["pc_id"]},
            data=image,
            headers={"X-Echo-PC-Token": answer["pc_token"], "Content-Type": content_type},
            timeout=REQUEST_TIMEOUT_SECS,
        )
        assert res.status_code in (200, 400, 404, 409, 413, 415), res.text
        assert res.json().get("ok") or res.json()["error"]
        # Never connected: freed after the connect timeout, its slot and pc_id with it.
        assert sessions_drain(client), "an answered offer that never connected lingered"


def test_server_still_healthy_and_holds_nothing_after_fuzzing(echo_app):
    """Runs last: whatever came before, the server answers and keeps no session state."""
    with asgi.get_client(echo_app) as client:
        assert sessions_drain(client)
        res = client.get("/healthz", timeout=REQUEST_TIMEOUT_SECS)
        assert res.status_code == 200 and res.json()["status"] == "ok"
    runtime = echo_app.state.runtime
    assert runtime.starting == 0 and not runtime.pc_sessions
    assert not runtime.webrtc._pcs_map  # Pipecat's live peer connections: none left open
