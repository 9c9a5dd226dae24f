"""Progress reports of a transfer, aggregated from many worker threads."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class TransferProgress:
    """A snapshot of a transfer. ``current_file`` is the file (relative path or key) that last moved."""

    bytes_done: int
    bytes_total: int
    files_done: int
    files_total: int
    current_file: str | None


ProgressCallback = Callable[[TransferProgress], None]


class ProgressTracker:
    """Counts bytes and files from any thread and hands consistent snapshots to a callback.

    The callback runs under the tracker's lock: it is never called concurrently and sees the snapshots
    in order. ``bytes_done`` only goes backwards when a failed attempt is rolled back before a retry,
    so that the final report is exact.
    """

    def __init__(self, callback: ProgressCallback | None, *, bytes_total: int, files_total: int) -> None:
        self._callback = callback
        self._lock = threading.Lock()
        self._bytes_done = 0
        self._files_done = 0
        self._bytes_total = bytes_total
        self._files_total = files_total

    def start(self) -> None:
        """Report the totals before anything moves, so that a progress bar can size itself."""
        with self._lock:
            self._report(None)

    def add_bytes(self, name: str, nbytes: int) -> None:
        if nbytes == 0:
            return
        with self._lock:
            self._bytes_done += nbytes
            self._report(name)

    def file_done(self, name: str) -> None:
        with self._lock:
            self._files_done += 1
            self._report(name)

    def _report(self, name: str | None) -> None:
        if self._callback is not None:
            self._callback(
                TransferProgress(
                    self._bytes_done, self._bytes_total, self._files_done, self._files_total, name
                )
            )
