"""Bodies are read only after the sender is known, never beyond the limit, never forever.

Over real sockets: a 1 GB body (made by a generator) against ``mlp serve`` in its own process, whose
resident memory is read from /proc; stalled bodies against a platform with a short read timeout.
"""

from __future__ import annotations

import contextlib
import json
import re
import socket
import time
from pathlib import Path

import pytest

from mlp_testing import Keys, MlpServe
from volcengine_ml_platform.signing import payload_hash

from .conftest import GATEWAY_READ_TIMEOUT as READ_TIMEOUT
from .conftest import SERVE_READ_TIMEOUT
from .helpers import Api, LiveServer
from .raw_http import MiB, RawRequest, signed_headers, zeros

GB = 1024 * MiB
LIMIT = 8 * MiB
OPEN = "/?Action=ListModels&Version=2021-07-01"
# The RSS the server may gain while refusing 1 GB: a small multiple of the limit.
RSS_BUDGET = 64 * MiB


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def rss(serve: MlpServe) -> int:
    assert serve.proc is not None
    return _status_kib(serve.proc.pid, "VmRSS")


def peak_rss(serve: MlpServe) -> int:
    assert serve.proc is not None
    return _status_kib(serve.proc.pid, "VmHWM")


def refuse_1gb(serve: MlpServe, headers: dict[str, str], *, chunked: bool) -> tuple[RawRequest, float]:
    """Send 1 GB (or as much as the server takes before answering); return the request and seconds to
    the answer's first byte."""
    if chunked:
        headers = {**headers, "Transfer-Encoding": "chunked"}
    else:
        headers = {**headers, "Content-Length": str(GB)}
    request = RawRequest(serve.url, OPEN, headers)
    request.open()
    started = time.monotonic()
    request.send_in_background(zeros(GB), chunked=chunked)
    return request, started


@pytest.mark.parametrize("chunked", [False, True], ids=["declared", "chunked"])
def test_an_unsigned_1gb_post_is_refused_before_its_body_is_read(served: MlpServe, chunked: bool) -> None:
    before = rss(served)
    request, started = refuse_1gb(served, {"Content-Type": "application/json"}, chunked=chunked)
    answer = request.answer()
    elapsed = time.monotonic() - started
    request.close()
    assert answer.status == 401 and answer.error_code() == "MissingAuthenticationToken", answer
    assert answer.closed, "the connection must end: the rest of the body is never read"
    assert request.sent < GB / 4, f"the server took {request.sent} bytes before refusing"
    assert elapsed < 10, elapsed
    assert peak_rss(served) - before < RSS_BUDGET, (before, peak_rss(served))


def test_a_signed_1gb_post_declared_is_413_at_once(served: MlpServe) -> None:
    keys = served.default_keys()
    before = rss(served)
    headers = signed_headers(served.url, keys, OPEN)
    request, _ = refuse_1gb(served, headers, chunked=False)
    answer = request.answer()
    request.close()
    assert answer.status == 413 and answer.error_code() == "RequestTooLarge", answer
    assert str(LIMIT) in answer.json()["ResponseMetadata"]["Error"]["Message"]
    assert answer.closed
    assert peak_rss(served) - before < RSS_BUDGET


def test_a_signed_1gb_chunked_post_stops_at_the_limit_and_memory_is_given_back(served: MlpServe) -> None:
    keys = served.default_keys()
    before = rss(served)
    request, _ = refuse_1gb(served, signed_headers(served.url, keys, OPEN), chunked=True)
    answer = request.answer()
    request.close()
    assert answer.status == 413 and answer.error_code() == "RequestTooLarge", answer
    assert answer.closed
    assert LIMIT <= request.sent < GB / 4
    assert peak_rss(served) - before < RSS_BUDGET
    # The server still serves, and holds no more than a limit's worth afterwards.
    with Api(served.url, keys) as api:
        assert api.ok("ListModels", {})["Total"] >= 0
    assert rss(served) - before < 4 * LIMIT


