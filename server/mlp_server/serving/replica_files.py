"""The files a replica keeps beside the data folder while it runs: ``serving/run/{sid}-{n}.json`` (its
hello: the port it listens on) and ``serving/logs/{sid}-{n}.log`` (its output). They go with the
replica (retired, or its service's runtime ended); what a crash or a failed replica left is removed
once its service is gone, by the storage sweep (``mlp gc``, `mlp serve`'s periodic one).

Its shared memory blocks (``/dev/shm/mlp-PID-...``, named for its pid, its helper's too) are unlinked by
the replica as it stops; a replica killed (SIGKILL to its process group, which takes multiprocessing's
resource tracker with it) cannot, so the supervisor unlinks them by name once it has reaped it
(:func:`remove_blocks`)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterable
from pathlib import Path

log = logging.getLogger("mlp_server.serving")

RUN = "run"
LOGS = "logs"
# Where POSIX shared memory lives on Linux, and how the replicas' blocks are named (mlp-PID-...).
SHM_DIR = Path("/dev/shm")
BLOCK_PREFIX = "mlp-"


def replica_files(serving_dir: Path, service_id: str, index: int) -> tuple[Path, Path]:
    """(hello, log) of replica ``index`` of ``service_id``."""
    return serving_dir / RUN / f"{service_id}-{index}.json", serving_dir / LOGS / f"{service_id}-{index}.log"


def remove(paths: Iterable[Path]) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def remove_blocks(pid: int) -> None:
    """The shared memory blocks left by the replica ``pid``, which has ended and been reaped (its pid
    not yet given to another process of ours)."""
    try:
        remove(SHM_DIR.glob(f"{BLOCK_PREFIX}{pid}-*"))
    except OSError as exc:  # not worth a supervisor's loop: said, and left
        log.warning("cannot remove the shared memory blocks of replica %d: %s", pid, exc)


def _service_of(name: str) -> str | None:
    stem, _, index = name.rpartition(".")[0].rpartition("-")
    return stem if stem and index.isdigit() else None


def files_of(serving_dir: Path) -> dict[str, list[Path]]:
    """The replica files in ``serving_dir``, by service ID."""
    found: dict[str, list[Path]] = {}
    for folder, suffix in ((RUN, ".json"), (LOGS, ".log")):
        try:
            entries = list((serving_dir / folder).iterdir())
        except FileNotFoundError:
            continue
        for path in entries:
            service_id = _service_of(path.name) if path.name.endswith(suffix) else None
            if service_id is not None:
                found.setdefault(service_id, []).append(path)
    return found


def remove_service_files(serving_dir: Path, service_id: str) -> None:
    """Every replica file of ``service_id`` (its runtime has ended: no replica of it runs here)."""
    remove(files_of(serving_dir).get(service_id, []))


def remove_orphans(
    serving_dir: Path, service_ids: Callable[[], set[str]], *, dry_run: bool = False
) -> list[Path]:
    """Remove (unless ``dry_run``) the replica files of services that no longer exist; return them.
    The folder is listed before the services are read: a file listed belongs to a service created
    before the read, so a service being deployed now never loses its files."""
    found = files_of(serving_dir)
    if not found:
        return []
    existing = service_ids()
    gone = [
        path for service_id, paths in sorted(found.items()) if service_id not in existing for path in paths
    ]
    if gone and not dry_run:
        remove(gone)
        log.info("removed %d replica file(s) of deleted services from %s", len(gone), serving_dir)
    return gone
