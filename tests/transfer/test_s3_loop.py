"""The S3 store's ranged GETs run on one event loop thread (transfer/_loop.py): a failure stops every
range before the call returns, a forked child gets a loop of its own, and the loop's requests share
the store's request slots with the threads' requests."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
import signal
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from volcengine_ml_platform.transfer import S3Store, _loop, download_prefix, upload_path

from .conftest import PART


def test_a_failing_job_stops_the_others_before_run_returns() -> None:
    started: list[int] = []
    finished: list[int] = []  # the jobs whose finally ran: cancelled, or done

    def job(i: int) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            started.append(i)
            try:
                if i == 1:
                    await asyncio.sleep(0.01)
                    raise OSError("range 1 failed")
                await asyncio.sleep(10)
            finally:
                finished.append(i)

        return run

    begin = time.monotonic()
    with pytest.raises(OSError, match="range 1 failed"):
        _loop.run(lambda: _loop.run_all([job(i) for i in range(6)], concurrency=3))

    assert time.monotonic() - begin < 5  # the sleeping jobs were cancelled, not waited for
    assert sorted(started) == [0, 1, 2]  # jobs 3-5 never started
    assert sorted(finished) == [0, 1, 2]  # and every started one had stopped when run() returned


def test_results_and_errors_cross_the_thread() -> None:
    async def answer() -> int:
        return 42

    async def fail() -> int:
        raise ValueError("from the loop")

    assert _loop.run(answer) == 42
    with pytest.raises(ValueError, match="from the loop"):
        _loop.run(fail)


def _interrupt_after(seconds: float) -> None:
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGALRM, interrupt)
    signal.setitimer(signal.ITIMER_REAL, seconds)


@pytest.mark.parametrize("loop_busy", [False, True], ids=["running", "not-started"])
def test_an_interrupt_stops_the_work_before_run_raises(loop_busy: bool) -> None:
    """Also when the interrupt comes before the loop started the coroutine (the loop busy): run() raises
    at once, with nothing of the work left running."""
    steps: list[str] = []

    async def slow() -> None:
        steps.append("started")
        try:
            await asyncio.sleep(10)
        finally:
            steps.append("stopped")

    async def noop() -> None:
        pass

    _loop.run(noop)  # the loop thread exists
    if loop_busy:
        _loop._loop().call_soon_threadsafe(time.sleep, 0.6)  # holds the loop past the interrupt
    previous = signal.getsignal(signal.SIGALRM)
    begin = time.monotonic()
    try:
        _interrupt_after(0.2)
        with pytest.raises(KeyboardInterrupt):
            _loop.run(slow)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)

    assert time.monotonic() - begin < 5
    # Not started yet: it may never start, or start and be stopped at its first await, before run() raised.
    assert steps in ([[], ["started", "stopped"]] if loop_busy else [["started", "stopped"]])
    assert _loop.run(lambda: asyncio.sleep(0, result=7)) == 7  # the loop still serves


def _in_child(queue: multiprocessing.Queue[int]) -> None:
    async def pid() -> int:
        return os.getpid()

    queue.put(_loop.run(pid))


def test_a_forked_child_gets_its_own_loop() -> None:
    async def noop() -> None:
        pass

    _loop.run(noop)  # the parent's loop exists before the fork
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_in_child, args=(queue,))
    child.start()
    child.join(timeout=30)
    if child.is_alive():
        child.kill()

    assert child.exitcode == 0  # with the parent's (threadless) loop it would hang here
    assert queue.get(timeout=5) == child.pid


def test_ranges_wait_for_the_slots_the_threads_hold(
    s3_store: S3Store, s3_bucket: str, tmp_path: Path
) -> None:
    src = tmp_path / "m"
    src.mkdir()
    data = os.urandom(2 * PART + 5)
    (src / "big.bin").write_bytes(data)
    url = upload_path(s3_store, src, s3_bucket, "p/")
    store = S3Store(
        s3_store.endpoint_url,
        "testing",
        "testing",
        region="us-east-1",
        addressing_style="path",
        part_size=PART,
        max_concurrency=2,
    )
    for _ in range(2):
        store._slots.acquire()  # every slot taken, as by two threads' requests
    done = threading.Event()
    failures: list[BaseException] = []

    def download() -> None:
        try:
            download_prefix(store, url, tmp_path / "out")
        except BaseException as exc:
            failures.append(exc)
        finally:
            done.set()

    threading.Thread(target=download).start()
    assert not done.wait(0.5)  # no range goes while no slot is free
    store._slots.release()
    store._slots.release()

    assert done.wait(30) and failures == []
    assert (tmp_path / "out" / "big.bin").read_bytes() == data
