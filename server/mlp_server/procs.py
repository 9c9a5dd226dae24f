"""Child processes of the platform: started as ``sys.executable -m <module>`` (never forked from a
threaded server), stopped politely then firmly, and never outliving the Python process that owns them.

Generic on purpose: perf workers and the serving supervisor use it. Each child is told its owner's
pid (``MLP_PARENT_PID``) and can :func:`watch_parent`, so an owner killed with SIGKILL leaves no
orphan serving on. :class:`Backoff` spaces restarts; :func:`last_line` is a crash's reason.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import select
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

log = logging.getLogger("mlp_server.procs")

STOP_TIMEOUT = 5.0
# How long a kill waits for the child to be reaped. A killed child normally is within milliseconds, but
# one that cannot be (in uninterruptible sleep on a hung disk or mount; traced by a debugger that does
# not collect it) must not hold its owner: past this the owner goes on and the child is reaped later.
KILL_WAIT = 5.0
PARENT_PID_ENV = "MLP_PARENT_PID"

# Every live child of this process, stopped at interpreter exit (weak: a stopped child is forgotten).
_children: weakref.WeakSet[ChildProcess] = weakref.WeakSet()
_children_lock = threading.Lock()


class ChildProcess:
    """``python -m module args...`` in its own process group, with its output sent to ``log_path``
    (or inherited)."""

    def __init__(
        self,
        module: str,
        args: Sequence[str] = (),
        *,
        env: Mapping[str, str] | None = None,
        log_path: Path | None = None,
        cwd: Path | None = None,
    ) -> None:
        self.argv = [sys.executable, "-m", module, *args]
        self._env = dict(env) if env is not None else None
        self._log_path = log_path
        self._cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return None if self.proc is None else self.proc.pid

    def start(self) -> ChildProcess:
        out: IO[bytes] | None = None
        if self._log_path is not None:
            self._log_path.parent.mkdir(parents=True, exist_ok=True)
            out = self._log_path.open("ab")
        env = dict(self._env if self._env is not None else os.environ)
        env[PARENT_PID_ENV] = str(os.getpid())
        try:
            # A new session: a terminal's Ctrl-C goes to the owner, which then stops its children in order.
            self.proc = subprocess.Popen(
                self.argv,
                env=env,
                cwd=self._cwd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT if out is not None else None,
                start_new_session=True,
            )
        finally:
            if out is not None:
                out.close()  # the child has its own descriptor
        with _children_lock:
            _children.add(self)
        return self

    def poll(self) -> int | None:
        """The exit code once the child has ended (negative: killed by that signal), else None."""
        return None if self.proc is None else self.proc.poll()

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait(self, timeout: float | None = None) -> int | None:
        """The exit code, or None if the child still runs after ``timeout`` seconds."""
        if self.proc is None:
            return None
        if timeout is not None and self.proc.poll() is None and hasattr(os, "pidfd_open"):
            # Sleep until the child exits or the timeout passes; Popen.wait(timeout) would wake
            # every few milliseconds, stealing CPU from the measurement the child is making.
            try:
                fd = os.pidfd_open(self.proc.pid)
            except OSError:
                pass
            else:
                try:
                    select.select([fd], [], [], timeout)
                finally:
                    os.close(fd)
                return self.proc.poll()
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self, timeout: float = STOP_TIMEOUT) -> int | None:
        """SIGTERM, then SIGKILL after ``timeout`` seconds; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self._signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                log.warning("%s did not stop within %.0fs: killing it", self.argv[2], timeout)
                self.kill()
        return self.proc.poll()

    def kill(self, wait: float = KILL_WAIT) -> int | None:
        """SIGKILL at once (the child gets no chance to clean up); the exit code, or None if the child
        has not been reaped within ``wait`` seconds (it is left to be reaped later: never an unbounded
        wait, so that an owner's last-resort exit happens whatever its child does)."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self._signal(signal.SIGKILL)
            try:
                self.proc.wait(wait)
            except subprocess.TimeoutExpired:
                log.warning(
                    "%s (pid %d) killed but not reaped within %.0fs", self.argv[2], self.proc.pid, wait
                )
        return self.proc.poll()

    def _signal(self, sig: signal.Signals) -> None:
        assert self.proc is not None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, sig)  # the child and whatever it started itself


def describe_exit(code: int) -> str:
    """``exit status 3`` or ``killed by SIGSEGV``."""
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit status {code}"


@atexit.register
def stop_all_children() -> None:
    """At interpreter exit, stop every child still running (all at once, then wait)."""
    with _children_lock:
        children = [child for child in _children if child.alive()]
    for child in children:
        child._signal(signal.SIGTERM)
    for child in children:
        if child.wait(STOP_TIMEOUT) is None:
            child.kill()


@dataclass(frozen=True)
class Backoff:
    """Delays between restarts: ``first * factor**(n-1)`` capped at ``cap``; ``give_up_after``
    failures in a row mean the work cannot run."""

    first: float = 0.25
    factor: float = 2.0
    cap: float = 10.0
    give_up_after: int = 3

    def delay(self, failures: int) -> float:
        return float(min(self.cap, self.first * self.factor ** max(0, failures - 1)))


def last_line(log_path: Path, max_chars: int = 400) -> str:
    """The last non-empty line a child wrote to its log (why it died, usually)."""
    try:
        lines = log_path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return ""
    return next((line.strip()[-max_chars:] for line in reversed(lines) if line.strip()), "")


def watch_parent(interval: float = 1.0) -> None:
    """In a child: exit when the owner that started it is gone (a thread polling getppid)."""
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
    def close(self, *, exiting: bool = False) -> None: ...


_owners: weakref.WeakSet[Owner] = weakref.WeakSet()


def close_at_exit(owner: Owner) -> None:
    """Close ``owner`` (its children and whatever else it holds) at interpreter exit, before the
    remaining children are stopped."""
    with _children_lock:
        _owners.add(owner)


@atexit.register
def _close_owners() -> None:  # registered after stop_all_children, so it runs before it
    for owner in list(_owners):
        with contextlib.suppress(Exception):
            owner.close(exiting=True)