def test_a_body_at_the_limit_is_read_and_judged(served: MlpServe) -> None:
    """Exactly the limit is not too large: the body reaches the JSON check (and is not JSON)."""
    keys = served.default_keys()
    body = b" " * (LIMIT - 2) + b"[]"
    headers = signed_headers(served.url, keys, OPEN, body_hash_of=body)
    request = RawRequest(served.url, OPEN, {**headers, "Content-Length": str(len(body))})
    request.open()
    request.send(body)
    answer = request.answer()
    request.close()
    assert answer.status == 400 and answer.error_code() == "InvalidParameter", answer
    assert payload_hash(body) == headers["X-Content-Sha256"]


def _stall(server: LiveServer, target: str, headers: dict[str, str]) -> RawRequest:
    request = RawRequest(server.url, target, {**headers, "Content-Length": "100"})
    request.open()
    request.send(b'{"Limit": ')  # ... and never the rest
    return request


def test_stalled_bodies_are_closed_after_the_read_timeout(gateway_server: LiveServer) -> None:
    server = gateway_server
    keys = server.default_keys()
    stalled = [_stall(server, OPEN, signed_headers(server.url, keys, OPEN)) for _ in range(20)]
    started = time.monotonic()
    answers = [r.answer(timeout=READ_TIMEOUT * 20) for r in stalled]
    elapsed = time.monotonic() - started
    for request in stalled:
        request.close()
    assert all(a.status == 408 and a.error_code() == "RequestTimeout" for a in answers), answers[0]
    assert all(a.closed for a in answers)
    assert elapsed < READ_TIMEOUT * 20
    with Api(server.url, keys) as api:  # and the platform still answers everyone else
        assert api.ok("ListModels", {}) == {"Total": 0, "List": []}


def test_the_inner_door_bounds_bodies_after_the_token_check(
    gateway_server: LiveServer, gateway_admin: Api
) -> None:
    server, admin = gateway_server, gateway_admin
    token = admin.token_for(admin.account_id)
    target = f"/ml-platform/cn-beijing/api/InnerGetModelVersion?Token={token}"
    stalled = _stall(server, target, {"Content-Type": "application/json"})
    answer = stalled.answer(timeout=READ_TIMEOUT * 20)
    stalled.close()
    assert answer.status == 408 and answer.error_code() == "RequestTimeout"

    too_big = RawRequest(server.url, target, {"Content-Length": str(GB)})
    too_big.open()
    answer = too_big.answer()
    too_big.close()
    assert answer.status == 413 and answer.error_code() == "RequestTooLarge"

    # Without a valid token nothing is read: the refusal comes first, however large the body.
    forged = RawRequest(server.url, target.replace("Token=v1.", "Token=v1.x"), {"Content-Length": str(GB)})
    forged.open()
    answer = forged.answer()
    forged.close()
    assert answer.status == 401 and answer.error_code() == "InvalidSecretToken"
    assert answer.closed


def test_a_refused_small_body_is_read_first_so_the_answer_is_not_lost_to_a_reset(
    gateway_server: LiveServer,
) -> None:
    # A key the platform does not know is refused from the headers alone. Closing the connection with
    # the (small) body unread would make the kernel send a reset, which can reach the client before
    # the 401 does; the platform reads a small declared body first and keeps the connection.
    server = gateway_server
    stranger = Keys("AKLT" + "x" * 24, "y" * 40, account_id=0)
    body = b'{"Limit": 10}'
    headers = {**signed_headers(server.url, stranger, OPEN, body), "Content-Length": str(len(body))}
    request = RawRequest(server.url, OPEN, headers)
    request.open()
    time.sleep(0.2)  # the headers alone reach the server, which refuses them before the body arrives
    request.send(body)
    answer = request.answer(probe_close=False)
    assert answer.status == 401 and answer.error_code() == "InvalidAccessKey", answer
    assert answer.headers.get("connection") != "close", "the body was read: the connection stays usable"
    # The same connection serves the next request.
    keys = server.default_keys()
    request.send_request(OPEN, signed_headers(server.url, keys, OPEN), b"{}")
    assert request.answer(probe_close=False).status == 200
    request.close()

    # A small body that never comes is not waited for long: the refusal ends the connection.
    stalled = RawRequest(server.url, OPEN, headers)
    stalled.open()
    answer = stalled.answer(timeout=READ_TIMEOUT * 4)
    stalled.close()
    assert answer.status == 401 and answer.closed, answer


