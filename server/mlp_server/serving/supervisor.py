"""The serving supervisor: replica processes for every live service, and their endpoints.

One thread reads the service records and hands each live service to its own runtime thread, which
downloads the version (cached), keeps the endpoint proxy listening, starts ``Replicas`` replica
processes, admits them to the proxy once they answer ``/v2/health/ready``, restarts the ones that
exit (with backoff), drains and stops the extra ones, and writes the status it observed. One event
loop thread runs every proxy. Only one supervisor per data folder manages services (a file lock):
a second process on the same folder leaves them alone. On PostgreSQL, where several servers on
several machines share one database, one supervisor of them all does (a session advisory lock,
checked every second: see ``db_lock``); another takes over at its next service action once the owner
is gone. An owner that finds its lock lost (its session ended) stops every replica at once and goes
back to asking for the lock, as the other servers do.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import fcntl
import json
import logging
import os
import shutil
import threading
import time
import warnings
from collections.abc import Coroutine
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import httpx

from volcengine_ml_platform.errors import ServingStoppedWarning, TransferError
from volcengine_ml_platform.transfer.base import ObjectStore

from ..procs import Backoff, ChildProcess, close_at_exit, describe_exit, last_line
from ..storage_errors import DATABASE_ERRORS, database_trouble
from ..store import Store
from ..store.group_commit import StoreClosedError
from ..store.resources import CATALOGUE
from ..store.services import (
    DEPLOYING,
    FAILED,
    LIVE,
    PENDING,
    RUNNING,
    STOPPED,
    STOPPING,
    ServingRow,
    reserved_env,
)
from .db_lock import LOCK_CHECK_SECONDS, TAKEOVER_GRACE_SECONDS, ServingLock
from .endpoints import Endpoints
from .files import ModelLoadError, VersionCache, find_onnx
from .lease import clear_holder, lock_path, write_holder
from .proxy import PROBE_EVERY, PROBE_TIMEOUT, Backend, ServiceProxy, drained
from .replica_files import remove, remove_blocks, remove_service_files, replica_files

log = logging.getLogger("mlp_server.serving")

T = TypeVar("T")
REPLICA_MODULE = "mlp_server.serving"
IDLE_LOOK_SECONDS = 2.0
TAKEOVER_LOOK_SECONDS = 5.0  # how often a server that does not serve asks whether the owner is gone
CLOSE_WAIT_SECONDS = 60.0  # how long a second close() waits for the one in progress
FLAVORS = {f.id: f for group in CATALOGUE.values() for f in group}
STORE_RETRY_CAP = 5.0  # the longest a runtime waits before it asks an unreachable database again


@dataclass
class Timing:
    tick: float = 0.1  # how often a runtime looks at its replicas
    start_timeout: float = 60.0  # a replica not ready by then is a failed start
    stable_after: float = 10.0  # a replica ready this long before it died starts a new failure count
    drain_timeout: float = 30.0
    stop_grace: float = 10.0
    probe_every: float = PROBE_EVERY  # how often the proxy asks each admitted replica /v2/health/ready
    probe_timeout: float = PROBE_TIMEOUT
    # Failed probes in a row after which a replica is killed and restarted. One failure already takes
    # it out of the rotation; a restart waits longer, for a replica whose loop is only busy a while
    # (e.g. parsing a very large JSON request).
    probe_restart_after: int = 10


class LoopGone(Exception):
    """The proxies' loop stopped (the supervisor ended its term) while a runtime still needed it."""


# How often a runtime waiting on the proxies' loop looks whether that loop still runs.
LOOP_LOOK_SECONDS = 0.5


class LeaseLostError(Exception):
    """This supervisor no longer owns the services (its database lock is gone): it writes nothing."""


