"""The service endpoint: a small HTTP/1.1 reverse proxy in the platform process, one port per service.

Each request goes to the ready replica with the fewest requests in flight, over a kept-alive
connection. A replica being scaled away is first taken out of the rotation, and only stopped once
the requests it is serving have been answered, so scaling drops nothing. Every KServe v2 request is
free of side effects (health, metadata, inference), so one that fails before any byte of the answer
came back (a replica that was just killed) is retried on another replica.

A replica that does not answer within the upstream timeout gets a 504 naming the timeout, and that
request is not sent again: a request that took so long on one replica would most likely take as long
on the next, and the client has waited the timeout already. A hung replica is caught by the
readiness probe instead: every ``probe_every`` seconds each replica is asked ``/v2/health/ready``;
one that fails leaves the rotation until it answers again (the supervisor restarts it after a few
failures in a row, see ``Backend.failed_probes``).

Only what the protocol needs is parsed: the head, Content-Length and Connection. Bodies must carry a
Content-Length (411 otherwise); ``Expect: 100-continue`` is answered here. A head whose framing the
replica could read otherwise (Content-Length twice, with Transfer-Encoding, bare CR or LF) is a 400
and the connection is closed (see :func:`_headers`).

Clients get ``read_timeout`` seconds (MLP_SERVING_READ_TIMEOUT) at each wait: a kept-alive connection
idle that long is closed without a word (as uvicorn does after 5 s), a head not complete that long
after its first byte, or a body with no byte for that long, gets a 408 and the connection is closed.
An endpoint holds at most ``max_clients`` connections; one more is answered 503 and closed. Without
both, a client that sends half a request would hold a socket, and memory, of the platform for ever.
Each connection notes what it waits for and since when, and one watcher per endpoint looks a few
times per timeout: a timer per read would cost a third of the proxy's own time per request.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import socket
import time
from dataclasses import dataclass, field

log = logging.getLogger("mlp_server.serving.proxy")

MAX_HEAD = 64 * 1024
MAX_BODY = 256 * 1024 * 1024
ATTEMPTS = 3
DEFAULT_UPSTREAM_TIMEOUT = 60.0  # seconds a replica has to answer one request (MLP_SERVING_TIMEOUT)
DEFAULT_READ_TIMEOUT = 10.0  # seconds a client may keep the proxy waiting (MLP_SERVING_READ_TIMEOUT)
MAX_CLIENTS = 1024  # client connections one endpoint holds at once
READ_CHUNK = 1024 * 1024
PROBE_EVERY = 1.0
PROBE_TIMEOUT = 1.0


class _BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(eq=False)
class Backend:
    """One replica as the proxy sees it. Touched only on the proxy's event loop, apart from reads."""

    port: int
    in_flight: int = 0
    draining: bool = False
    healthy: bool = True  # answered its last readiness probe; out of the rotation otherwise
    failed_probes: int = 0  # in a row
    idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = field(default_factory=list)

    def close_idle(self) -> None:
        for _, writer in self.idle:
            writer.close()
        self.idle.clear()


@dataclass(eq=False)
class _Client:
    """One client connection: what the proxy waits for from it ("idle": the next request, "head",
    "body"; "" while the request is with a replica) and since when (time.monotonic)."""

    writer: asyncio.StreamWriter
    waiting: str = "idle"
    since: float = field(default_factory=time.monotonic)

    def wait(self, what: str) -> None:
        self.waiting, self.since = what, time.monotonic()


STALLED = {"head": "the request head was not complete", "body": "no byte of the request body came"}


def _status_line(status: int) -> bytes:
    reasons = {
        400: "Bad Request",
        408: "Request Timeout",
        411: "Length Required",
        413: "Content Too Large",
        502: "Bad Gateway",
        503: "Service Unavailable",
        504: "Gateway Timeout",
    }
    return f"HTTP/1.1 {status} {reasons.get(status, 'Error')}\r\n".encode()


def _error_response(status: int, message: str, close: bool = False) -> bytes:
    body = json.dumps({"error": message}).encode()
    head = _status_line(status) + (
        b"content-type: application/json\r\ncontent-length: %d\r\n" % len(body)
        + (b"connection: close\r\n" if close else b"")
        + b"\r\n"
    )
    return head + body


