"""Running many transfer tasks on a bounded thread pool, stopping all of them at the first failure."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from typing import TypeVar

T = TypeVar("T")


class Cancelled(Exception):
    """Raised inside a task that noticed another task failed; never escapes :func:`run_parallel`."""


Task = Callable[[threading.Event], T]
"""A task receives the cancel event; long tasks check it between chunks (see :func:`checked`)."""


def checked(cancel: threading.Event, callback: Callable[[int], None]) -> Callable[[int], None]:
    """Wrap a byte callback so that an in-flight transfer stops at its next chunk once ``cancel`` is set."""

    def on_bytes(nbytes: int) -> None:
        if cancel.is_set():
            raise Cancelled
        callback(nbytes)

    return on_bytes


def run_parallel(
    tasks: Sequence[Task[T]], *, concurrency: int, name: str, sizes: Sequence[int] | None = None
) -> list[T]:
    """Run ``tasks`` on up to ``concurrency`` threads and return their results in order.

    With ``sizes`` (one per task), the largest tasks start first: a large file then moves beside the
    many small ones instead of alone after them, which keeps every core busy to the end.

    On the first failure (or KeyboardInterrupt) the tasks not yet started are dropped, the running ones
    are told to stop, and this waits for them (so that they can clean up their temporaries) before
    re-raising the first failure.
    """
    if not tasks:
        return []
    order = list(range(len(tasks)))
    if sizes is not None:
        order.sort(key=lambda i: -sizes[i])  # stable: equal sizes keep their order
    cancel = threading.Event()
    if len(tasks) == 1 or concurrency <= 1:
        # One after another in this thread: a pool's threads cost more than a few small copies.
        results = {i: tasks[i](cancel) for i in order}
        return [results[i] for i in range(len(tasks))]
    with ThreadPoolExecutor(
        max_workers=max(1, min(concurrency, len(tasks))), thread_name_prefix=name
    ) as pool:
        started: dict[int, Future[T]] = {i: pool.submit(tasks[i], cancel) for i in order}
        futures: list[Future[T]] = [started[i] for i in range(len(tasks))]
        try:
            done, _ = wait(futures, return_when=FIRST_EXCEPTION)
        except BaseException:
            cancel.set()
            for future in futures:
                future.cancel()
            raise
        failures = [f for f in futures if f in done and not f.cancelled() and f.exception() is not None]
        if failures:
            cancel.set()
            for future in futures:
                future.cancel()
            wait(futures)
            # Prefer a real failure over a task that merely noticed an outer cancellation.
            first = next((f for f in failures if not isinstance(f.exception(), Cancelled)), failures[0])
            exc = first.exception()
            assert exc is not None
            raise exc
    return [f.result() for f in futures]


def small_in_one_lane(
    tasks: Sequence[Task[object]], sizes: Sequence[int], small: int
) -> tuple[list[Task[object]], list[int]]:
    """Tasks for :func:`run_parallel` with every task of at most ``small`` bytes run one after another
    in a single task, beside the larger ones.

    For a local store: creating a file is the kernel's work and, on the 2-core VMs measured, did not go
    faster on more threads, while 8 threads trading the GIL for each system call of each small file
    cost 20-40% more CPU (futex hand-offs) than one. The lane checks the cancel event between files
    (each file's own task does), so a failure elsewhere still stops it at the next file.
    """
    lane = [i for i, size in enumerate(sizes) if size <= small]
    if len(lane) < 2:
        return list(tasks), list(sizes)
    rest = [i for i in range(len(tasks)) if sizes[i] > small]

    def run_lane(cancel: threading.Event) -> object:
        for i in lane:
            if cancel.is_set():
                raise Cancelled
            tasks[i](cancel)
        return None

    return [tasks[i] for i in rest] + [run_lane], [sizes[i] for i in rest] + [sum(sizes[i] for i in lane)]
