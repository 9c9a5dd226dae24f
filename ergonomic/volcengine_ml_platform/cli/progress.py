"""A transfer progress bar for terminals, drawn by rich on stderr: size, rate, time left and files.

The bar is sized to the terminal, so a redraw never wraps into a new line; the time left reads
``-:--:--`` until a rate is known. Quiet when stderr is not a terminal, so logs and pipes stay clean.
"""

from __future__ import annotations

import sys
import threading
from functools import cache
from typing import TYPE_CHECKING, TextIO

from ..transfer.progress import TransferProgress

if TYPE_CHECKING:  # rich is imported when a bar is first drawn, so a failing command never loads it
    from rich.progress import Progress, ProgressColumn, TaskID

# What every column but the bar takes at most, with the spaces between columns: the label (11),
# "100%" (4), "1023.9/1024.0 MB" (16), "1023.9 MB/s" (11), "0:00:00" (7), "1000/1000 files" (15).
_FIXED_WIDTH = 11 + 4 + 16 + 11 + 7 + 15 + 6
_MIN_BAR = 5


@cache
def _files_column() -> type[ProgressColumn]:
    from rich.progress import ProgressColumn, Task
    from rich.text import Text

    class FilesColumn(ProgressColumn):
        def render(self, task: Task) -> Text:
            return Text(f"{task.fields.get('files_done', 0)}/{task.fields.get('files_total', 0)} files")

    return FilesColumn


class ProgressBar:
    """A callable for the transfer layer's ``progress=``; rich redraws it at most ten times a second."""

    def __init__(self, label: str, stream: TextIO | None = None, *, enabled: bool | None = None) -> None:
        self.label = label
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty() if enabled is None else enabled
        self._lock = threading.Lock()
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def _start(self, p: TransferProgress) -> tuple[Progress, TaskID]:
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        console = Console(file=self.stream, force_terminal=True, highlight=False)
        bar_width = max(_MIN_BAR, console.width - _FIXED_WIDTH)
        progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(bar_width=bar_width),
            TextColumn("{task.percentage:>3.0f}%"),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            _files_column()(),
            console=console,
            refresh_per_second=10,
        )
        task = progress.add_task(
            self.label, total=p.bytes_total, files_done=p.files_done, files_total=p.files_total
        )
        progress.start()
        return progress, task

    def __call__(self, p: TransferProgress) -> None:
        if not self.enabled:
            return
        with self._lock:
            if self._progress is None or self._task is None:
                self._progress, self._task = self._start(p)
            self._progress.update(
                self._task,
                completed=p.bytes_done,
                total=p.bytes_total,
                files_done=p.files_done,
                files_total=p.files_total,
            )

    def close(self) -> None:
        with self._lock:
            if self._progress is not None:
                self._progress.stop()
                self._progress = None