def _headers(head: bytes) -> tuple[int, bool, bool, bool]:
    """(content-length, connection close, chunked, expect 100-continue) of a message head.

    The framing must be one the replica reads the same way, or the bytes after a body it frames
    otherwise would be taken for the next request on the kept-alive upstream connection (request
    smuggling): a message with Content-Length twice (or a list of lengths), with both Content-Length
    and Transfer-Encoding, with a bare CR or LF, a folded line or a space before a field's colon is
    refused with 400 (RFC 9112 sections 2.2, 5.1, 5.2 and 6.3) and the connection closed."""
    length, close, chunked, expect = 0, False, False, False
    lengths = 0
    crlf = head.count(b"\r\n")
    if head.count(b"\r") != crlf or head.count(b"\n") != crlf:
        raise _BadRequest(400, "a line of the head ends with a bare CR or LF; end each with CRLF")
    for line in head[: -len(b"\r\n\r\n")].split(b"\r\n")[1:]:
        if line[:1] in (b" ", b"\t"):
            raise _BadRequest(
                400, "a header line is folded (starts with a space or tab); send it on one line"
            )
        name, _, value = line.partition(b":")
        if name != name.rstrip(b" \t"):
            shown = name.strip().decode(errors="replace")
            raise _BadRequest(400, f"header {shown!r} has whitespace before its colon")
        name = name.lower()
        if name == b"content-length":
            lengths += 1
            digits = value.strip(b" \t")
            if lengths > 1 or b"," in digits:
                raise _BadRequest(400, "Content-Length is given more than once; send it once")
            if not digits.isdigit():  # int() would take "-1", "+5" and "1_0"
                raise _BadRequest(
                    400, f"Content-Length {digits.decode(errors='replace')!r} is not a non-negative integer"
                )
            length = int(digits)
        elif name == b"connection":
            close = b"close" in value.lower()
        elif name == b"transfer-encoding":
            codings = [c.strip(b" \t") for c in value.lower().split(b",")]
            if codings[-1] != b"chunked":  # the body's end cannot be known
                raise _BadRequest(
                    400,
                    f"Transfer-Encoding {value.strip().decode(errors='replace')!r} does not end with chunked",
                )
            chunked = True
        elif name == b"expect":
            expect = b"100-continue" in value.lower()
    if chunked and lengths:
        raise _BadRequest(400, "both Content-Length and Transfer-Encoding are given; send one")
    return length, close, chunked, expect


def _without_expect(head: bytes) -> bytes:
    lines = head.split(b"\r\n")
    return b"\r\n".join(line for line in lines if not line.lower().startswith(b"expect:"))


