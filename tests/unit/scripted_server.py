"""An HTTP/1.1 server on a loopback socket (port 0) that writes whatever bytes a test scripts: the answers
a real server, proxy or load balancer may give that the platform never does (a connection dropped
mid-body, gzip, chunked, no Content-Length, a 1xx first, a redirect)."""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType


@dataclass(frozen=True)
class Seen:
    """One request as it arrived: its request line, its headers in order (names lower-cased), its body."""

    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k == name), None)


# The bytes to write for a request, and whether to close the connection after them.
Script = Callable[[Seen], tuple[bytes, bool]]


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    block_on_close = False  # a kept-alive connection's thread waits on its next request
    allow_reuse_address = True

    def __init__(self, script: Script) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.script = script
        self.seen: list[Seen] = []
        self.connections = 0


class _Handler(socketserver.StreamRequestHandler):
    server: _Server

    def handle(self) -> None:
        self.server.connections += 1
        while True:
            line = self.rfile.readline()
            if not line.strip():
                return  # the client closed its connection
            method, target, _ = line.decode("latin-1").split(" ", 2)
            headers: list[tuple[str, str]] = []
            while (field := self.rfile.readline()) not in (b"\r\n", b"\n", b""):
                name, _, value = field.decode("latin-1").partition(":")
                headers.append((name.strip().lower(), value.strip()))
            length = int(next((v for k, v in headers if k == "content-length"), "0"))
            seen = Seen(method, target, tuple(headers), self.rfile.read(length))
            self.server.seen.append(seen)
            raw, close = self.server.script(seen)
            self.wfile.write(raw)
            self.wfile.flush()
            if close:
                return  # socketserver shuts the socket down: the client reads EOF


class ScriptedServer:
    """``with ScriptedServer(script) as server:`` serves ``server.url`` until the block ends."""

    def __init__(self, script: Script) -> None:
        self._server = _Server(script)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,), daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    @property
    def seen(self) -> list[Seen]:
        return self._server.seen

    @property
    def connections(self) -> int:
        return self._server.connections

    def __enter__(self) -> ScriptedServer:
        self._thread.start()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
