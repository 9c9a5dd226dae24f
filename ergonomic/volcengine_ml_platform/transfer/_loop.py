"""One asyncio event loop, on a thread of its own, for the S3 store's ranged GETs.

obstore's blocking calls drive a request from the calling thread, which tokio's workers wake for every
piece of the body that arrives (tens per MiB): a large download spent a sixth of its CPU switching
threads. Awaited on this loop, the same requests run on tokio's workers and hand over only whole chunks.
The caller blocks until the coroutine has finished, including after an interrupt, so nothing it started
(a write to the caller's file descriptor, say) can outlive the call.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")

_lock = threading.Lock()
_current: tuple[int, asyncio.AbstractEventLoop] | None = None  # (pid that started it, the loop)


def _loop() -> asyncio.AbstractEventLoop:
    """The process's loop, started on first use (again in a forked child: the thread did not follow)."""
    global _current
    with _lock:
        if _current is None or _current[0] != os.getpid():
            loop = asyncio.new_event_loop()
            threading.Thread(target=loop.run_forever, name="mlp-s3-loop", daemon=True).start()
            _current = (os.getpid(), loop)
        return _current[1]


def run(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run the coroutine ``make()`` on the loop and return its result; blocks the calling thread."""
    finished = threading.Event()

    async def guarded() -> T:
        try:
            return await make()
        finally:
            finished.set()

    future = asyncio.run_coroutine_threadsafe(guarded(), _loop())
    try:
        return future.result()
    except BaseException:
        future.cancel()  # e.g. KeyboardInterrupt in this thread: stop the work, and wait until it stopped
        finished.wait()
        raise


async def run_all(jobs: list[Callable[[], Awaitable[None]]], concurrency: int) -> None:
    """Await every job, ``concurrency`` at a time, in order; at the first failure the running jobs are
    cancelled (and awaited) and the failure raised, the jobs not started are dropped."""
    pending = iter(jobs)

    async def worker() -> None:
        for job in pending:
            await job()

    workers = [asyncio.ensure_future(worker()) for _ in range(max(1, min(concurrency, len(jobs))))]
    try:
        done, _ = await asyncio.wait(workers, return_when=asyncio.FIRST_EXCEPTION)
        failed = next((w for w in workers if w in done and w.exception() is not None), None)
        if failed is not None:
            exc = failed.exception()
            assert exc is not None
            raise exc
    finally:
        for w in workers:
            w.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
