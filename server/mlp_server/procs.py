"""Child processes owned by the platform: started, watched, restarted with backoff, stopped.

Children are ``sys.executable -m mlp_server.<package>`` subprocesses, never forks of the (threaded)
server. Each child is told the platform's pid and exits when it is gone, so a platform killed with
SIGKILL leaves no orphan behind. The owners (the serving supervisor, the perf workers) are started
by ``mlp serve`` and lazily by the embedded platform, and stopped at interpreter exit.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

PARENT_PID_ENV = "MLP_PARENT_PID"


@dataclass(frozen=True)
class Backoff:
    """Delays between restarts: ``first * factor**n`` capped at ``cap``; ``give_up_after`` failures in
    a row (a child that dies before it ever became healthy) mean the work cannot run."""

    first: float = 0.25
    factor: float = 2.0
    cap: float = 10.0
    give_up_after: int = 3

    def delay(self, failures: int) -> float:
        return min(self.cap, self.first * self.factor ** max(0, failures - 1))


class Child:
    """One running child process; stderr goes to ``log_path`` (its tail explains a crash)."""

    def __init__(
        self,
        module: str,
        args: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        log_path: Path,
        stdout_pipe: bool = False,
    ) -> None:
        self.module = module
        self.log_path = log_path
        log_path.parent.mkdir(parents=True, exist_ok=True)
        child_env = dict(os.environ if env is None else env)
        child_env[PARENT_PID_ENV] = str(os.getpid())
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", module, *args],
                env=child_env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE if stdout_pipe else subprocess.DEVNULL,
                stderr=log,
                close_fds=True,
                start_new_session=True,  # a Ctrl-C in the platform's terminal is the platform's to handle
            )
        self.started = time.monotonic()

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def stdout(self) -> IO[bytes] | None:
        return self.proc.stdout

    def exit_code(self) -> int | None:
        return self.proc.poll()

    def stop(self, grace: float = 10.0) -> int:
        """SIGTERM, then SIGKILL after ``grace`` seconds; returns the exit code."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    self.proc.kill()
                self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        return self.proc.returncode

    def failure_reason(self, max_chars: int = 400) -> str:
        """The last meaningful line the child wrote to stderr, with its exit status."""
        code = self.proc.returncode
        how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit status {code}"
        try:
            lines = self.log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        except OSError:
            lines = []
        last = next((line.strip() for line in reversed(lines) if line.strip()), "")
        return f"{how}: {last[-max_chars:]}" if last else how


def watch_parent(interval: float = 1.0) -> None:
    """In a child: exit when the platform that started it is gone (a thread polling getppid)."""
    parent = os.environ.get(PARENT_PID_ENV)
    if not parent:
        return

    def watch() -> None:
        while True:
            if os.getppid() != int(parent):
                os._exit(3)
            time.sleep(interval)

    threading.Thread(target=watch, name="mlp-parent-watch", daemon=True).start()


class Owner(Protocol):
    def close(self) -> None: ...


_owners: weakref.WeakSet[Owner] = weakref.WeakSet()
_atexit_lock = threading.Lock()
_atexit_registered = False


def close_at_exit(owner: Owner) -> None:
    """Close ``owner`` (stop its children) when the interpreter exits."""
    global _atexit_registered
    with _atexit_lock:
        _owners.add(owner)
        if not _atexit_registered:
            atexit.register(_close_all)
            _atexit_registered = True


def _close_all() -> None:
    for owner in list(_owners):
        with contextlib.suppress(Exception):
            owner.close()
