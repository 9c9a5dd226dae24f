"""The serving lease a reader probes: a holder is alive only while its very process runs (not a dead
pid, not a reused one, not a zombie); on another host, only while the lock file is locked."""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import pytest

from mlp_server.serving.lease import Holder, folder_lease_held, lock_path
from mlp_server.serving.supervisor import ServingSupervisor
from mlp_server.store import Store
from volcengine_ml_platform.transfer.folder import FolderStore


def _write(data_dir: Path, holder: Holder | None) -> Path:
    path = lock_path(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("" if holder is None else json.dumps(asdict(holder)), encoding="utf-8")
    return path


def test_no_file_or_an_empty_one_is_no_holder(tmp_path: Path) -> None:
    assert folder_lease_held(tmp_path) is False
    _write(tmp_path, None)  # what a supervisor leaves when it closes
    assert folder_lease_held(tmp_path) is False


def test_this_process_holds_and_a_reused_pid_does_not(tmp_path: Path) -> None:
    me = Holder.this_process()
    _write(tmp_path, me)
    assert folder_lease_held(tmp_path) is True
    _write(tmp_path, replace(me, started=str(int(me.started) - 1)))  # same pid, earlier process
    assert folder_lease_held(tmp_path) is False
    _write(tmp_path, replace(me, boot_id="another-boot"))
    assert folder_lease_held(tmp_path) is False


def test_a_killed_process_is_not_a_holder_even_before_it_is_reaped(tmp_path: Path) -> None:
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        holder = replace(Holder.this_process(), pid=child.pid, started=_started(child.pid))
        _write(tmp_path, holder)
        assert folder_lease_held(tmp_path) is True
        child.kill()
        os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # dead, still a zombie
        assert folder_lease_held(tmp_path) is False
    finally:
        child.kill()
        child.wait()
    assert folder_lease_held(tmp_path) is False  # reaped: the pid is gone


@pytest.mark.parametrize("locked", [True, False])
def test_a_holder_on_another_host_is_judged_by_the_lock(tmp_path: Path, locked: bool) -> None:
    path = _write(tmp_path, replace(Holder.this_process(), host="elsewhere", pid=1))
    fd = os.open(path, os.O_RDWR)
    try:
        if locked:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert folder_lease_held(tmp_path) is locked
    finally:
        os.close(fd)


def _started(pid: int) -> str:
    stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    return stat[stat.rfind(")") + 2 :].split()[19]


def test_a_waiting_supervisor_takes_over_when_the_owner_ends(tmp_path: Path) -> None:
    """``mlp serve`` beside a process that serves the folder: it takes the services over once that
    process is gone, without waiting for a service request."""
    store = Store(f"sqlite:///{tmp_path / 'mlp.sqlite3'}")
    owner, waiting = (ServingSupervisor(store, FolderStore(tmp_path / "objects"), tmp_path) for _ in range(2))
    try:
        assert owner.ensure_started() is True
        assert waiting.ensure_started() is False
        waiting.keep_trying(interval=0.05)
        time.sleep(0.2)
        assert not waiting.serving and folder_lease_held(tmp_path)
        owner.close()
        deadline = time.monotonic() + 10
        while not waiting.serving:
            assert time.monotonic() < deadline, "the waiting supervisor did not take over"
            time.sleep(0.05)
        assert folder_lease_held(tmp_path)
    finally:
        for supervisor in (owner, waiting):
            supervisor.close()
        store.close()
    assert not folder_lease_held(tmp_path)  # released: nobody serves
