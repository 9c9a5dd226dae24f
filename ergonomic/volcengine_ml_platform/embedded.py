"""The embedded local platform: the server's ASGI app behind a synchronous httpx transport.

Like MLflow's default local store, a client with no endpoint configured just works: requests go
through the same signing, the same wire bytes and the same server code as over HTTP, only without a
socket. The app runs on an event loop in a daemon thread, because httpx's own ASGITransport is
async-only while the documented API is synchronous (a daemon thread never holds the process open).
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from typing import Any

import httpx


class EmbeddedTransport(httpx.BaseTransport):
    """An httpx transport that serves requests with an in-process ASGI app."""

    def __init__(self, app: Any) -> None:
        self._asgi = httpx.ASGITransport(app=app)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def _get_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="mlp-embedded", daemon=True).start()
                self._loop = loop
            return self._loop

    async def _handle(self, request: httpx.Request) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        response = await self._asgi.handle_async_request(request)
        body = await response.aread()
        return response.status_code, response.headers.raw, body

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()  # a byte stream serves both the sync and the async side
        future = asyncio.run_coroutine_threadsafe(self._handle(request), self._get_loop())
        status, headers, body = future.result()
        return httpx.Response(status, headers=headers, content=body, request=request)

    def close(self) -> None:
        with self._lock:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.call_soon_threadsafe(self._loop.stop)
            self._loop = None


_platforms: dict[tuple[Path, str], Any] = {}
_platforms_lock = threading.Lock()
_serve_services = True


def serve_services(on: bool) -> None:
    """Whether this process serves the deployed services of the embedded platforms it opens from now
    on (default: yes, from the first service action until it exits). The ``mlp`` command says no: it
    ends within the second, so it only records what it is told, and `mlp serve` serves."""
    global _serve_services
    _serve_services = on


def embedded_app(data_dir: Path, region: str | None = None) -> Any:
    """The local platform's app for ``data_dir``, opened once per process and shared. ``region``: the
    region it serves, the client's own (the platform checks the credential scope's region). Its perf
    worker process starts on the first perf work."""
    from mlp_server.platform import build_embedded_app
    from mlp_server.settings import ServerSettings

    path = data_dir.expanduser().resolve()
    overrides: dict[str, object] = {"region": region} if region else {}
    settings = ServerSettings.from_env(path, migrate=True, **overrides)
    key = (path, settings.region)
    with _platforms_lock:
        if key not in _platforms:
            # The embedded platform's data folder is this user's own: its schema is upgraded in place
            # (logged), as a team server's is only when told (`mlp serve --migrate`).
            _platforms[key] = build_embedded_app(settings, serve_services=_serve_services)
        return _platforms[key]
