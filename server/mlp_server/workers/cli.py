"""The worker's command line, shared by ``mlp worker`` and ``python -m mlp_server.workers``."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from logging.handlers import RotatingFileHandler
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from ..settings import ServerSettings

if TYPE_CHECKING:
    from .loop import Worker

LOG_FILE_BYTES = 1 << 20
# A stop (SIGTERM, SIGINT, the owner gone) is honoured within this many seconds whatever the database
# does: a store call that hangs (a partitioned network, a database that accepts and never answers) is
# not waited for longer; the runner is killed and the task is left to its lease.
STOP_GRACE_SECONDS = 5.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: under ``mlp``, a --data-dir given before the subcommand is kept
    parser.add_argument(
        "--data-dir", type=Path, default=argparse.SUPPRESS, help="data folder of the platform"
    )
    parser.add_argument(
        "--database-url",
        default=argparse.SUPPRESS,
        help="SQLAlchemy URL (default: SQLite in the data folder)",
    )
    parser.add_argument(
        "--lease-seconds", type=float, default=None, help="how long a claimed task is held between renewals"
    )
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"], help="how much to log"
    )
    # Set by a pool (mlp serve, the embedded platform): stop when that process is gone, even if it
    # died without stopping its workers (SIGKILL).
    parser.add_argument("--owner-pid", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument(
        "--log-file",
        type=Path,
        default=None,
        help=f"write the log to this file, rotated at {LOG_FILE_BYTES // 2**20} MiB (one older file kept)",
    )


def settings_from(args: argparse.Namespace) -> ServerSettings:
    from volcengine_ml_platform.data_dir import resolve as resolve_data_dir

    data_dir, _ = resolve_data_dir(getattr(args, "data_dir", None))
    data_dir = data_dir.absolute()  # what it prints (CA file, credentials file) works from any folder
    database_url = getattr(args, "database_url", None)
    overrides = {"database_url": database_url} if database_url else {}
    return ServerSettings.from_env(data_dir, **overrides)


def run_worker(args: argparse.Namespace) -> int:
    # A worker lives as long as its platform and logs every task: a file of its own is rotated.
    log_file: Path | None = getattr(args, "log_file", None)
    handlers: list[logging.Handler] | None = None
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers = [RotatingFileHandler(log_file, maxBytes=LOG_FILE_BYTES, backupCount=1, encoding="utf-8")]
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,  # `mlp` configured logging for client commands before it got here
        handlers=handlers,
    )
    from .loop import Worker, WorkerOptions  # here: ``mlp`` builds its parser without the store

    settings = settings_from(args)
    options = WorkerOptions(
        lease_seconds=args.lease_seconds or settings.perf_lease_seconds,
        measure_seconds=settings.perf_measure_seconds,
        gpu_wait_seconds=settings.perf_gpu_wait_seconds,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    if args.owner_pid is not None:
        _stop_with_owner(args.owner_pid, stop)
    from ..store.migrate import SchemaError

    started: list[Worker] = []
    ended = threading.Event()
    _end_after_grace(stop, ended, started)
    try:
        worker = Worker(settings, options)
    except SchemaError as exc:  # the server upgrades the schema (mlp db upgrade); a worker never does
        print(f"mlp worker: error: {exc}", file=sys.stderr)
        return 1
    started.append(worker)
    try:
        worker.run_forever(stop)
    finally:
        ended.set()
    return 0


def _end_after_grace(
    stop: threading.Event, ended: threading.Event, started: list[Worker], grace: float = STOP_GRACE_SECONDS
) -> None:
    """Once ``stop`` is set, give the loop ``grace`` seconds to end by itself (``ended``; it hands its
    task back when the database answers); past that it is stuck in a store call that does not return,
    so its runner is killed and the process ends: the task is left to its lease."""

    def watch() -> None:
        stop.wait()
        if ended.wait(grace):
            return
        runner = started[0].runner if started else None
        logging.getLogger("mlp_server.workers").warning(
            "stop asked %.0fs ago and the database does not answer: ending now%s",
            grace,
            "; the task is left to its lease" if runner is not None else "",
        )
        if runner is not None:
            runner.kill()
        os._exit(0)

    threading.Thread(target=watch, name="mlp-worker-stop", daemon=True).start()


def _stop_with_owner(owner: int, stop: threading.Event, interval: float = 0.5) -> None:
    """Stop (handing any task back) once ``owner`` is no longer this process's parent."""

    def watch() -> None:
        while not stop.wait(interval):
            if os.getppid() != owner:
                logging.getLogger("mlp_server.workers").warning("owner %d is gone: stopping", owner)
                stop.set()

    threading.Thread(target=watch, name="mlp-worker-owner", daemon=True).start()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlp_server.workers", description=__doc__)
    add_arguments(parser)
    return run_worker(parser.parse_args(argv))
