"""A request whose framing two HTTP parsers could read differently (request smuggling) is refused
with 400 and its connection closed, by the endpoint proxy itself (RFC 9112 sections 2.2, 5.1, 5.2 and
6.3) and by a replica (uvicorn with httptools) reached directly: Content-Length twice or as a list,
Content-Length with Transfer-Encoding, a Transfer-Encoding not ending in chunked, a bare LF, a space
before a colon, a folded line. Real sockets: a real replica process, and the proxy before it."""

from __future__ import annotations

import asyncio
import json
import socket
import subprocess
import sys
from collections.abc import Iterator

import pytest

from mlp_server.serving.proxy import Backend, ServiceProxy
from mlp_testing import clean_env, stop_process

from . import models as built
from .helpers import wait_until

INFER = b"POST /v2/models/m/infer HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n"
BODY = b'{"inputs": [{"name": "a", "datatype": "FP32", "shape": [1, 3], "data": [1, 2, 3]}, ' + (
    b'{"name": "b", "datatype": "FP32", "shape": [1, 3], "data": [1, 1, 1]}]}'
)
# A second request hidden where a parser that takes the other framing would find it.
SMUGGLED = b"GET /v2/models/m HTTP/1.1\r\nhost: x\r\n\r\n"
L = str(len(BODY)).encode()

BAD = {
    "Content-Length twice, equal": (
        INFER + b"content-length: " + L + b"\r\ncontent-length: " + L + b"\r\n\r\n" + BODY,
        "Content-Length is given more than once; send it once",
    ),
    "Content-Length twice, differing": (
        INFER + b"content-length: " + L + b"\r\ncontent-length: 0\r\n\r\n" + BODY + SMUGGLED,
        "Content-Length is given more than once; send it once",
    ),
    "Content-Length list": (
        INFER + b"content-length: " + L + b", " + L + b"\r\n\r\n" + BODY,
        "Content-Length is given more than once; send it once",
    ),
    "Content-Length and chunked": (
        INFER + b"content-length: " + L + b"\r\ntransfer-encoding: chunked\r\n\r\n0\r\n\r\n" + SMUGGLED,
        "both Content-Length and Transfer-Encoding are given; send one",
    ),
    "Content-Length and gzip": (
        INFER + b"transfer-encoding: gzip\r\ncontent-length: " + L + b"\r\n\r\n" + BODY,
        "Transfer-Encoding 'gzip' does not end with chunked",
    ),
    "bare LF": (
        INFER + b"x-note: a\ncontent-length: 5\r\n\r\n" + BODY,
        "a line of the head ends with a bare CR or LF; end each with CRLF",
    ),
    "space before the colon": (
        INFER + b"content-length : " + L + b"\r\n\r\n" + BODY,
        "header 'content-length' has whitespace before its colon",
    ),
    "folded line": (
        INFER + b"x-note: a\r\n content-length: 5\r\ncontent-length: " + L + b"\r\n\r\n" + BODY,
        "a header line is folded (starts with a space or tab); send it on one line",
    ),
}


@pytest.fixture(scope="module")
def replica_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """The port of ``python -m mlp_server.serving`` serving the two-input model as ``m``."""
    tmp = tmp_path_factory.mktemp("framing")
    hello = tmp / "hello.json"
    argv = [sys.executable, "-m", "mlp_server.serving", "--model-dir", str(built.two_inputs(tmp / "m"))]
    argv += ["--name", "m", "--hello-file", str(hello)]
    with (tmp / "replica.log").open("wb") as log:
        proc = subprocess.Popen(argv, env=clean_env(tmp / "home"), stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_until(hello.exists, 60, "the replica to listen")
        yield int(json.loads(hello.read_text())["port"])
    finally:
        stop_process(proc, 30)


def exchange(port: int, data: bytes) -> bytes:
    """Everything answered to ``data`` until the other side closes (a timeout if it keeps it open)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(data)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_a_valid_request_is_answered_directly_and_through_the_proxy(replica_port: int) -> None:
    request = INFER + b"content-length: " + L + b"\r\nconnection: close\r\n\r\n" + BODY
    direct = exchange(replica_port, request)

    async def through_proxy() -> bytes:
        proxy = ServiceProxy("s-framing", probe_every=3600)
        port = await proxy.start(None)
        proxy.add(Backend(replica_port))
        try:
            return await asyncio.to_thread(exchange, port, request)
        finally:
            await proxy.close()

    proxied = asyncio.run(through_proxy())
    for answer in (direct, proxied):
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n"), answer
        assert answer.endswith(b'"data":[2.0,4.0,6.0]}]}'), answer


@pytest.mark.parametrize("case", list(BAD))
def test_an_ambiguous_framing_is_refused_by_the_replica_and_by_the_proxy(
    replica_port: int, case: str
) -> None:
    request, message = BAD[case]
    # The replica's own parser (httptools) refuses it and closes: exchange() returns.
    direct = exchange(replica_port, request)
    assert direct.startswith(b"HTTP/1.1 400 Bad Request\r\n"), direct
    assert direct.count(b"HTTP/1.1 ") == 1, direct  # nothing answered for a smuggled request

    async def through_proxy() -> tuple[bytes, int]:
        proxy = ServiceProxy("s-framing", probe_every=3600)
        port = await proxy.start(None)
        backend = Backend(replica_port)
        proxy.add(backend)
        try:
            answer = await asyncio.to_thread(exchange, port, request)
            return answer, len(backend.idle)
        finally:
            await proxy.close()

    proxied, upstream_connections = asyncio.run(through_proxy())
    assert proxied.startswith(b"HTTP/1.1 400 Bad Request\r\n"), proxied
    assert b"\r\nconnection: close\r\n" in proxied, proxied
    assert proxied.endswith(json.dumps({"error": message}).encode()), proxied
    assert proxied.count(b"HTTP/1.1 ") == 1, proxied
    assert upstream_connections == 0  # refused by the proxy: nothing went to the replica


@pytest.mark.parametrize("method", ["HEAD", "GET"])
def test_empty_lines_before_the_request_line_are_ignored_by_the_replica_and_by_the_proxy(
    replica_port: int, method: str
) -> None:
    """RFC 9112 section 2.2: a server ignores empty lines before a request-line. The proxy did not
    see a HEAD after one, waited for the body of the replica's answer (which a HEAD's has not), and
    answered 503, counting the replica as failing."""
    request = f"{method} /v2/models/m HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n".encode()
    direct = exchange(replica_port, b"\r\n\r\n" + request)

    async def through_proxy() -> bytes:
        proxy = ServiceProxy("s-framing", probe_every=3600, read_timeout=5)
        port = await proxy.start(None)
        proxy.add(Backend(replica_port))
        try:
            return await asyncio.to_thread(exchange, port, b"\r\n\r\n" + request)
        finally:
            await proxy.close()

    proxied = asyncio.run(through_proxy())
    for answer in (direct, proxied):
        assert answer.startswith(b"HTTP/1.1 200 OK\r\n"), answer
        assert answer.count(b"HTTP/1.1 ") == 1, answer
    assert proxied.split(b"\r\n\r\n", 1)[1] == direct.split(b"\r\n\r\n", 1)[1]