class ServiceProxy:
    """The endpoint of one service. Create and use it on the supervisor's event loop thread."""

    def __init__(
        self,
        service_id: str,
        *,
        upstream_timeout: float = DEFAULT_UPSTREAM_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
        max_clients: int = MAX_CLIENTS,
        probe_every: float = PROBE_EVERY,
        probe_timeout: float = PROBE_TIMEOUT,
    ) -> None:
        self.service_id = service_id
        self.upstream_timeout = upstream_timeout
        self.read_timeout = read_timeout
        self.max_clients = max_clients
        self.probe_every = probe_every
        self.probe_timeout = probe_timeout
        self.backends: list[Backend] = []
        self._rr = itertools.count()
        self._server: asyncio.Server | None = None
        self._clients: set[_Client] = set()
        self._prober: asyncio.Task[None] | None = None
        self._watcher: asyncio.Task[None] | None = None
        self.port = 0

    async def start(self, port: int | None, host: str = "127.0.0.1") -> int:
        """Listen on ``host``:``port`` (the service's previous port), or a free port if taken."""
        try:
            self._server = await asyncio.start_server(
                self._client, host, port or 0, limit=MAX_HEAD, reuse_address=True, backlog=1024
            )
        except OSError:
            if not port:
                raise
            log.warning(
                "service %s: port %s is taken; the endpoint moves to a new port", self.service_id, port
            )
            self._server = await asyncio.start_server(self._client, host, 0, limit=MAX_HEAD, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]
        self._prober = asyncio.get_running_loop().create_task(self._probe_forever())
        self._watcher = asyncio.get_running_loop().create_task(self._watch_clients())
        return self.port

    async def close(self) -> None:
        for task in (self._prober, self._watcher):
            if task is not None:
                task.cancel()
        self._prober = self._watcher = None
        if self._server is not None:
            self._server.close()
            for client in list(self._clients):
                client.writer.close()
            await self._server.wait_closed()
            self._server = None
        for backend in self.backends:
            backend.close_idle()
        self.backends = []

    def add(self, backend: Backend) -> None:
        self.backends = [*self.backends, backend]

    def remove(self, backend: Backend) -> None:
        """Out of the rotation at once (a dead replica, or one drained)."""
        self.backends = [b for b in self.backends if b is not backend]
        backend.close_idle()

    async def _probe_forever(self) -> None:
        while True:
            await asyncio.sleep(self.probe_every)
            try:
                await self._probe_all()
            except Exception:  # never let one bad round end the probing of this service
                log.exception("service %s: readiness probe round failed", self.service_id)

    async def _probe_all(self) -> None:
        backends = [b for b in self.backends if not b.draining]
        results = await asyncio.gather(*(_probe(b.port, self.probe_timeout) for b in backends))
        for backend, ok in zip(backends, results, strict=True):
            if ok:
                if not backend.healthy:
                    log.warning("service %s: replica on port %s answers again", self.service_id, backend.port)
                backend.healthy, backend.failed_probes = True, 0
                continue
            backend.failed_probes += 1
            if backend.healthy:
                log.warning(
                    "service %s: replica on port %s did not answer its readiness probe within %gs: "
                    "out of the rotation",
                    self.service_id,
                    backend.port,
                    self.probe_timeout,
                )
                backend.healthy = False
                backend.close_idle()

    def _pick(self, tried: set[int]) -> Backend | None:
        ready = [b for b in self.backends if b.healthy and not b.draining and id(b) not in tried]
        if not ready:
            return None
        start = next(self._rr) % len(ready)
        rotated = ready[start:] + ready[:start]  # ties go round-robin
        return min(rotated, key=lambda b: b.in_flight)

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._clients) >= self.max_clients:
            message = (
                f"service {self.service_id}: the endpoint holds {self.max_clients} connections; retry later"
            )
            writer.write(_error_response(503, message, close=True))
            writer.close()
            return
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        client = _Client(writer)
        self._clients.add(client)
        try:
            while True:
                # a stalled client is closed by _watch_clients: the read below then ends (EOF)
                client.wait("idle")
                first = await reader.readexactly(1)
                client.wait("head")
                try:
                    head = first + await reader.readuntil(b"\r\n\r\n")
                    while head.startswith(b"\r\n"):
                        # Empty lines before a request-line are ignored (RFC 9112 section 2.2), as the
                        # replica's parser does: the request is the one that follows them.
                        head = head[2:] or await reader.readuntil(b"\r\n\r\n")
                    length, close, chunked, expect = _headers(head)
                    if chunked:
                        raise _BadRequest(
                            411, "send the body with a Content-Length (chunked is not supported)"
                        )
                    if length > MAX_BODY:
                        raise _BadRequest(413, f"body larger than {MAX_BODY} bytes")
                except asyncio.LimitOverrunError:
                    writer.write(_error_response(400, "request head too large", close=True))
                    return
                except _BadRequest as exc:
                    writer.write(_error_response(exc.status, str(exc), close=True))
                    await writer.drain()
                    return
                if expect:
                    writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
                    head = _without_expect(head)
                body = await self._body(reader, length, client)
                client.wait("")
                # the answer to a HEAD has a Content-Length but no body
                response, upstream_close = await self._forward(head + body, head.startswith(b"HEAD "))
                writer.write(response)
                await writer.drain()
                if close or upstream_close:
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            self._clients.discard(client)
            writer.close()

    async def _body(self, reader: asyncio.StreamReader, length: int, client: _Client) -> bytes:
        """``length`` bytes; the read timeout counts from the last byte (a slow body may take longer)."""
        chunks: list[bytes] = []
        while length:
            client.wait("body")
            chunk = await reader.read(min(length, READ_CHUNK))
            if not chunk:
                raise asyncio.IncompleteReadError(b"".join(chunks), length)
            chunks.append(chunk)
            length -= len(chunk)
        return b"".join(chunks)

    async def _watch_clients(self) -> None:
        """Close the connections that kept the proxy waiting longer than the read timeout."""
        period = min(max(self.read_timeout / 4, 0.01), 1.0)
        while True:
            await asyncio.sleep(period)
            deadline = time.monotonic() - self.read_timeout
            for client in [c for c in self._clients if c.waiting and c.since < deadline]:
                if client.waiting in STALLED:
                    message = (
                        f"{STALLED[client.waiting]} within {self.read_timeout:g}s (MLP_SERVING_READ_TIMEOUT)"
                    )
                    client.writer.write(_error_response(408, message, close=True))
                client.waiting = ""
                client.writer.close()  # the connection's reader gets EOF, and its task ends

    async def _forward(self, request: bytes, head_only: bool = False) -> tuple[bytes, bool]:
        tried: set[int] = set()
        last_error = "no replica is ready"
        for _ in range(ATTEMPTS):
            backend = self._pick(tried)
            if backend is None:
                break
            backend.in_flight += 1
            try:
                async with asyncio.timeout(self.upstream_timeout):
                    return await self._exchange(backend, request, head_only)
            except TimeoutError:
                # Not sent again (see the module's docstring); the probe decides about the replica.
                message = (
                    f"service {self.service_id}: the replica on port {backend.port} did not answer within "
                    f"the upstream timeout of {self.upstream_timeout:g}s (MLP_SERVING_TIMEOUT)"
                )
                return _error_response(504, message), False
            except (OSError, asyncio.IncompleteReadError, _BadRequest) as exc:
                # Nothing of the answer reached the client yet and inference has no side effects.
                last_error = f"replica on port {backend.port}: {exc or type(exc).__name__}"
                tried.add(id(backend))
            finally:
                backend.in_flight -= 1
        return _error_response(503, f"service {self.service_id} cannot answer now: {last_error}"), False

    async def _exchange(self, backend: Backend, request: bytes, head_only: bool) -> tuple[bytes, bool]:
        fresh = not backend.idle
        while True:
            if backend.idle:
                reader, writer = backend.idle.pop()
            else:
                reader, writer = await asyncio.open_connection("127.0.0.1", backend.port, limit=MAX_HEAD)
                writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                fresh = True
            try:
                writer.write(request)
                head = await reader.readuntil(b"\r\n\r\n")
                length, close, chunked, _ = _headers(head)
                if chunked:
                    raise _BadRequest(502, "the replica answered with a chunked body")
                body = await reader.readexactly(length) if length and not head_only else b""
            except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
                writer.close()
                if fresh:
                    raise
                continue  # a kept-alive connection the replica had closed: try a new one
            except BaseException:  # timed out (cancelled) or a bad answer: the connection is done
                writer.close()
                raise
            if close or backend.draining:
                writer.close()
            else:
                backend.idle.append((reader, writer))
            return head + body, close


async def _probe(port: int, timeout: float) -> bool:
    """Whether the replica on ``port`` answers ``/v2/health/ready`` with a 200 within ``timeout``."""
    writer: asyncio.StreamWriter | None = None
    try:
        async with asyncio.timeout(timeout):
            reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=MAX_HEAD)
            writer.write(b"GET /v2/health/ready HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n")
            head = await reader.readuntil(b"\r\n\r\n")
            return head.split(b" ", 2)[1:2] == [b"200"]
    except (OSError, TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError):
        return False
    finally:
        if writer is not None:
            writer.close()


async def drained(backend: Backend, timeout: float) -> bool:
    """Wait until ``backend`` (already out of the rotation) has answered every request in flight."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while backend.in_flight and loop.time() < deadline:
        await asyncio.sleep(0.01)
    backend.close_idle()
    return backend.in_flight == 0
