"""A killed runner that cannot be reaped does not hold its owner: ``ChildProcess.kill`` waits a bounded
time, so ``mlp worker``'s stop (and its last-resort exit) happens whatever the runner does.

A child that SIGKILL cannot end at once is made for real: a debugger-like tracer attaches to it with
``ptrace`` and never collects it. The killed child is then a zombie only its tracer may see (Linux
hands it to its parent when the tracer detaches or ends), as a runner that a stopped ``strace -p`` or
``gdb`` holds is; a runner in uninterruptible sleep on a hung disk holds its parent the same way."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from mlp_server.procs import KILL_WAIT, ChildProcess

from . import models
from .conftest import Local

TRACER = """
import ctypes, sys, time
libc = ctypes.CDLL(None, use_errno=True)
PTRACE_SEIZE = 0x4206  # attach without stopping the tracee
if libc.ptrace(PTRACE_SEIZE, int(sys.argv[1]), None, None) != 0:
    print("error", ctypes.get_errno(), flush=True)
    sys.exit(1)
print("attached", flush=True)
time.sleep(600)  # never waits for its tracee: a killed one stays its zombie
"""


@contextmanager
def traced(pid: int) -> Iterator[None]:
    """``pid`` traced by a process that never collects it, until the block ends (the tracer is killed:
    its tracee is handed back to its parent)."""
    tracer = subprocess.Popen([sys.executable, "-c", TRACER, str(pid)], stdout=subprocess.PIPE, text=True)
    try:
        assert tracer.stdout is not None
        assert tracer.stdout.readline().strip() == "attached", "ptrace refused"
        yield
    finally:
        tracer.kill()
        tracer.wait()


def test_kill_returns_within_its_bound_when_the_child_cannot_be_reaped(tmp_path: Path) -> None:
    (tmp_path / "sleeper.py").write_text("import time\ntime.sleep(600)\n")
    child = ChildProcess("sleeper", cwd=tmp_path).start()
    assert child.pid is not None
    outcome: list[int | None] = []
    with traced(child.pid):
        killer = threading.Thread(target=lambda: outcome.append(child.kill()), daemon=True)
        asked = time.monotonic()
        killer.start()
        killer.join(KILL_WAIT + 10)
        took = time.monotonic() - asked
        assert not killer.is_alive(), "kill() still waits for a child it cannot reap"
        assert outcome == [None]  # killed, not reaped yet
        assert KILL_WAIT - 0.5 <= took < KILL_WAIT + 5, took
        assert "zombie" in Path(f"/proc/{child.pid}/status").read_text().lower()  # SIGKILL did its part
    # The tracer gone, the child is its parent's again: reaped, killed by SIGKILL.
    assert child.wait(10) == -signal.SIGKILL


def test_kill_reaps_a_child_at_once(tmp_path: Path) -> None:
    (tmp_path / "sleeper.py").write_text("import time\ntime.sleep(600)\n")
    child = ChildProcess("sleeper", cwd=tmp_path).start()
    asked = time.monotonic()
    assert child.kill() == -signal.SIGKILL
    assert time.monotonic() - asked < 2
    assert child.kill() == -signal.SIGKILL  # again: nothing to do, the same code


def test_a_worker_whose_runner_cannot_be_reaped_still_stops(local: Local, tmp_path: Path) -> None:
    """SIGTERM: the loop kills the runner, which stays unreaped; before the bound the loop waited for
    it for ever, and so did the last-resort exit (its kill waited on the same child)."""
    model_id = local.register(models.mlp(tmp_path / "mlp"))
    job_id = local.job(model_id, models.MLP_CONFIG, ["ml.c1i.large"])
    (task,) = local.tasks(job_id)
    worker = local.worker(measure="60")
    local.wait_status(task["TaskID"], {"Running"})
    deadline = time.monotonic() + 30
    while not worker.runners() and time.monotonic() < deadline:
        time.sleep(0.05)
    (runner,) = worker.runners()
    try:
        with traced(runner):
            asked = time.monotonic()
            os.kill(worker.proc.pid, signal.SIGTERM)
            try:
                code = worker.proc.wait(KILL_WAIT + 15)
            except subprocess.TimeoutExpired:
                code = None
            took = time.monotonic() - asked
            assert code == 0, (code, took, local.logs()[-2000:])
            assert took < KILL_WAIT + 10, (took, local.logs()[-2000:])
        assert "killed but not reaped" in local.logs(), local.logs()[-2000:]
    finally:
        if worker.alive():
            worker.kill()