class Replica:
    def __init__(self, index: int, child: ChildProcess, hello: Path, log_path: Path) -> None:
        self.index = index  # its log and hello files are named after it; unique among live replicas
        self.child = child
        self.hello = hello
        self.log_path = log_path
        self.started = time.monotonic()
        self.port: int | None = None
        self.providers: list[str] = []
        self.backend: Backend | None = None
        self.ready_since: float | None = None

    def read_hello(self) -> None:
        """The file the replica writes once it listens: its port and onnxruntime providers."""
        if self.port is None and self.hello.exists():
            hello = json.loads(self.hello.read_text(encoding="utf-8"))
            self.port, self.providers = int(hello["port"]), list(hello["providers"])

    def remove_blocks(self) -> None:
        """Its shared memory blocks, once it has ended and been reaped: a replica killed (SIGKILL to
        its group: its resource tracker too) leaves the one it kept, up to 64 MB of memory each."""
        pid = self.child.pid
        if pid is not None and self.child.poll() is not None:
            remove_blocks(pid)

    def failure_reason(self) -> str:
        code = self.child.poll()
        how = describe_exit(code) if code is not None else "no exit status"
        last = last_line(self.log_path)
        return f"{how}: {last}" if last else how


def stopped_message(count: int, data_dir: Path) -> str:
    return (
        f"stopped serving {count} service(s) of {data_dir} as this process ended: they read Pending "
        f"until a platform process serves them again (`mlp serve --data-dir {data_dir}`)"
    )


def warn_stopped(message: str) -> None:
    """Say that this process stopped serving, where a library user sees it without configuring
    logging (the library's loggers have only a NullHandler)."""
    warnings.warn(message, ServingStoppedWarning, stacklevel=2)


