"""Raw HTTP/1.1 over a loopback socket: what a hostile or stalled client does that httpx will not
(send headers and part of a body, keep sending while reading the answer, stop half-way)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from mlp_testing import REGION, Keys
from volcengine_ml_platform.signing import sign

MiB = 1024 * 1024


def zeros(total: int, chunk: int = MiB) -> Iterator[bytes]:
    """``total`` bytes in chunks, made on the fly (a 1 GB body never exists in the test's memory)."""
    block = b"0" * chunk
    sent = 0
    while sent < total:
        piece = block[: min(chunk, total - sent)]
        sent += len(piece)
        yield piece


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    closed: bool  # the server closed the connection after the answer

    def json(self) -> Any:
        return json.loads(self.body)

    def error_code(self) -> str:
        code: str = self.json()["ResponseMetadata"]["Error"]["Code"]
        return code


@dataclass
class RawRequest:
    url: str
    target: str
    headers: dict[str, str]
    sent: int = 0
    send_error: BaseException | None = None
    _sock: socket.socket | None = field(default=None, repr=False)

    def open(self) -> socket.socket:
        parts = urlsplit(self.url)
        sock = socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 80), timeout=60)
        head = f"POST {self.target} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in self.headers.items()) + "\r\n"
        sock.sendall(head.encode("latin-1"))
        self._sock = sock
        return sock

    def send_in_background(self, body: Iterable[bytes], *, chunked: bool) -> threading.Thread:
        """Send ``body`` from a thread until done or the server stops listening (counted in ``sent``)."""
        assert self._sock is not None

        def pump() -> None:
            assert self._sock is not None
            try:
                for piece in body:
                    self._sock.sendall(b"%x\r\n%s\r\n" % (len(piece), piece) if chunked else piece)
                    self.sent += len(piece)
                if chunked:
                    self._sock.sendall(b"0\r\n\r\n")
            except OSError as exc:
                self.send_error = exc

        thread = threading.Thread(target=pump, daemon=True)
        thread.start()
        return thread

    def send_request(self, target: str, headers: dict[str, str], body: bytes) -> None:
        """Another whole request on the same connection (keep-alive)."""
        assert self._sock is not None
        netloc = urlsplit(self.url).netloc
        head = f"POST {target} HTTP/1.1\r\nHost: {netloc}\r\nContent-Length: {len(body)}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        self._sock.sendall(head.encode("latin-1") + body)

    def send(self, data: bytes) -> None:
        assert self._sock is not None
        self._sock.sendall(data)
        self.sent += len(data)

    def answer(self, timeout: float = 30.0, *, probe_close: bool = True) -> Answer:
        """Read one response (Content-Length framed, as the platform answers), then whether the
        connection is closed (a connection still open after ``timeout`` counts as closed; without
        ``probe_close`` it is not checked and ``closed`` is False)."""
        assert self._sock is not None
        sock = self._sock
        sock.settimeout(timeout)
        data = b""
        while b"\r\n\r\n" not in data:
            piece = sock.recv(65536)
            if not piece:
                raise ConnectionError(f"closed before an answer: {data!r}")
            data += piece
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {k.strip().lower(): v.strip() for k, v in (line.split(":", 1) for line in lines[1:])}
        length = int(headers.get("content-length", "0"))
        while len(rest) < length:
            piece = sock.recv(65536)
            if not piece:
                break
            rest += piece
        if not probe_close:
            return Answer(status, headers, rest[:length], False)
        try:
            closed = sock.recv(1) == b""
        except (ConnectionResetError, TimeoutError):
            closed = True
        return Answer(status, headers, rest[:length], closed)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()


def signed_headers(
    url: str, keys: Keys, target: str, body_hash_of: bytes = b"{}", region: str = REGION
) -> dict[str, str]:
    """Authorization and friends for a POST to ``target`` (signed over ``body_hash_of``)."""
    parts = urlsplit(url)
    path, _, query = target.partition("?")
    pairs = [tuple(p.split("=", 1)) for p in query.split("&") if p]
    result = sign(
        "POST",
        path,
        [(k, v) for k, v in pairs],
        {"Host": parts.netloc, "Content-Type": "application/json"},
        body_hash_of,
        access_key=keys.ak,
        secret_key=keys.sk,
        region=region,
        service="ml_platform",
        x_date=datetime.now(UTC),
    )
    return {"Content-Type": "application/json", **result.headers}
