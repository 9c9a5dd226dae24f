"""The perf worker loop: claim a task with a lease, run it in a runner process, end it in the store.

While the runner works, the loop watches the task every ``POLL`` seconds: a cancel (Stopping) kills
the runner at once and ends the task Cancelled; the lease is renewed every third of its length, so a
worker that dies (SIGKILL, a lost machine) loses its task to the next worker once the lease expires.
A runner that crashes ends its task Failed with the crash named; the loop itself goes on.

The database may fail for a moment (a restart, a failover, a dropped session) while the runner works:
the loop keeps the runner going and asks again, for as long as the lease it last got is still valid
(``_lease_from``); only then is the task given up, since another worker may take it from there.
A stop asked meanwhile is not held up by those retries: the worker stops within a poll and leaves
the task to its lease (:class:`Stopped`), so the next worker runs it once the lease has lapsed.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import secrets
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from ..procs import ChildProcess, describe_exit
from ..scratch import scratch_dir
from ..settings import ServerSettings
from ..storage_errors import DATABASE_ERRORS, database_trouble
from ..store import ClaimedTask, Store
from ..store import task_states as states
from ..store.resources import CATALOGUE
from . import runner as runners
from .runner import RunSpec, precheck
from .withdraw import registers_a_version, withdraw_conversion

TASK_DIR_PREFIX = "mlp-worker-task-"  # not the older releases' mlp-task-: those were never locked

log = logging.getLogger("mlp_server.workers")

# How often a running task's status is read (a cancel is noticed within this) while its runner works.
POLL = 0.25
RUNNER_MODULE = "mlp_server.workers.runner"
# Retries of a store call while the database fails: the first wait, doubled up to the last.
RETRY_FIRST, RETRY_CAP = 0.1, 2.0
# A lease is given up this long before it would lapse: the database's clock judges it, and a write
# sent just before the end may arrive after it.
LEASE_MARGIN = 1.0

_T = TypeVar("_T")


class Stopped(Exception):
    """The worker was asked to stop while it waited for the database on a task: the task is left to
    its lease (another worker claims it once the lease lapses); nothing more is written."""


@dataclass(frozen=True)
class WorkerOptions:
    lease_seconds: float = 30.0
    idle_poll: float = 0.5
    measure_seconds: float = 2.0
    # A task still running after this long is stopped and failed (a hung runtime).
    task_timeout: float = 1800.0
    # ServerSettings.perf_gpu_wait_seconds (None: by database, see claim_scope).
    gpu_wait_seconds: float | None = None


# A team (PostgreSQL) may have GPU workers on other machines: a GPU task waits this long for one.
TEAM_GPU_WAIT_SECONDS = 600.0


@dataclass(frozen=True)
class ClaimScope:
    """The tasks a worker claims: of the flavors it can run (None: every flavor) and, on a machine
    without a GPU in a team, GPU tasks no GPU worker took within ``waited_seconds``, to fail them."""

    flavor_ids: tuple[str, ...] | None
    waited_flavor_ids: tuple[str, ...] = ()
    waited_seconds: float = 0.0
    # Why this worker cannot run GPU tasks (runner.gpu_unusable), for the Message of one it fails.
    lacking: str = field(default=runners.NO_GPU, compare=False)

    def refusal(self, task: ClaimedTask) -> str | None:
        """Why this worker fails a GPU task it took after the wait (None: not such a task)."""
        if task.flavor_id not in self.waited_flavor_ids:
            return None
        return (
            f"flavor {task.flavor_id} needs a GPU: no worker with a GPU claimed the task within "
            f"{self.waited_seconds:g} s (MLP_PERF_GPU_WAIT_SECONDS), and "
            + ("this worker's machine has none" if self.lacking == runners.NO_GPU else self.lacking)
        )


def claim_scope(
    gpu: bool, dialect: str, gpu_wait_seconds: float | None, lacking: str = runners.NO_GPU
) -> ClaimScope:
    """A machine with a GPU it can run on claims every task. One without (no device, or no CUDA
    provider in its onnxruntime: ``lacking`` says which) claims CPU tasks; its GPU tasks are failed at
    once ("needs a GPU; this platform has none") when the wait is 0, the default on SQLite (one
    machine, so no other worker could have a GPU), and otherwise left for a GPU worker for the wait."""
    wait = gpu_wait_seconds
    if wait is None:
        wait = TEAM_GPU_WAIT_SECONDS if dialect == "postgresql" else 0.0
    if gpu or wait <= 0:
        return ClaimScope(None)
    flavors = [f for group in CATALOGUE.values() for f in group]
    return ClaimScope(
        tuple(f.id for f in flavors if f.gpu_num == 0),
        tuple(f.id for f in flavors if f.gpu_num > 0),
        wait,
        lacking,
    )


def new_worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


class Worker:
    def __init__(
        self, settings: ServerSettings, options: WorkerOptions, worker_id: str | None = None
    ) -> None:
        self.settings = settings
        self.options = options
        self.worker_id = worker_id or new_worker_id()
        self.store = Store(settings.db_url, busy_timeout=settings.sqlite_busy_timeout)
        # A GPU worker only if it can really run there: a device AND onnxruntime's CUDA provider.
        lacking = runners.gpu_unusable()
        self.scope = claim_scope(
            lacking is None, self.store.dialect, options.gpu_wait_seconds, lacking or runners.NO_GPU
        )
        self.runner: ChildProcess | None = None
        # When the last lease this worker got on its task was asked for (time.monotonic()): the lease
        # lasts at least lease_seconds from then.
        self._lease_from = 0.0

    def claim(self) -> ClaimedTask | None:
        self._lease_from = time.monotonic()  # the lease of a task claimed now lasts from then at least
        return self.store.claim_next_task(
            self.scope.flavor_ids,
            worker_id=self.worker_id,
            lease_seconds=self.options.lease_seconds,
            waited_flavor_ids=self.scope.waited_flavor_ids,
            waited_seconds=self.scope.waited_seconds,
        )

    def run_forever(self, stop: threading.Event) -> None:
        log.info("perf worker %s serving %s", self.worker_id, self.settings.db_url)
        while not stop.is_set():
            try:
                task = self.claim()
            except Exception:
                log.exception("could not claim a task; trying again")
                stop.wait(self.options.idle_poll * 4)
                continue
            if task is None:
                stop.wait(self.options.idle_poll)
                continue
            try:
                self.run_one(task, stop)
            except Stopped as exc:
                log.warning("perf task %s: %s", task.task_id, exc)
            except Exception:  # the store went away for a moment: the lease will bring the task back
                log.exception("perf task %s: the worker lost track of it", task.task_id)
        self.store.close()

    def run_one(self, task: ClaimedTask, stop: threading.Event) -> None:
        log.info("perf task %s (attempt %d) on %s", task.task_id, task.attempt, task.flavor_id)
        refused = precheck(task)
        if refused is not None:
            refused = self.scope.refusal(task) or refused
            self.store.finish_task(task.task_id, states.FAILED, None, refused, worker_id=self.worker_id)
            return
        # Locked while the task runs; a worker killed meanwhile leaves it to the next one's sweep. The
        # runner's own scratch (the model, converted copies) goes inside it (runner.main).
        with scratch_dir(TASK_DIR_PREFIX) as tmp:
            spec_path, result_path, log_path = (
                Path(tmp, "spec.json"),
                Path(tmp, "result.json"),
                Path(tmp, "log"),
            )
            spec = RunSpec(
                task, str(self.settings.data_dir), self.settings.database_url, self.options.measure_seconds
            )
            spec_path.write_text(json.dumps(spec.to_json()), encoding="utf-8")
            runner = self.runner = ChildProcess(
                RUNNER_MODULE, [str(spec_path), str(result_path), str(os.getpid())], log_path=log_path
            )
            runner.start()
            try:
                self._watch(task, runner, stop, result_path, log_path)
            finally:
                runner.kill()
                self.runner = None

    def _lease_left(self) -> float:
        """Seconds this worker may still act on its task's lease (its margin taken off)."""
        return self._lease_from + self.options.lease_seconds - LEASE_MARGIN - time.monotonic()

    def _retrying(self, task: ClaimedTask, what: str, call: Callable[[], _T], stop: threading.Event) -> _T:
        """``call()`` (a store call), retried with backoff while the database fails and the lease
        lasts; the last error is raised once the lease is over (the task is the next worker's).
        :class:`Stopped` once ``stop`` is set while the database fails: a stop does not wait out the
        lease (up to ``lease_seconds``), the lease hands the task on instead."""
        delay = RETRY_FIRST
        while True:
            try:
                return call()
            except DATABASE_ERRORS as exc:
                left = self._lease_left()
                if left <= delay:
                    raise
                if stop.is_set():
                    raise Stopped(self._left_to_lease(what, exc)) from exc
                log.warning(
                    "perf task %s: cannot %s (%s); again in %.1fs, %.0fs of lease left",
                    task.task_id,
                    what,
                    database_trouble(exc),
                    delay,
                    left,
                )
                if stop.wait(delay):
                    raise Stopped(self._left_to_lease(what, exc)) from exc
                delay = min(RETRY_CAP, delay * 2)

    def _left_to_lease(self, what: str, exc: BaseException) -> str:
        return (
            f"the worker stopped while it could not {what} ({database_trouble(exc)}): the task is left "
            f"to its lease ({max(0.0, self._lease_left() + LEASE_MARGIN):.0f}s left), then the next "
            "worker runs it"
        )

    def _renew(self, task: ClaimedTask) -> str | None:
        asked = time.monotonic()
        status = self.store.renew_lease(task.task_id, self.worker_id, self.options.lease_seconds)
        if status is not None:
            self._lease_from = asked
        return status

    def _watch(
        self,
        task: ClaimedTask,
        runner: ChildProcess,
        stop: threading.Event,
        result_path: Path,
        log_path: Path,
    ) -> None:
        started = last_renew = time.monotonic()
        failing = False  # the database failed at the last look
        while True:
            code = runner.wait(POLL)
            if code is not None:
                self._finish(task, code, result_path, log_path, stop)
                return
            now = time.monotonic()
            if stop.is_set():
                runner.kill()
                try:
                    released = self.store.release_task(task.task_id, self.worker_id)
                except DATABASE_ERRORS as exc:  # the lease hands the task on once it lapses
                    log.warning(
                        "perf task %s: not handed back on stop: %s", task.task_id, database_trouble(exc)
                    )
                    return
                log.info("perf task %s handed back on stop (%s)", task.task_id, released)
                return
            try:
                if now - last_renew >= self.options.lease_seconds / 3:
                    status = self._renew(task)
                    last_renew = now
                else:
                    status = self.store.task_status(task.task_id)
            except DATABASE_ERRORS as exc:
                # A moment without the database: the runner goes on while the lease lasts; the
                # renewal is asked again at the next look (last_renew unchanged).
                if self._lease_left() <= POLL:
                    runner.kill()
                    log.warning(
                        "perf task %s: stopped, its lease lapsed while the database failed (%s); the "
                        "next worker runs it",
                        task.task_id,
                        database_trouble(exc),
                    )
                    return
                if not failing:
                    log.warning(
                        "perf task %s: the database failed (%s); the runner goes on, %.0fs of lease left",
                        task.task_id,
                        database_trouble(exc),
                        self._lease_left(),
                    )
                failing = True
                continue
            if failing:
                log.info("perf task %s: the database answers again", task.task_id)
                failing = False
            if status is None or status in states.TERMINAL:
                runner.kill()
                log.warning("perf task %s is no longer this worker's (%s): stopped", task.task_id, status)
                return
            if status == states.STOPPING:
                runner.kill()
                withdrawn = self._withdraw(task, stop)
                self._end(task, states.CANCELLED, "cancelled while running" + withdrawn, stop)
                log.info("perf task %s cancelled", task.task_id)
                return
            if now - started > self.options.task_timeout:
                runner.kill()
                timeout = self.options.task_timeout
                self._end(
                    task,
                    states.FAILED,
                    f"stopped after {timeout:.0f}s without finishing" + self._withdraw(task, stop),
                    stop,
                )
                return

    def _end(
        self,
        task: ClaimedTask,
        status: str,
        message: str | None,
        stop: threading.Event,
        result: Any = None,
    ) -> bool:
        """Record the task's outcome (retried while the database fails and the lease lasts); False when
        this worker no longer held the task."""
        finish = functools.partial(
            self.store.finish_task, task.task_id, status, result, message, worker_id=self.worker_id
        )
        return self._retrying(task, "record the outcome", finish, stop)

    def _withdraw(self, task: ClaimedTask, stop: threading.Event) -> str:
        """The runner is dead and the task ends unfinished: delete the version a conversion registered
        (``withdraw``), only while this worker still holds the task (else a rerun elsewhere uses it)."""
        if not registers_a_version(task):
            return ""
        if self._retrying(task, "renew the lease", lambda: self._renew(task), stop) is None:
            return ""
        return withdraw_conversion(self.settings, self.store, task)

    def _finish(
        self, task: ClaimedTask, code: int, result_path: Path, log_path: Path, stop: threading.Event
    ) -> None:
        outcome: dict[str, Any] | None = None
        message: str | None
        if result_path.exists():
            outcome = json.loads(result_path.read_text(encoding="utf-8"))
        if outcome is None:
            tail = _tail(log_path)
            message = f"the runtime crashed ({describe_exit(code)}) while running the task"
            status, result = states.FAILED, None
            if tail:
                message += f": {tail}"
        else:
            status, result, message = outcome["Status"], outcome.get("Result"), outcome.get("Message")
        # A finished run's outcome is kept through a moment without the database, while the lease lasts.
        current = self._retrying(task, "read the task", lambda: self.store.task_status(task.task_id), stop)
        if current == states.STOPPING and status == states.FAILED:
            status = states.CANCELLED  # asked to stop: it is the cancel that counts
        if status in (states.FAILED, states.CANCELLED) and (left := self._withdraw(task, stop)):
            message = (message or status.lower()) + left
        done = self._end(task, status, message, stop, result)
        log.info("perf task %s: %s%s", task.task_id, status, "" if done else " (not recorded: lease lost)")


def _tail(path: Path, limit: int = 600) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""
    lines = [line for line in text.splitlines() if line.strip()]
    joined = " | ".join(lines[-3:])
    return joined[-limit:]
