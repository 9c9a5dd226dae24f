"""The threaded write loop the in-process store benchmarks share (create_model_cost, registrations).

``run(threads, seconds, write)`` calls ``write(thread_index, count_so_far)`` from ``threads`` threads
until ``seconds`` have passed, all threads started before the clock, and answers the writes per second
and this process's CPU (all its threads: the callers and the store's writer) per write.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Rate:
    writes: int
    wall: float  # seconds
    cpu: float  # process CPU seconds, every thread

    @property
    def per_second(self) -> float:
        return self.writes / self.wall

    @property
    def cpu_ms(self) -> float:
        """CPU milliseconds per write."""
        return self.cpu / max(self.writes, 1) * 1e3


def run(threads: int, seconds: float, write: Callable[[int, int], object]) -> Rate:
    done = [0] * threads
    deadline = time.perf_counter() + seconds

    def writer(index: int) -> None:
        while time.perf_counter() < deadline:
            write(index, done[index])
            done[index] += 1

    cpu0, t0 = time.process_time(), time.perf_counter()
    workers = [threading.Thread(target=writer, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    return Rate(sum(done), time.perf_counter() - t0, time.process_time() - cpu0)
