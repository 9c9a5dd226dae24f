"""A transfer progress bar for terminals: size, rate and time left, redrawn in place on stderr.

Quiet when stderr is not a terminal, so logs and pipes stay clean."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO

from ..transfer.progress import TransferProgress


def human_bytes(n: float) -> str:
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024 or unit == "TiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} TiB"


def human_seconds(s: float) -> str:
    s = max(0, int(s))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class ProgressBar:
    """A callable for the transfer layer's ``progress=``; draws at most ten times a second."""

    def __init__(self, label: str, stream: TextIO | None = None, *, enabled: bool | None = None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self._start = time.monotonic()
        self._last_draw = 0.0
        self._lock = threading.Lock()
        self._drawn = False

    def render(self, p: TransferProgress, now: float) -> str:
        elapsed = max(now - self._start, 1e-6)
        rate = p.bytes_done / elapsed
        left = (p.bytes_total - p.bytes_done) / rate if rate > 0 else 0.0
        pct = 100.0 * p.bytes_done / p.bytes_total if p.bytes_total else 100.0
        width = 24
        filled = int(width * pct / 100)
        return (
            f"{self.label} [{'#' * filled}{'.' * (width - filled)}] {pct:5.1f}%  "
            f"{human_bytes(p.bytes_done)} / {human_bytes(p.bytes_total)}  {human_bytes(rate)}/s  "
            f"ETA {human_seconds(left)}  ({p.files_done}/{p.files_total} files)"
        )

    def __call__(self, p: TransferProgress) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        finished = p.bytes_done >= p.bytes_total and p.files_done >= p.files_total
        with self._lock:
            if not finished and now - self._last_draw < 0.1:
                return
            self._last_draw = now
            self.stream.write("\r" + self.render(p, now))
            self.stream.flush()
            self._drawn = True

    def close(self) -> None:
        if self.enabled and self._drawn:
            self.stream.write("\n")
            self.stream.flush()
