"""The embedded local platform: the server's ASGI app behind a synchronous httpx transport.

Like MLflow's default local store, a client with no endpoint configured just works: requests go
through the same signing, the same wire bytes and the same server code as over HTTP, only without a
socket. The app runs on an event loop in a daemon thread, because httpx's own ASGITransport is
async-only while the documented API is synchronous (a daemon thread never holds the process open).

The full platform (SQLAlchemy, Starlette) is loaded when a request first needs it: the reads that
``mlp models list`` and ``mlp models show`` make are answered by the platform's quick reads
(:mod:`mlp_server.quick_reads`) while the data folder needs nothing done to it, and a folder that
does (a first start, a migration) opens the full platform at once, as before.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

if TYPE_CHECKING:
    import asyncio

    from mlp_server.quick_reads import QuickReads
    from mlp_server.settings import ServerSettings


class EmbeddedTransport(httpx.BaseTransport):
    """An httpx transport that serves requests with an in-process ASGI app: ``app`` itself, or the
    embedded platform of ``platform`` (its quick reads first)."""

    def __init__(self, app: Any = None, *, platform: EmbeddedPlatform | None = None) -> None:
        if (app is None) == (platform is None):
            raise TypeError("EmbeddedTransport needs an app or a platform")
        self._app = app
        self._platform = platform
        self._asgi: httpx.ASGITransport | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Lock()

    def _get_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._asgi is None:
                app = self._app if self._platform is None else self._platform.app
                self._asgi = httpx.ASGITransport(app=app)
            if self._loop is None or self._loop.is_closed():
                import asyncio  # only the full platform runs on a loop: quick reads need no asyncio

                loop = asyncio.new_event_loop()
                threading.Thread(target=loop.run_forever, name="mlp-embedded", daemon=True).start()
                self._loop = loop
            return self._loop

    async def _handle(self, request: httpx.Request) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        assert self._asgi is not None
        response = await self._asgi.handle_async_request(request)
        body = await response.aread()
        return response.status_code, response.headers.raw, body

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()  # a byte stream serves both the sync and the async side
        if self._platform is not None:
            quick = self._platform.quick_answer(request)
            if quick is not None:
                return quick
        loop = self._get_loop()
        import asyncio

        future = asyncio.run_coroutine_threadsafe(self._handle(request), loop)
        status, headers, body = future.result()
        return httpx.Response(status, headers=headers, content=body, request=request)

    def close(self) -> None:
        with self._lock:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.call_soon_threadsafe(self._loop.stop)
            self._loop = None
        if self._platform is not None:
            self._platform.close()


class EmbeddedAsyncTransport(httpx.AsyncBaseTransport):
    """The asyncio twin of :class:`EmbeddedTransport`: the quick reads first (a few milliseconds of
    SQLite on the caller's loop, as the sync side spends them on its thread), else the full platform
    through httpx's ASGI transport on the caller's loop, opened when a request first needs it."""

    def __init__(self, platform: EmbeddedPlatform) -> None:
        self._platform = platform
        self._asgi: httpx.ASGITransport | None = None

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        quick = self._platform.quick_answer(request)
        if quick is not None:
            return quick
        if self._asgi is None:
            self._asgi = httpx.ASGITransport(app=self._platform.app)
        return await self._asgi.handle_async_request(request)

    async def aclose(self) -> None:
        self._platform.close()


_platforms: dict[tuple[Path, str], Any] = {}
_platforms_lock = threading.Lock()
_serve_services = True


def serve_services(on: bool) -> None:
    """Whether this process serves the deployed services of the embedded platforms it opens from now
    on (default: yes, from the first service action until it exits). The ``mlp`` command says no: it
    ends within the second, so it only records what it is told, and `mlp serve` serves."""
    global _serve_services
    _serve_services = on


def _settings(data_dir: Path, region: str | None) -> ServerSettings:
    from mlp_server.settings import ServerSettings

    overrides: dict[str, object] = {"region": region} if region else {}
    return ServerSettings.from_env(data_dir.expanduser().resolve(), migrate=True, **overrides)


def _app_for(settings: ServerSettings) -> Any:
    key = (settings.data_dir, settings.region)
    with _platforms_lock:
        if key not in _platforms:
            from mlp_server.platform import build_embedded_app

            # The embedded platform's data folder is this user's own: its schema is upgraded in place
            # (logged), as a team server's is only when told (`mlp serve --migrate`).
            _platforms[key] = build_embedded_app(settings, serve_services=_serve_services)
        return _platforms[key]


def embedded_app(data_dir: Path, region: str | None = None) -> Any:
    """The local platform's app for ``data_dir``, opened once per process and shared. ``region``: the
    region it serves, the client's own (the platform checks the credential scope's region). Its perf
    worker process starts on the first perf work."""
    return _app_for(_settings(data_dir, region))


class EmbeddedPlatform:
    """The local platform of one data folder, opened as far as the requests so far needed it.

    Made by a session: a folder that opening would change (created, migrated, bootstrapped) is opened
    fully at once, so that its keys exist before the session reads them; any other is read quickly
    until a request needs more. Once the full platform is open in this process it answers everything.
    """

    def __init__(self, data_dir: Path, region: str | None = None) -> None:
        from mlp_server.quick_reads import open_quick

        self.settings = _settings(data_dir, region)
        self._key = (self.settings.data_dir, self.settings.region)
        self._quick: QuickReads | None = None if self._key in _platforms else open_quick(self.settings)
        if self._quick is None:
            _app_for(self.settings)

    @property
    def app(self) -> Any:
        """The full platform's app (opened now if it is not yet)."""
        return _app_for(self.settings)

    @property
    def quick(self) -> bool:
        """Whether requests are tried on the quick reads first."""
        return self._quick is not None and self._key not in _platforms

    def close(self) -> None:
        """Close the quick reads' database connection (a later request goes to the full platform)."""
        if self._quick is not None:
            self._quick.close()

    def quick_answer(self, request: httpx.Request) -> httpx.Response | None:
        """The quick reads' answer to ``request``, or None: the full platform must answer it."""
        if self._quick is None or self._key in _platforms:
            return None
        return answer_quickly(self._quick, request)


def answer_quickly(quick: QuickReads, request: httpx.Request) -> httpx.Response | None:
    """``quick``'s answer to ``request`` (its body read), or None where it declines."""
    found = quick.answer(
        request.method,
        request.url.raw_path.split(b"?")[0],
        request.url.query,
        [(k.lower(), v) for k, v in request.headers.raw],
        request.content,
    )
    if found is None:
        return None
    return httpx.Response(found.status, headers=found.headers, content=found.body, request=request)
