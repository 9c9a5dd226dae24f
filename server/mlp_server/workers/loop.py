"""The perf worker loop: claim a task with a lease, run it in a runner process, end it in the store.

While the runner works, the loop watches the task every ``POLL`` seconds: a cancel (Stopping) kills
the runner at once and ends the task Cancelled; the lease is renewed every third of its length, so a
worker that dies (SIGKILL, a lost machine) loses its task to the next worker once the lease expires.
A runner that crashes ends its task Failed with the crash named; the loop itself goes on.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..procs import ChildProcess, describe_exit
from ..scratch import scratch_dir
from ..settings import ServerSettings
from ..store import ClaimedTask, Store
from ..store import task_states as states
from .runner import RunSpec, precheck

TASK_DIR_PREFIX = "mlp-worker-task-"  # not the older releases' mlp-task-: those were never locked

log = logging.getLogger("mlp_server.workers")

# How often a running task's status is read (a cancel is noticed within this) while its runner works.
POLL = 0.25
RUNNER_MODULE = "mlp_server.workers.runner"


@dataclass(frozen=True)
class WorkerOptions:
    lease_seconds: float = 30.0
    idle_poll: float = 0.5
    measure_seconds: float = 2.0
    # A task still running after this long is stopped and failed (a hung runtime).
    task_timeout: float = 1800.0


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
        self.runner: ChildProcess | None = None

    def run_forever(self, stop: threading.Event) -> None:
        log.info("perf worker %s serving %s", self.worker_id, self.settings.db_url)
        while not stop.is_set():
            try:
                task = self.store.claim_next_task(
                    worker_id=self.worker_id, lease_seconds=self.options.lease_seconds
                )
            except Exception:
                log.exception("could not claim a task; trying again")
                stop.wait(self.options.idle_poll * 4)
                continue
            if task is None:
                stop.wait(self.options.idle_poll)
                continue
            try:
                self.run_one(task, stop)
            except Exception:  # the store went away for a moment: the lease will bring the task back
                log.exception("perf task %s: the worker lost track of it", task.task_id)
        self.store.close()

    def run_one(self, task: ClaimedTask, stop: threading.Event) -> None:
        log.info("perf task %s (attempt %d) on %s", task.task_id, task.attempt, task.flavor_id)
        refused = precheck(task)
        if refused is not None:
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

    def _watch(
        self,
        task: ClaimedTask,
        runner: ChildProcess,
        stop: threading.Event,
        result_path: Path,
        log_path: Path,
    ) -> None:
        started = last_renew = time.monotonic()
        while True:
            code = runner.wait(POLL)
            if code is not None:
                self._finish(task, code, result_path, log_path)
                return
            now = time.monotonic()
            if stop.is_set():
                runner.kill()
                released = self.store.release_task(task.task_id, self.worker_id)
                log.info("perf task %s handed back on stop (%s)", task.task_id, released)
                return
            if now - last_renew >= self.options.lease_seconds / 3:
                status = self.store.renew_lease(task.task_id, self.worker_id, self.options.lease_seconds)
                last_renew = now
            else:
                status = self.store.task_status(task.task_id)
            if status is None or status in states.TERMINAL:
                runner.kill()
                log.warning("perf task %s is no longer this worker's (%s): stopped", task.task_id, status)
                return
            if status == states.STOPPING:
                runner.kill()
                self.store.finish_task(
                    task.task_id, states.CANCELLED, None, "cancelled while running", worker_id=self.worker_id
                )
                log.info("perf task %s cancelled", task.task_id)
                return
            if now - started > self.options.task_timeout:
                runner.kill()
                self.store.finish_task(
                    task.task_id,
                    states.FAILED,
                    None,
                    f"stopped after {self.options.task_timeout:.0f}s without finishing",
                    worker_id=self.worker_id,
                )
                return

    def _finish(self, task: ClaimedTask, code: int, result_path: Path, log_path: Path) -> None:
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
        current = self.store.task_status(task.task_id)
        if current == states.STOPPING and status == states.FAILED:
            status = states.CANCELLED  # asked to stop: it is the cancel that counts
        done = self.store.finish_task(task.task_id, status, result, message, worker_id=self.worker_id)
        log.info("perf task %s: %s%s", task.task_id, status, "" if done else " (not recorded: lease lost)")


def _tail(path: Path, limit: int = 600) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return ""
    lines = [line for line in text.splitlines() if line.strip()]
    joined = " | ".join(lines[-3:])
    return joined[-limit:]
