"""The embedded local platform: the server's ASGI app behind a synchronous httpx transport.

Like MLflow's default local store, a client with no endpoint configured just works: requests go
through the same signing, the same wire bytes and the same server code as over HTTP, only without a
socket. The app runs on an event loop in a daemon thread, because httpx's own ASGITransport is
async-only while the documented API is synchronous (a daemon thread never holds the process open).

The full platform (SQLAlchemy, Starlette) is loaded when a request first needs it: the reads that
``mlp models list`` and ``mlp models show`` make are answered by the platform's quick reads
(:mod:`mlp_server.quick_reads`) while the data folder needs nothing done to it, and a folder that
does (a first start, a migration) opens the full platform at once, as before.

A full platform whose last session closed lingers for ``MLP_EMBEDDED_LINGER`` seconds (default
:data:`DEFAULT_LINGER`; 0 closes it at once), so that a program making a new Model per call reuses it
instead of opening it again for each call. One daemon thread closes lingering platforms when their
time is up (it ends when none is left), :func:`close_idle` closes them at once, and so does the
interpreter's exit. A lingering platform whose data folder was removed or re-created meanwhile (its
folder or database file is no longer the one it opened) is closed, not reused. A forked child starts
with no platform: those of its parent are never used or closed in it, not even by the Models it
inherited (their next request opens the child's own).
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import math
import os
import threading
import time
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import httpx

from .errors import ValidationError

if TYPE_CHECKING:
    import asyncio

    from mlp_server.quick_reads import QuickReads
    from mlp_server.settings import ServerSettings

    from .errors import LocalPlatformError


class _LoopThread:
    """An event loop running in a daemon thread, for the synchronous transport: httpx's own
    ASGITransport is async-only while the documented API is synchronous (a daemon thread never holds
    the process open). Stopped, joined and closed by :meth:`close`."""

    def __init__(self) -> None:
        import asyncio  # only the full platform runs on a loop: quick reads need no asyncio

        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="mlp-embedded", daemon=True)
        self._thread.start()

    def close(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        if self._thread is threading.current_thread():
            return  # closed from a callback on the loop itself: its thread ends as the loop stops
        self._thread.join()
        self.loop.close()


class _FullPlatform:
    """One data folder's full platform in this process, shared by every session that opened it: the
    app, and the loop the synchronous transports run it on (one per platform, not one per Model)."""

    def __init__(self, key: tuple[Path, str], app: Any) -> None:
        self.key = key
        self.app = app
        self.users = 0  # sessions holding it (see EmbeddedPlatform); guarded by _platforms_lock
        self.pinned = False  # opened by embedded_app(): its caller holds it until the process ends
        # When it closes, held by no session (time.monotonic()); None while held. Under _platforms_lock.
        self.linger_until: float | None = None
        self._loop: _LoopThread | None = None
        self._lock = threading.Lock()
        # The data folder and its SQLite file as opened: a path that no longer names the same file
        # (removed, re-created) means a stale platform. The folder's descriptor is held open, so that
        # its inode cannot be reused by a new folder at the same path while this platform is open; the
        # database file's identity is only recorded (its inode is held by the store's own connections):
        # closing a descriptor of it here would drop every POSIX lock this process holds on the file,
        # SQLite's locks of any other platform open on it (a folder moved and opened again at its new
        # path), and another process's last connection would then delete the write-ahead log under it.
        from mlp_server.quick_reads import DATABASE_FILE

        data_dir = key[0]
        self._folder: tuple[Path, int] | None = None
        with contextlib.suppress(OSError):  # not there: stale() then only checks what it could open
            self._folder = (data_dir, os.open(data_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC))
        self._database: tuple[Path, int, int] | None = None
        if app.state.platform.settings.database_url is None:
            with contextlib.suppress(OSError):
                st = os.stat(data_dir / DATABASE_FILE)
                self._database = (data_dir / DATABASE_FILE, st.st_dev, st.st_ino)

    def stale(self) -> bool:
        """Whether the data folder or database file opened is gone or replaced at its path."""
        marks: list[tuple[Path, int, int]] = []
        try:
            if self._folder is not None:
                opened = os.fstat(self._folder[1])
                marks.append((self._folder[0], opened.st_dev, opened.st_ino))
            if self._database is not None:
                marks.append(self._database)
            for path, dev, ino in marks:
                now = os.stat(path)
                if (now.st_dev, now.st_ino) != (dev, ino):
                    return True
        except OSError:
            return True
        return False

    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._loop.loop.is_closed():
                self._loop = _LoopThread()
            return self._loop.loop

    def close(self) -> None:
        from mlp_server.platform import close_embedded_app

        with self._lock:
            loop, self._loop = self._loop, None
        if loop is not None:
            loop.close()
        close_embedded_app(self.app)
        folder, self._folder = self._folder, None
        if folder is not None:
            os.close(folder[1])


class EmbeddedTransport(httpx.BaseTransport):
    """An httpx transport that serves requests with an in-process ASGI app: ``app`` itself (on a loop
    of its own, ended by :meth:`close`), or the embedded platform of ``platform`` (its quick reads
    first, then the full platform on that platform's shared loop)."""

    def __init__(self, app: Any = None, *, platform: EmbeddedPlatform | None = None) -> None:
        if (app is None) == (platform is None):
            raise TypeError("EmbeddedTransport needs an app or a platform")
        self._app = app
        self._platform = platform
        self._asgi: httpx.ASGITransport | None = None
        self._own_loop: _LoopThread | None = None
        self._lock = threading.Lock()

    def _get_loop(self) -> tuple[asyncio.AbstractEventLoop, httpx.ASGITransport]:
        with self._lock:
            if self._platform is not None:
                full = self._platform.full()
                # The platform's app: another after a fork (the child opens its own) or a re-open.
                if self._asgi is None or self._asgi.app is not full.app:
                    self._asgi = httpx.ASGITransport(app=full.app)
                return full.loop(), self._asgi
            if self._asgi is None:
                self._asgi = httpx.ASGITransport(app=self._app)
            if self._own_loop is None or self._own_loop.loop.is_closed():
                self._own_loop = _LoopThread()
                # A transport dropped without close() must not keep its thread for good.
                weakref.finalize(self, self._own_loop.close).atexit = False
            return self._own_loop.loop, self._asgi

    @staticmethod
    async def _handle(
        asgi: httpx.ASGITransport, request: httpx.Request
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        response = await asgi.handle_async_request(request)
        body = await response.aread()
        return response.status_code, response.headers.raw, body

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()  # a byte stream serves both the sync and the async side
        if self._platform is not None:
            quick = self._platform.quick_answer(request)
            if quick is not None:
                return quick
        loop, asgi = self._get_loop()
        import asyncio

        future = asyncio.run_coroutine_threadsafe(self._handle(asgi, request), loop)
        status, headers, body = future.result()
        return httpx.Response(status, headers=headers, content=body, request=request)

    def close(self) -> None:
        with self._lock:
            own, self._own_loop = self._own_loop, None
        if own is not None:
            own.close()
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
        app = self._platform.app
        if self._asgi is None or self._asgi.app is not app:
            self._asgi = httpx.ASGITransport(app=app)
        return await self._asgi.handle_async_request(request)

    async def aclose(self) -> None:
        self._platform.close()


# The full platforms open in this process, by data folder and region. A session holds its folder's
# (EmbeddedPlatform) from its first full-platform request until it is closed or dropped; when the last
# one lets go, the platform lingers (MLP_EMBEDDED_LINGER seconds) for a next session to take up, then
# closes, so a folder used and closed (or removed, or re-created) leaves no thread or open database
# file behind. One long-lived Model keeps it open: its requests pay nothing.
_platforms: dict[tuple[Path, str], _FullPlatform] = {}
# Re-entrant: a session dropped by the garbage collector releases its platform from whatever code the
# collector interrupted, possibly code of this module holding the lock.
_platforms_lock = threading.RLock()
# Wakes the linger thread when a platform starts lingering (or at exit); shares _platforms_lock.
_linger_wakeup = threading.Condition(_platforms_lock)
_linger_thread: threading.Thread | None = None  # closes lingering platforms; ends when none is left
# Platforms a forked child inherited from its parent: never used or closed there (their threads did
# not follow, and their database connections are the parent's), only kept from the collector.
_inherited: list[_FullPlatform] = []
# The sessions of this process, so that a forked child makes those it inherited forget their parent's
# platform and quick-read connection (see _after_fork_in_child).
_sessions: weakref.WeakSet[EmbeddedPlatform] = weakref.WeakSet()
# Quick-read connections a forked child inherited: never used or closed there, kept from the collector.
_inherited_quick: list[QuickReads] = []
_serve_services = True

LINGER_ENV: Final = "MLP_EMBEDDED_LINGER"
DEFAULT_LINGER: Final = 5.0  # seconds
MAX_LINGER: Final = 3600.0

log = logging.getLogger("volcengine_ml_platform")


def linger_seconds() -> float:
    """How long a full platform stays open after its last session closed: ``MLP_EMBEDDED_LINGER``
    seconds, from 0 (closed at once) to :data:`MAX_LINGER`, default :data:`DEFAULT_LINGER`."""
    text = os.environ.get(LINGER_ENV, "").strip()
    if not text:
        return DEFAULT_LINGER
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not 0 <= seconds <= MAX_LINGER:
        raise ValidationError(
            f"{LINGER_ENV}={text!r}: must be a number of seconds from 0 (close the embedded platform "
            f"with its last Model) to {MAX_LINGER:g}",
            field=LINGER_ENV,
        )
    return seconds


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


def _acquire(settings: ServerSettings, *, pin: bool = False) -> _FullPlatform:
    key = (settings.data_dir, settings.region)
    while True:
        with _platforms_lock:
            full = _platforms.get(key)
            if full is not None and full.linger_until is not None and full.stale():
                # Lingering on a data folder removed or re-created since: the folder's new keys are
                # not its own. Closed (outside the lock), and a new platform opened.
                del _platforms[key]
            else:
                if full is None:
                    from mlp_server.platform import build_embedded_app

                    # The embedded platform's data folder is this user's own: its schema is upgraded
                    # in place (logged), as a team server's is only when told (`mlp serve --migrate`).
                    try:
                        app = build_embedded_app(settings, serve_services=_serve_services)
                    except Exception as exc:
                        refusal = _cannot_open(settings.data_dir, exc)
                        if refusal is None:
                            raise
                        raise refusal from exc
                    full = _FullPlatform(key, app)
                    _platforms[key] = full
                full.linger_until = None
                if pin:
                    full.pinned = True
                else:
                    full.users += 1
                return full
        _close(full)


def _cannot_open(data_dir: Path, exc: Exception) -> LocalPlatformError | None:
    """The error that says why the data folder cannot be opened: a damaged file of it, a database this
    release cannot use (a newer release's), or its disk full or read-only (as `mlp serve` says it); None
    for anything else (a bug: raised as it is)."""
    from mlp_server.settings import DataFolderError
    from mlp_server.storage_errors import disk_problem
    from mlp_server.store.migrate import SchemaError

    from .errors import LocalPlatformError

    if isinstance(exc, DataFolderError | SchemaError):
        return LocalPlatformError(f"the embedded platform cannot open {data_dir}: {exc}", data_dir=data_dir)
    problem = disk_problem(exc, data_dir)
    if problem is None:
        return None
    state, cause = problem
    first = (str(getattr(cause, "orig", None) or cause).strip().splitlines() or [""])[0]
    return LocalPlatformError(
        f"the embedded platform cannot start: the disk of its data folder {data_dir} is {state} "
        f"({type(cause).__name__}: {first}); free space or make it writable, then try again",
        data_dir=data_dir,
    )


def _release(full: _FullPlatform, linger: float) -> None:
    """One session lets go of ``full``: the last closes it after ``linger`` seconds, unless it runs work
    that lives as long as the process (deployed services it serves, perf workers) or embedded_app()
    handed it out."""
    from mlp_server.platform import embedded_runs_work

    with _platforms_lock:
        full.users -= 1
        if full.users > 0 or full.pinned or _platforms.get(full.key) is not full:
            return
        if embedded_runs_work(full.app):
            return
        if linger > 0:
            full.linger_until = time.monotonic() + linger
            _wake_linger_thread()
            return
        del _platforms[full.key]
    _close(full)


def _close(full: _FullPlatform) -> None:
    if threading.current_thread().name.startswith("mlp-"):
        # Dropped while the garbage collector ran on one of the platform's own threads (its writer,
        # its loop): a thread cannot join itself, so another closes it.
        threading.Thread(target=full.close, name="embedded-close", daemon=True).start()
    else:
        full.close()


def _take_lingering(until: float) -> list[_FullPlatform]:
    """Remove and return the platforms whose linger ends by ``until``. Under _platforms_lock."""
    # Over a copy (made before any Python code runs): the collector may drop a session while this loops,
    # and its release (re-entering the lock, on this thread) may remove a platform from the dict.
    due = [f for f in _platforms.copy().values() if f.linger_until is not None and f.linger_until <= until]
    for full in due:
        del _platforms[full.key]
    return due


def _wake_linger_thread() -> None:
    """Start the linger thread, or wake it for a new deadline. Under _platforms_lock."""
    global _linger_thread
    if _linger_thread is None:
        _linger_thread = threading.Thread(target=_linger, name="embedded-linger", daemon=True)
        _linger_thread.start()
    else:
        _linger_wakeup.notify()


def _linger() -> None:
    """The linger thread: closes each lingering platform when its time is up; ends when none lingers
    (a daemon: it never holds the interpreter open)."""
    global _linger_thread
    while True:
        with _platforms_lock:
            due = _take_lingering(time.monotonic())
            if not due:
                waits = [f.linger_until for f in _platforms.copy().values() if f.linger_until is not None]
                if not waits:
                    _linger_thread = None
                    return
                _linger_wakeup.wait(max(0.0, min(waits) - time.monotonic()))
                continue
        for full in due:
            try:
                full.close()
            except Exception:
                log.warning("could not close the embedded platform of %s", full.key[0], exc_info=True)


def close_idle() -> None:
    """Close every embedded platform that no session holds now (those lingering), at once."""
    with _platforms_lock:
        due = _take_lingering(math.inf)
        thread = _linger_thread
        _linger_wakeup.notify()
    for full in due:
        _close(full)
    if thread is not None and thread is not threading.current_thread():
        thread.join(timeout=30)  # it ends, nothing lingering; or finishes the close it is making


atexit.register(close_idle)


def _after_fork_in_child() -> None:
    """A forked child has none of its parent's threads: it starts with no platform and fresh locks."""
    global _platforms_lock, _linger_wakeup, _linger_thread
    _inherited.extend(_platforms.values())
    _platforms.clear()
    for session in list(_sessions):
        session._forget_parent()
    _platforms_lock = threading.RLock()
    _linger_wakeup = threading.Condition(_platforms_lock)
    _linger_thread = None


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_after_fork_in_child)


def embedded_app(data_dir: Path, region: str | None = None) -> Any:
    """The local platform's app for ``data_dir``, opened once per process and shared (and kept open
    until the process ends). ``region``: the region it serves, the client's own (the platform checks
    the credential scope's region). Its perf worker process starts on the first perf work."""
    return _acquire(_settings(data_dir, region), pin=True).app


class EmbeddedPlatform:
    """The local platform of one data folder, opened as far as the requests so far needed it.

    Made by a session: a folder that opening would change (created, migrated, bootstrapped) is opened
    fully at once, so that its keys exist before the session reads them; any other is read quickly
    until a request needs more. Once the full platform is open in this process it answers everything.
    :meth:`close` (or the garbage collector, for one dropped unclosed) lets go of the full platform.
    """

    def __init__(self, data_dir: Path, region: str | None = None) -> None:
        from mlp_server.quick_reads import open_quick

        self._linger = linger_seconds()  # a bad value is refused before anything is opened
        self.settings = _settings(data_dir, region)
        self._key = (self.settings.data_dir, self.settings.region)
        self._full: _FullPlatform | None = None
        self._release: weakref.finalize[[_FullPlatform, float], EmbeddedPlatform] | None = None
        self._full_lock = threading.Lock()
        self._quick: QuickReads | None = None if self._key in _platforms else open_quick(self.settings)
        _sessions.add(self)
        if self._quick is None:
            self.full()

    def _forget_parent(self) -> None:
        """In a forked child: what this session holds is its parent's (a platform whose threads did not
        follow the fork, an SQLite connection that must not cross it); it is neither used nor released
        here, and the session's next request opens the child's own platform."""
        self._full_lock = threading.Lock()  # perhaps held by a thread of the parent as it forked
        if self._release is not None:
            self._release.detach()
        self._full, self._release = None, None
        if self._quick is not None:
            _inherited_quick.append(self._quick)
        self._quick = None

    def full(self) -> _FullPlatform:
        """The full platform, held by this session from now until it is closed."""
        with self._full_lock:
            if self._full is None:
                full = _acquire(self.settings)
                self._full = full
                self._release = weakref.finalize(self, _release, full, self._linger)
                self._release.atexit = False  # the process is ending: its exit hooks stop the rest
            return self._full

    @property
    def app(self) -> Any:
        """The full platform's app (opened now if it is not yet)."""
        return self.full().app

    @property
    def quick(self) -> bool:
        """Whether requests are tried on the quick reads first."""
        return self._quick is not None and self._key not in _platforms

    def close(self) -> None:
        """Close the quick reads' database connection and let go of the full platform (closed when
        no other session holds it). A later request opens what it needs again; closing twice lets go
        once."""
        quick, self._quick = self._quick, None
        if quick is not None:
            quick.close()
        with self._full_lock:
            release, self._release, self._full = self._release, None, None
        if release is not None:
            release()

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