HEAD_SENT = 256 * MiB


@pytest.mark.parametrize("shape", ["one-header", "many-headers"])
def test_an_endless_request_head_is_refused_at_its_limit(served: MlpServe, shape: str) -> None:
    """A head (request line and headers: a huge Authorization, or header after header) is held only up
    to a limit, before anyone is known: 413 and the connection closed, the rest never read."""
    before = rss(served)
    request = RawRequest(served.url, OPEN, {})
    sock = socket.create_connection(("127.0.0.1", int(served.url.rsplit(":", 1)[1])), timeout=60)
    request._sock = sock
    opening = f"POST {OPEN} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    if shape == "one-header":
        opening += "Authorization: HMAC-SHA256 Credential="
        pieces = zeros(HEAD_SENT)
    else:
        line = b"X-Pad: " + b"0" * 1000 + b"\r\n"
        pieces = (line * 1024 for _ in range(HEAD_SENT // (1024 * len(line))))
    sock.sendall(opening.encode("latin-1"))
    started = time.monotonic()
    request.send_in_background(pieces, chunked=False)
    answer = request.answer(timeout=20)
    elapsed = time.monotonic() - started
    request.close()
    assert answer.status == 413 and answer.error_code() == "RequestTooLarge", answer
    assert "request head" in answer.json()["ResponseMetadata"]["Error"]["Message"]
    assert answer.closed, "the connection must end: the rest of the head is never read"
    assert request.sent < HEAD_SENT / 4, f"the server took {request.sent} bytes before refusing"
    assert elapsed < 10, elapsed
    assert peak_rss(served) - before < RSS_BUDGET, (before, peak_rss(served))
    with Api(served.url, served.default_keys()) as api:  # the platform serves on; a large head is fine
        padded = api.http.post(OPEN, content=b"{}", headers={"X-Pad": "0" * 48 * 1024}, auth=api.auth)
        assert padded.status_code == 200, padded.text


def test_a_stalled_request_head_is_closed_after_the_read_timeout(served: MlpServe) -> None:
    """A head sent in part and then never finished does not hold its connection for ever."""
    sock = socket.create_connection(("127.0.0.1", int(served.url.rsplit(":", 1)[1])), timeout=60)
    request = RawRequest(served.url, OPEN, {})
    request._sock = sock
    started = time.monotonic()
    request.send(f"POST {OPEN} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthoriz".encode())
    answer = request.answer(timeout=SERVE_READ_TIMEOUT * 5)
    elapsed = time.monotonic() - started
    request.close()
    assert answer.status == 408 and answer.error_code() == "RequestTimeout", answer
    assert "request head" in answer.json()["ResponseMetadata"]["Error"]["Message"]
    assert answer.closed
    assert SERVE_READ_TIMEOUT - 0.5 < elapsed < SERVE_READ_TIMEOUT * 3, elapsed


@pytest.mark.parametrize("where", ["trailer", "chunk-extension"])
def test_an_endless_chunked_framing_is_refused_at_the_head_limit(served: MlpServe, where: str) -> None:
    """A chunked body's trailer fields (after the last chunk) are held by the parser as headers are,
    and no data of the body comes while they do: a signed request sending an endless trailer was held
    until the body read timeout (~100 MiB in 10 s, copied over and over). Its framing is bounded as a
    head is: 413, the connection closed, the rest never read."""
    keys = served.default_keys()
    before = rss(served)
    headers = {**signed_headers(served.url, keys, OPEN), "Transfer-Encoding": "chunked"}
    request = RawRequest(served.url, OPEN, headers)
    request.open()
    started = time.monotonic()
    request.send(b"2\r\n{}\r\n0\r\nX-Pad: " if where == "trailer" else b"2;ext=")
    request.send_in_background(zeros(HEAD_SENT), chunked=False)
    answer = request.answer(timeout=SERVE_READ_TIMEOUT * 5)
    elapsed = time.monotonic() - started
    request.close()
    assert answer.status == 413 and answer.error_code() == "RequestTooLarge", answer
    assert "request body" in answer.json()["ResponseMetadata"]["Error"]["Message"]
    assert answer.closed
    assert elapsed < SERVE_READ_TIMEOUT, elapsed  # refused at the limit, not at the read timeout
    assert request.sent < HEAD_SENT / 8, f"the server took {request.sent} bytes before refusing"
    assert peak_rss(served) - before < RSS_BUDGET, (before, peak_rss(served))


def test_chunked_bodies_with_small_chunks_and_a_trailer_are_read(served: MlpServe) -> None:
    """The framing bound counts the bytes between a body's data only: a body of a thousand one-byte
    chunks, with extensions and a trailer field, is a body like any other."""
    keys = served.default_keys()
    body = b"{" + b" " * 2000 + b"}"
    headers = {**signed_headers(served.url, keys, OPEN, body_hash_of=body), "Transfer-Encoding": "chunked"}
    request = RawRequest(served.url, OPEN, headers)
    request.open()
    for byte in body:
        request.send(b"1;n=v\r\n%c\r\n" % byte)
    request.send(b"0\r\nX-Checksum: " + b"0" * 1000 + b"\r\n\r\n")
    answer = request.answer(timeout=10, probe_close=False)
    request.close()
    assert answer.status == 200, answer


def test_a_head_refused_behind_a_request_in_flight_comes_after_its_answer(served: MlpServe) -> None:
    """Pipelined: a request, then a head past the limit on the same connection. The request is carried
    out and answered, then the head refused: the 413 was written at once, before (or instead of) the
    first request's answer, which a client then took for that request's (which had been done)."""
    port = int(served.url.rsplit(":", 1)[1])
    keys = served.default_keys()
    for _ in range(10):  # the first request's answer is written a few milliseconds after its head came
        headers = signed_headers(served.url, keys, OPEN)
        first = RawRequest(served.url, OPEN, {})
        first._sock = socket.create_connection(("127.0.0.1", port), timeout=20)
        first.send_request(OPEN, headers, b"{}")
        first.send(f"POST {OPEN} HTTP/1.1\r\nX-Pad: ".encode())
        first.send_in_background(zeros(HEAD_SENT, 128 * 1024), chunked=False)
        received = b""
        with contextlib.suppress(ConnectionResetError):
            while piece := first._sock.recv(65536):
                received += piece
        first.close()
        answers = []  # (status, body) of each answer, framed by its Content-Length
        while received:
            head, _, rest = received.partition(b"\r\n\r\n")
            length = int(re.search(rb"(?i)content-length: *(\d+)", head).group(1))  # type: ignore[union-attr]
            answers.append((int(head.split()[1]), json.loads(rest[:length])))
            received = rest[length:]
        assert [status for status, _ in answers] == [200, 413], answers
        assert answers[0][1]["Result"]["Total"] == 0
        assert answers[1][1]["ResponseMetadata"]["Error"]["Code"] == "RequestTooLarge"


def test_a_connection_that_never_sends_a_byte_is_closed_after_the_read_timeout(served: MlpServe) -> None:
    """uvicorn runs no timer on a new connection until it has answered once: one that sent nothing was
    held for ever (its socket, a descriptor of the server's: many such connections, all of them)."""
    port = int(served.url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=SERVE_READ_TIMEOUT * 4) as silent:
        started = time.monotonic()
        try:
            closed = silent.recv(1) == b""
        except ConnectionResetError:
            closed = True
        except TimeoutError:
            closed = False
        elapsed = time.monotonic() - started
    assert closed, f"still open after {elapsed:.1f} s"
    assert SERVE_READ_TIMEOUT - 0.5 < elapsed < SERVE_READ_TIMEOUT * 3, elapsed
    with Api(served.url, served.default_keys()) as api:  # a connection that asks is answered as ever
        assert api.ok("ListModels", {})["Total"] == 0