class ServingSupervisor:
    def __init__(
        self,
        store: Store,
        objects: ObjectStore,
        data_dir: Path,
        *,
        backoff: Backoff | None = None,
        timing: Timing | None = None,
        endpoints: Endpoints | None = None,
    ) -> None:
        self.store = store
        self.dir = data_dir / "serving"
        self.cache = VersionCache(self.dir / "versions", objects)
        self.backoff = backoff or Backoff()
        self.timing = timing or Timing()
        self.endpoints = endpoints or Endpoints()
        self._runtimes: dict[str, ServiceRuntime] = {}
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._started = False
        self.closed = False
        self._close_done = threading.Event()  # set once close() has released everything
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock_file: int | None = None
        self._db_lock: ServingLock | None = None
        self._term_over = threading.Event()  # set when this term of ownership ends (closed or lost)
        self._teardown_lock = threading.Lock()

    # --- life cycle ---

    def ensure_started(self) -> bool:
        """Start managing services (once); False while another process on this data folder (or, on
        PostgreSQL, on this database) does. Asked again at each service action, so a process takes
        over once the owner is gone."""
        with self._lock:
            if self._started:
                return self._thread is not None and not self.closed
            if self.closed:
                return False
            self.dir.mkdir(parents=True, exist_ok=True)
            fd = os.open(lock_path(self.dir.parent), os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                log.info("another platform process serves the services of %s", self.dir.parent)
                return False
            db_lock = None
            if self.store.dialect == "postgresql":
                try:
                    db_lock = ServingLock.try_take(self.store.engine.url)
                except Exception:
                    os.close(fd)
                    raise
                if db_lock is None:
                    os.close(fd)
                    log.info("another platform process on this database serves the services")
                    return False
            self._started = True
            self._lock_file = fd
            self._db_lock = db_lock
            term_over = self._term_over = threading.Event()
            write_holder(fd)  # readers in other processes can now tell that the services are served
            if db_lock is not None:
                # Checked from now on: the database ends the lock's session once it idles for
                # LOCK_IDLE_SECONDS, however long what follows takes (a loss found meanwhile is handled
                # once this start has finished: ``_lose`` waits for ``self._lock``).
                threading.Thread(
                    target=self._watch_lock,
                    args=(db_lock, term_over),
                    name="mlp-serving-lock-watch",
                    daemon=True,
                ).start()
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="mlp-serving-proxy", daemon=True).start()
            self._loop = loop
            try:
                self._bring_back()
            except Exception:  # the loop's first look corrects the records (see ``_serve``)
                log.exception("serving supervisor: cannot mark the live services Deploying")
            self._thread = threading.Thread(
                target=self._run, args=(term_over,), name="mlp-serving", daemon=True
            )
            self._thread.start()
            close_at_exit(self)
            return True

    def _bring_back(self) -> None:
        """Services that were live when their last supervisor ended are brought back here:
        Deploying until ready, with no endpoint until this process listens on it."""
        for row in self.store.serving_rows():
            if row.status in (RUNNING, DEPLOYING):
                self.store.service_transition(
                    row.service_id, [RUNNING, DEPLOYING], DEPLOYING, endpoint_url=""
                )

    def _watch_lock(self, db_lock: ServingLock, term_over: threading.Event) -> None:
        """PostgreSQL: check the lock every LOCK_CHECK_SECONDS; once it is lost, give the services up."""
        while not term_over.wait(LOCK_CHECK_SECONDS):
            if db_lock.held() or term_over.is_set():
                continue
            # The session may have ended while the lock stayed free (the database's idle_session_timeout
            # after this process stalled, a restart): no other server holds it then, and none started
            # replicas (they wait TAKEOVER_GRACE_SECONDS holding it), so it is taken again and the
            # replicas go on. Else (another server has it, or this one's old session still does) lost.
            again = ServingLock.take_again(self.store.engine.url)
            if again is not None:
                with self._teardown_lock:
                    kept = self._db_lock is db_lock and not term_over.is_set()
                    if kept:
                        self._db_lock = again
                if not kept:  # closed meanwhile
                    again.release()
                    return
                log.warning(
                    "serving: the lock's database session ended and nobody else took the lock: taken "
                    "again on a new session, the replicas go on"
                )
                threading.Thread(target=db_lock.release, name="mlp-serving-lock-release", daemon=True).start()
                db_lock = again
                continue
            log.error(
                "serving: this server lost its lock on the database (its session ended): stopping every "
                "replica now; it takes the services over again once no other server holds the lock"
            )
            self._lose(term_over)
            return

    def _lose(self, term_over: threading.Event) -> None:
        """Give up ownership at once: replicas killed (no drain), endpoints closed, nothing recorded
        (the records are the next owner's), the leases released; then ask for the lock again."""
        with self._lock:
            if self.closed or term_over.is_set() or term_over is not self._term_over:
                return
            term_over.set()
            runtimes = list(self._runtimes.values())
            self._runtimes.clear()
        for runtime in runtimes:
            runtime.abandon()
        self._end_term(runtimes)
        with self._lock:
            self._started = False
            self._thread = None
        if not self.closed:
            self.keep_trying()

    def keep_trying(self, interval: float = TAKEOVER_LOOK_SECONDS) -> None:
        """While another process serves the services, look every ``interval`` seconds whether it is
        gone, and take them over then (``mlp serve``: without waiting for a service request)."""

        def run() -> None:
            while not self.closed:
                try:
                    if self.ensure_started():
                        return
                except Exception as exc:  # the database is down (e.g. restarting): ask again later
                    log.warning("serving: cannot ask for the services' lock now: %s", exc)
                self._wake.wait(interval)

        threading.Thread(target=run, name="mlp-serving-takeover", daemon=True).start()

    def poke(self) -> None:
        """Look at the records now (after a service action)."""
        if self.ensure_started():
            self._wake.set()

    def forget(self, service_id: str, timeout: float = 60.0) -> None:
        """After DeleteService: wait until the service's replicas are stopped and its port is free."""
        self.poke()
        with self._lock:
            runtime = self._runtimes.get(service_id)
        if runtime is not None:
            runtime.update(None)
            runtime.join(timeout)

    def close(self, *, exiting: bool = False) -> None:
        """Stop every replica and endpoint (the records keep their status, to be brought back).
        ``exiting``: the process is ending without having closed it (a Python program on the embedded
        platform), so what stopped is said as a :class:`ServingStoppedWarning` (which a program sees
        without configuring logging) instead of a log record."""
        with self._lock:
            closing = self.closed
            self.closed = True
            self._term_over.set()
            runtimes = list(self._runtimes.values())
        if closing:
            # Closed already, or closing in another thread (the supervisor's own, when its store was
            # closed): return once that is done, so that a caller finds the lease released.
            self._close_done.wait(CLOSE_WAIT_SECONDS)
            return
        self._wake.set()
        serving = sum(1 for runtime in runtimes if runtime.serves())  # not those deleted or stopping
        stopped = stopped_message(serving, self.dir.parent) if serving else None
        if stopped is not None and not exiting:  # `mlp serve` ending: its log is where it is read
            log.warning("%s", stopped)
        self._end_term(runtimes)
        self._close_done.set()
        if stopped is not None and exiting:
            # Last, once everything is stopped: under `-W error` the warning is raised instead.
            warn_stopped(stopped)

    def _end_term(self, runtimes: list[ServiceRuntime]) -> None:
        """Stop ``runtimes`` (replicas and endpoints; records left as they are), the proxies' loop,
        and release the leases. Safe to run twice (a close during a loss)."""
        for runtime in runtimes:
            runtime.update(None)
        for runtime in runtimes:
            runtime.join(self.timing.drain_timeout + self.timing.stop_grace + 5)
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(5)
        with self._teardown_lock:
            loop, self._loop = self._loop, None
            if loop is not None:
                loop.call_soon_threadsafe(loop.stop)
            if self._lock_file is not None:
                clear_holder(self._lock_file)
                os.close(self._lock_file)
                self._lock_file = None
            if self._db_lock is not None:
                db_lock, self._db_lock = self._db_lock, None
                db_lock.release()

    @property
    def serving(self) -> bool:
        """This process holds the lease and serves the services (its loop has not ended)."""
        thread = self._thread
        return thread is not None and thread.is_alive() and not self.closed and not self._term_over.is_set()

    @property
    def exiting(self) -> bool:
        """Closed, or the interpreter is shutting down (the main thread has ended)."""
        return self.closed or not threading.main_thread().is_alive()

    def run(self, coro: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
        """Run ``coro`` on the proxies' loop and wait for it."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    # --- the records ---

    def _run(self, term_over: threading.Event) -> None:
        if self._db_lock is not None:
            # A previous owner whose session just ended may not have noticed yet: it stops its
            # replicas within LOCK_CHECK_SECONDS + LOCK_CHECK_TIMEOUT + LOCK_TAKE_AGAIN_TIMEOUT. Start
            # none before that.
            if term_over.wait(TAKEOVER_GRACE_SECONDS):
                return
            try:
                self._bring_back()  # what that owner may have written meanwhile
            except Exception:
                log.exception("serving supervisor: cannot read the services")
        while not self.closed and not term_over.is_set():
            if self.store.closed:
                # The platform closed its store without closing serving first (a program that shut
                # its platform down piecemeal): close as :meth:`close` does (replicas stopped, records
                # left as they are, the lease released for another process), rather than start the
                # services again and again with nowhere to record them.
                log.info("serving supervisor: the store is closed; closing serving")
                self.close()
                return
            try:
                self._reconcile(term_over)
            except DATABASE_ERRORS as exc:  # the database down or restarting: the next look retries
                log.warning("serving supervisor: cannot read the services: %s", database_trouble(exc))
            except Exception:
                log.exception("serving supervisor: cannot read the services")
            with self._lock:
                busy = bool(self._runtimes)
            # Idle, it still looks now and then: another process (an `mlp` command on this folder,
            # another server of a team) may have created or started a service.
            self._wake.wait(0.5 if busy else IDLE_LOOK_SECONDS)
            self._wake.clear()

    def _reconcile(self, term_over: threading.Event) -> None:
        rows = {row.service_id: row for row in self.store.serving_rows()}
        with self._lock:
            if self.closed or term_over.is_set():
                return
            for service_id, runtime in list(self._runtimes.items()):
                if not runtime.alive():
                    del self._runtimes[service_id]
            for service_id, row in rows.items():
                existing = self._runtimes.get(service_id)
                if existing is not None:
                    existing.update(row)
                elif row.status in (*LIVE, STOPPING):
                    self._runtimes[service_id] = ServiceRuntime(self, row)
            for service_id, runtime in self._runtimes.items():
                if service_id not in rows:
                    runtime.update(None)  # deleted


class ServiceRuntime:
    """The replicas and endpoint of one service, driven by its record in a thread of its own."""

    def __init__(self, supervisor: ServingSupervisor, row: ServingRow) -> None:
        self.sup = supervisor
        self.store = supervisor.store
        self.loop = supervisor._loop  # this term's; a runtime never outlives it
        self.service_id = row.service_id
        self._row: ServingRow | None = row
        self._abandoned = False  # the supervisor lost ownership: stop at once, write nothing
        self._wake = threading.Event()
        self.replicas: list[Replica] = []
        self.proxy: ServiceProxy | None = None
        self.failures = 0
        self.next_start = 0.0
        self.ever_ready = False
        self.model_dir: tuple[str, Path] | None = None  # (version id, its folder with one .onnx file)
        self.endpoint_recorded = False  # the proxy's URL is in the record (a write that may fail)
        self.unrecorded_failure: str | None = None  # a Failed reason the database refused: written again
        self.store_errors = 0  # database errors in a row (each retried at the next tick, with backoff)
        self._thread = threading.Thread(target=self._run, name=f"mlp-serving-{row.service_id}", daemon=True)
        self._thread.start()

    def update(self, row: ServingRow | None) -> None:
        """The service's record as now read; None: stop (deleted, or the platform closing)."""
        self._row = row
        self._wake.set()

    def abandon(self) -> None:
        """Stop at once (replicas killed, no drain) and write nothing more: another server owns the
        services now."""
        self._abandoned = True
        for replica in list(self.replicas):  # now, whatever this runtime's thread is doing
            replica.child.kill()
        self.update(None)

    def alive(self) -> bool:
        return self._thread.is_alive()

    def serves(self) -> bool:
        """Serving a live service (not deleted, stopped or stopping)."""
        row = self._row
        return self.alive() and row is not None and row.status in LIVE

    def _transition(self, *args: Any, **kwargs: Any) -> bool:
        if self._abandoned:
            raise LeaseLostError(self.service_id)
        return self.store.service_transition(*args, **kwargs)

    def _run_on_loop(self, coro: Coroutine[Any, Any, T]) -> T:
        """``coro`` run on the proxies' loop, waited for (bounded). :class:`LoopGone` at once when the
        loop has stopped, before or while it waits: a runtime that outlived its supervisor's term (its
        join timed out, e.g. in a database call during an outage) has no proxy left to act on."""
        loop = self.loop
        assert loop is not None
        if not loop.is_running():
            coro.close()
            raise LoopGone(self.service_id)
        future = asyncio.run_coroutine_threadsafe(coro, loop)
        deadline = time.monotonic() + self.sup.timing.drain_timeout + 30
        while True:
            try:
                return future.result(LOOP_LOOK_SECONDS)
            except concurrent.futures.TimeoutError:
                if loop.is_running() and time.monotonic() < deadline:
                    continue
                future.cancel()
                if loop.is_running():
                    raise
                coro.close()  # the loop never runs it again (a term's loop is not restarted)
                raise LoopGone(self.service_id) from None

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    # --- the loop ---

    def _run(self) -> None:
        try:
            while True:
                row = self._row
                if row is None:
                    self._stop_all()
                    self._close_proxy()
                    # Deleted (or the platform closing): also what failed replicas of it left.
                    remove_service_files(self.sup.dir, self.service_id)
                    return
                wait = self.sup.timing.tick
                try:
                    if self.unrecorded_failure is not None:
                        self._fail(self.unrecorded_failure)
                    elif row.status in LIVE:
                        self._serve(row)
                    else:
                        self._stop_all()
                        if row.status == STOPPING:
                            self._transition(row.service_id, [STOPPING], STOPPED, endpoint_url="")
                        self._close_proxy()
                        if self._row is row:
                            return
                    if self.store_errors:
                        log.info("service %s: the database answers again", self.service_id)
                        self.store_errors = 0
                except DATABASE_ERRORS as exc:
                    # The database, not the service: a dropped pooled connection (a restart, failover,
                    # pg_terminate_backend, idle_session_timeout) or the database down a while. The
                    # replicas keep serving; the record is written at a later tick.
                    self.store_errors += 1
                    level = logging.WARNING if self.store_errors == 1 else logging.DEBUG
                    log.log(
                        level,
                        "service %s: database error, retrying (replicas kept): %s",
                        self.service_id,
                        database_trouble(exc),
                    )
                    # The exponent is capped: an outage of hours must not overflow the float.
                    wait = min(STORE_RETRY_CAP, self.sup.timing.tick * 2 ** min(self.store_errors, 16))
                self._wake.wait(wait)
                self._wake.clear()
        except StoreClosedError:
            # The store closed under the service: nothing can be recorded; the next process serves it.
            log.info("service %s: the store is closed; replicas stopped, the record kept", self.service_id)
            self._stop_all()
            self._close_proxy()
        except LeaseLostError:
            log.info(
                "service %s: no longer this server's; replicas stopped, the record kept", self.service_id
            )
            self._stop_all()
            self._close_proxy()
        except LoopGone:
            # The supervisor ended its term (closed, or lost the lock) before this runtime was done:
            # its replicas go, its record is left to whoever serves next.
            log.info("service %s: serving ended; replicas stopped, the record kept", self.service_id)
            self._stop_all()
            self._close_proxy()
        except Exception as exc:
            log.exception("service %s: supervisor error", self.service_id)
            self._stop_all()
            self._close_proxy()
            self._fail(f"the local platform's supervisor failed: {exc}")

    def _fail(self, reason: str) -> None:
        self.unrecorded_failure = None
        if self.sup.exiting:
            # The platform process is ending (an ``mlp`` command on the embedded platform): what
            # failed is the process's own shutdown (e.g. a download refused by the exiting
            # interpreter), not the service. The record stays as it is, for the next process.
            log.info("service %s: not recorded as failed at process exit: %s", self.service_id, reason)
            return
        if self._abandoned:
            log.info(
                "service %s: not recorded as failed, no longer this server's: %s", self.service_id, reason
            )
            return
        try:
            self.store.service_transition(self.service_id, LIVE, FAILED, endpoint_url="", message=reason)
        except StoreClosedError:  # closed meanwhile: as at process exit, the record stays as it is
            log.info("service %s: not recorded as failed, the store is closed: %s", self.service_id, reason)
            self._row = None  # and this runtime ends: with no store, it can do nothing more
            return
        except DATABASE_ERRORS:
            self.unrecorded_failure = reason  # written at the next tick (see _run): it starts nothing
            raise
        log.warning("service %s failed: %s", self.service_id, reason)
        self._row = None if self._row is None else _with_status(self._row, FAILED)

    def _serve(self, row: ServingRow) -> None:
        if self.model_dir is None or self.model_dir[0] != row.model_version_id:
            if time.monotonic() < self.next_start:
                return  # the last download failed: tried again after the backoff
            try:
                folder = self.sup.cache.folder(row.model_version_id, row.model_path)
                try:
                    find_onnx(folder)  # fail fast, without a process, on a version with no model
                except ModelLoadError:
                    shutil.rmtree(folder, ignore_errors=True)  # looked at again on the next start
                    raise
            except (TransferError, OSError) as exc:
                # The object store or this disk, maybe for a moment (a store restart, a network blip
                # past the transfer's retries): one failure, counted and retried as a replica's exit.
                self._download_failed(row, f"cannot serve the version {row.model_version_id}: {exc}")
                return
            except Exception as exc:  # no model, or one that cannot be served: the service's reason
                self._stop_all()
                self._close_proxy()
                self._fail(f"cannot serve the version {row.model_version_id}: {exc}")
                return
            self.model_dir = (row.model_version_id, folder)
        model_dir = self.model_dir[1]
        if self.proxy is None:
            timing, endpoints = self.sup.timing, self.sup.endpoints
            proxy = ServiceProxy(
                row.service_id,
                upstream_timeout=endpoints.upstream_timeout,
                read_timeout=endpoints.read_timeout,
                probe_every=timing.probe_every,
                probe_timeout=timing.probe_timeout,
            )
            self._run_on_loop(proxy.start(row.endpoint_port, endpoints.bind_host))
            self.proxy = proxy
            self.endpoint_recorded = False
        if not self.endpoint_recorded:  # again at the next tick when the database refused it
            port = self.proxy.port
            url = self.sup.endpoints.url(port)
            self._transition(row.service_id, LIVE, row.status, endpoint_url=url, endpoint_port=port)
            self.endpoint_recorded = True
        if row.status == PENDING:
            self._transition(row.service_id, [PENDING], DEPLOYING, message="")
        if not self._reap(row):
            return
        self._start_missing(row, model_dir)
        self._admit_ready()
        self._scale_down(row)
        self._report(row)

    def _download_failed(self, row: ServingRow, reason: str) -> None:
        self.failures += 1
        log.warning("service %s: %s (failure %d in a row)", row.service_id, reason, self.failures)
        if self.failures >= self.sup.backoff.give_up_after:
            self._stop_all()
            self._close_proxy()
            self._fail(f"{reason}; gave up after {self.failures} failures in a row")
            return
        self.next_start = time.monotonic() + self.sup.backoff.delay(self.failures)

    def _reap(self, row: ServingRow) -> bool:
        """Replicas that exited: out of the rotation, counted, restarted later. False once Failed."""
        if self._abandoned:
            return False  # killed by abandon(): not failures of the service
        timing, now = self.sup.timing, time.monotonic()
        for replica in list(self.replicas):
            code = replica.child.poll()
            timed_out = replica.ready_since is None and now - replica.started > timing.start_timeout
            hung = replica.backend is not None and replica.backend.failed_probes >= timing.probe_restart_after
            if code is None and not timed_out and not hung:
                continue
            if timed_out:
                replica.child.stop(timeout=1)
            elif hung and code is None:
                replica.child.kill()  # a hung process may not heed SIGTERM (SIGSTOPped, deadlocked)
            self.replicas.remove(replica)
            replica.remove_blocks()
            self._leave_rotation(replica)
            if timed_out:
                reason = f"a replica did not become ready within {timing.start_timeout:.0f}s"
            elif hung and code is None:
                reason = (
                    f"a replica did not answer {timing.probe_restart_after} readiness probes in a row "
                    f"(each within {timing.probe_timeout:g}s): killed"
                )
            else:
                reason = f"a replica exited ({replica.failure_reason()})"
            stable = replica.ready_since is not None and now - replica.ready_since >= timing.stable_after
            self.failures = 1 if stable else self.failures + 1
            log.warning("service %s: %s (failure %d in a row)", row.service_id, reason, self.failures)
            if self.failures >= self.sup.backoff.give_up_after:
                self._stop_all()
                self._close_proxy()
                self._fail(f"{reason}; gave up after {self.failures} failures in a row")
                return False
            self.next_start = now + self.sup.backoff.delay(self.failures)
        return True

    def _start_missing(self, row: ServingRow, model_dir: Path) -> None:
        if time.monotonic() < self.next_start or self._abandoned:
            return
        flavor = FLAVORS.get(row.flavor_id)
        threads = max(1, min(flavor.vcpu if flavor else 1, os.cpu_count() or 1))
        args = [
            "--model-dir",
            str(model_dir),
            # One argument: a ServiceName starting with '-' is the name, never taken for an option.
            f"--name={row.name}",
            "--version",
            str(row.model_version),
            "--threads",
            str(threads),
        ]
        if flavor is not None and flavor.gpu_num:
            args.append("--gpu")
        env = {**replica_base_env(), **replica_envs(row)}
        # Until one replica has loaded the model, start just one: a model that cannot load costs one
        # process per attempt, not Replicas.
        wanted = row.replicas if self.ever_ready else min(row.replicas, 1)
        while len(self.replicas) < wanted:
            # The lowest index no live replica has: a restarted replica never shares a live one's files.
            taken = {r.index for r in self.replicas}
            n = next(i for i in range(len(self.replicas) + 1) if i not in taken)
            hello, log_path = replica_files(self.sup.dir, row.service_id, n)
            for stale in (log_path, hello):  # this replica's, not an earlier one's
                with contextlib.suppress(OSError):
                    stale.unlink()
            hello.parent.mkdir(parents=True, exist_ok=True)
            child = ChildProcess(
                REPLICA_MODULE, [*args, "--hello-file", str(hello)], env=env, log_path=log_path
            )
            self.replicas.append(Replica(n, child.start(), hello, log_path))

    def _admit_ready(self) -> None:
        for replica in self.replicas:
            if replica.backend is not None:
                continue
            try:
                replica.read_hello()
            except (ValueError, KeyError, OSError):
                continue
            if replica.port is None or not _is_ready(replica.port):
                continue
            backend = Backend(replica.port)
            replica.backend = backend
            self.ever_ready = True
            replica.ready_since = time.monotonic()
            assert self.proxy is not None
            self._run_on_loop(_admit(self.proxy, backend))

    def _scale_down(self, row: ServingRow) -> None:
        """The newest extra replicas leave: out of the rotation, drained, then stopped."""
        while len(self.replicas) > row.replicas:
            self._retire(self.replicas.pop())

    def _retire(self, replica: Replica) -> None:
        backend = replica.backend
        try:
            if self._abandoned:  # at once: another server may start serving in a few seconds
                replica.child.kill()
                self._leave_rotation(replica)
                return
            if backend is not None and self.proxy is not None:
                backend.draining = True
                self._leave_rotation(replica, drain=True)
            replica.child.stop(timeout=self.sup.timing.stop_grace)
        finally:
            if replica.child.poll() is not None:  # stopped: its files describe nothing any more
                remove((replica.hello, replica.log_path))
                replica.remove_blocks()

    def _leave_rotation(self, replica: Replica, drain: bool = False) -> None:
        backend, proxy = replica.backend, self.proxy
        if backend is None or proxy is None:
            return

        async def leave() -> None:
            proxy.remove(backend)
            if drain:
                await drained(backend, self.sup.timing.drain_timeout)

        with contextlib.suppress(LoopGone):  # the proxy stopped with its loop: nothing left to leave
            self._run_on_loop(leave())

    def _report(self, row: ServingRow) -> None:
        # In the rotation: admitted and answering its readiness probes.
        ready = [r for r in self.replicas if r.backend is not None and r.backend.healthy]
        if len(ready) == row.replicas == len(self.replicas):
            message = _message(row, ready)
            self._transition(row.service_id, [DEPLOYING], RUNNING, replicas=row.replicas, message=message)
        elif row.status == RUNNING:
            # A replica was lost or hangs: Deploying until it is back (the proxy serves on the others).
            self._transition(row.service_id, [RUNNING], DEPLOYING, replicas=row.replicas)

    def _stop_all(self) -> None:
        while self.replicas:
            self._retire(self.replicas.pop())

    def _close_proxy(self) -> None:
        if self.proxy is not None:
            proxy, self.proxy = self.proxy, None
            with contextlib.suppress(LoopGone):  # stopped with its loop
                self._run_on_loop(proxy.close())


async def _admit(proxy: ServiceProxy, backend: Backend) -> None:
    proxy.add(backend)


# The platform's own credentials: a replica loads a tenant's model (onnxruntime parsing whatever was
# uploaded) and downloads nothing itself (the supervisor fills its model folder), so none reaches it.
PLATFORM_SECRETS = frozenset(
    {
        "MLP_DATABASE_URL", "MLP_S3_ACCESS_KEY", "MLP_S3_SECRET_KEY", "VOLC_ACCESSKEY", "VOLC_SECRETKEY",
        "VOLCENGINE_ACCESS_KEY", "VOLCENGINE_SECRET_KEY", "VOLCENGINE_SESSION_TOKEN", "VOLC_TOS_ACCESS_KEY",
        "VOLC_TOS_SECRET_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
        "PGPASSWORD",
    }
)  # fmt: skip


def replica_base_env() -> dict[str, str]:
    """The platform's environment without its credentials (:data:`PLATFORM_SECRETS`)."""
    return {name: value for name, value in os.environ.items() if name not in PLATFORM_SECRETS}


def replica_envs(row: ServingRow) -> dict[str, str]:
    """The service's Envs that reach its replicas: a reserved name (which CreateService refuses, but
    a record written by an earlier release may hold) is left out and logged, never set."""
    dropped = sorted({name for name, _ in row.envs if reserved_env(name)})
    if dropped:
        log.warning("service %s: Envs %s are reserved and not set in its replicas", row.service_id, dropped)
    return {name: value for name, value in row.envs if not reserved_env(name)}


def _with_status(row: ServingRow, status: str) -> ServingRow:
    return replace(row, status=status)


def _is_ready(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/v2/health/ready", timeout=1.0).status_code == 200
    except httpx.HTTPError:
        return False


def _message(row: ServingRow, ready: list[Replica]) -> str:
    notes = []
    flavor = FLAVORS.get(row.flavor_id)
    if (
        flavor is not None
        and flavor.gpu_num
        and not any("CUDAExecutionProvider" in r.providers for r in ready)
    ):
        notes.append(
            f"GPU flavor {row.flavor_id} is served on the CPU: onnxruntime has no CUDA provider on "
            "this machine"
        )
    if row.image_id:
        notes.append(
            f"ImageID {row.image_id} is recorded only: the local platform does not run container images"
        )
    return "; ".join(notes)
