"""The pool of perf worker processes owned by ``mlp serve`` (started with the server) or by the embedded
platform (started on the first perf work, living as long as the Python process)."""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import threading
from pathlib import Path

from ..procs import ChildProcess, describe_exit
from ..settings import ServerSettings
from .cli import LOG_FILE_BYTES

log = logging.getLogger("mlp_server.workers")

WORKER_MODULE = "mlp_server.workers"
MONITOR_INTERVAL = 1.0


class PerfWorkerPool:
    """``size`` worker processes; one that dies is replaced (its task comes back when its lease expires)."""

    def __init__(self, settings: ServerSettings, size: int, *, log_dir: Path | None = None) -> None:
        self.settings = settings
        self.size = size
        self.log_dir = log_dir
        self.workers: list[ChildProcess] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._monitor: threading.Thread | None = None
        atexit.register(self.stop)  # before procs' own sweep (atexit runs in reverse order)

    def _argv(self) -> list[str]:
        args = [
            "--data-dir",
            str(self.settings.data_dir),
            "--log-level",
            "info",
            "--owner-pid",
            str(os.getpid()),
        ]
        if self.settings.database_url:
            args += ["--database-url", self.settings.database_url]
        return args

    def _spawn(self, index: int) -> ChildProcess:
        # The log (a line or two per task) is the worker's own rotated file; what else the process
        # prints (a crash's traceback) goes to a file beside it, set aside as a worker starts once
        # it passed the log's size (the last crash's output stays readable).
        argv = self._argv()
        log_path = None
        if self.log_dir is not None:
            argv += ["--log-file", str(self.log_dir / f"perf-worker-{index}.log")]
            log_path = self.log_dir / f"perf-worker-{index}.out"
            with contextlib.suppress(FileNotFoundError):
                if log_path.stat().st_size > LOG_FILE_BYTES:
                    log_path.replace(log_path.with_name(log_path.name + ".1"))
        # The settings travel explicitly: the parent's environment may have changed since they were read.
        env = {**os.environ, **self.settings.to_env()}
        return ChildProcess(WORKER_MODULE, argv, env=env, log_path=log_path).start()

    @property
    def started(self) -> bool:
        return self._monitor is not None

    def ensure_started(self) -> None:
        """Start the workers unless they run already (cheap after the first call)."""
        if self._monitor is not None or self.size <= 0:
            return
        with self._lock:
            if self._monitor is not None or self._stopping.is_set():
                return
            self.workers = [self._spawn(i) for i in range(self.size)]
            self._monitor = threading.Thread(target=self._watch, name="mlp-perf-pool", daemon=True)
            self._monitor.start()
            log.info("started %d perf worker(s) on %s", self.size, self.settings.data_dir)

    def _watch(self) -> None:
        while not self._stopping.wait(MONITOR_INTERVAL):
            with self._lock:
                for index, worker in enumerate(self.workers):
                    code = worker.poll()
                    if code is not None and not self._stopping.is_set():
                        log.warning("perf worker %d ended (%s): starting another", index, describe_exit(code))
                        self.workers[index] = self._spawn(index)

    def close(self) -> None:
        """Stop the workers now (a platform closed before the process ends), and forget the exit hook."""
        atexit.unregister(self.stop)
        self.stop()
        if self._monitor is not None:
            self._monitor.join()

    def stop(self) -> None:
        self._stopping.set()
        with self._lock:
            workers, self.workers = self.workers, []
        for worker in workers:
            worker.stop()
