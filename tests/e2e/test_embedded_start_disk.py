"""The embedded platform opening its data folder on a full or read-only disk: ``Model()`` raises
:class:`LocalPlatformError` naming the folder, the state of its disk and the cause (as ``mlp serve``
says it), and the ``mlp`` command prints that and exits 1, never a traceback or "unexpected error";
nothing is left half-written or open, so the same folder opens once there is room. Needs root, to
mount a small tmpfs."""

from __future__ import annotations

import errno
import gc
import multiprocessing
import os
import shutil
import subprocess
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest
import sqlalchemy.exc

from mlp_server.storage_errors import disk_problem
from mlp_testing import CAN_MOUNT, clean_env, fill_disk, mlp_script, small_disk
from volcengine_ml_platform.errors import LocalPlatformError
from volcengine_ml_platform.models.model import Model

pytestmark = pytest.mark.skipif(not CAN_MOUNT, reason="mounting a small tmpfs needs root")


@pytest.fixture
def small_fs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    # Each platform these tests open must be closed with its Model (no linger): the tests count the
    # threads and open files it leaves, and remove its folder.
    monkeypatch.setenv("MLP_EMBEDDED_LINGER", "0")
    with small_disk(tmp_path / "small") as mount:
        yield mount


def open_files_under(folder: Path) -> list[str]:
    """This process's open files inside ``folder`` (the database, its WAL)."""
    found = []
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith(f"{folder}/"):
            found.append(target)
    return found


def temporary_files(folder: Path) -> list[str]:
    return [p.name for p in folder.rglob("*") if p.is_file() and "tmp" in p.name]


def mlp_models_list(data: Path, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [mlp_script(), "models", "list", "--data-dir", str(data)],
        env=clean_env(home),
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_opening_on_a_full_disk_names_the_data_folder_and_leaves_it_usable(small_fs: Path) -> None:
    # Each gap stops the first start somewhere else: the database, its schema, the credentials file,
    # the account, the token key, the object store's folders.
    refused = 0
    threads = {t.name for t in threading.enumerate()}
    for gap in range(0, 80, 2):
        data = small_fs / f"data-{gap}"
        filler = fill_disk(small_fs, gap)
        try:
            Model(data_dir=data).list_models()
        except LocalPlatformError as exc:
            refused += 1
            assert exc.data_dir == data
            said = f"the embedded platform cannot start: the disk of its data folder {data} is full ("
            assert str(exc).startswith(said) and str(exc).endswith(
                "free space or make it writable, then try again"
            )
        else:
            break  # and with more room it opens too
        finally:
            filler.unlink()
        gc.collect()  # the error's traceback held a connection it was making
        assert open_files_under(data) == [], gap  # the store it opened is closed again
        assert {t.name for t in threading.enumerate()} - threads == set(), gap  # its writer thread too
        assert temporary_files(data) == [], gap
        assert Model(data_dir=data).list_models().result.total == 0  # with room: it opens, keys work
        shutil.rmtree(data)  # each gap starts from the same empty disk
    assert refused > 2, "too few gaps stopped the start: the test no longer tests much"


def test_the_mlp_command_on_a_full_disk_says_so_and_exits_1(small_fs: Path, tmp_path: Path) -> None:
    data = small_fs / "data"
    filler = fill_disk(small_fs, 0)
    done = mlp_models_list(data, tmp_path)
    filler.unlink()
    assert done.returncode == 1, done.stderr
    assert done.stderr.startswith(
        f"mlp: error: the embedded platform cannot start: the disk of its data folder {data} is full ("
    ), done.stderr
    assert "unexpected error" not in done.stderr and "Traceback" not in done.stderr, done.stderr
    assert temporary_files(data) == []
    assert mlp_models_list(data, tmp_path).returncode == 0  # with room again


def test_a_read_only_disk_is_named_for_a_new_and_an_existing_folder(small_fs: Path, tmp_path: Path) -> None:
    existing, new = small_fs / "existing", small_fs / "new"
    Model(data_dir=existing).list_models()
    subprocess.run(["mount", "-o", "remount,ro", str(small_fs)], check=True)
    try:
        for data in (new, existing):
            with pytest.raises(LocalPlatformError) as caught:
                Model(data_dir=data).list_models()
            said = f"the embedded platform cannot start: the disk of its data folder {data} is read-only ("
            assert str(caught.value).startswith(said), caught.value
            done = mlp_models_list(data, tmp_path)
            assert done.returncode == 1 and done.stderr.startswith(f"mlp: error: {said}"), done.stderr
    finally:
        subprocess.run(["mount", "-o", "remount,rw", str(small_fs)], check=True)
    assert Model(data_dir=existing).list_models().result.total == 0


def test_a_damaged_database_on_a_nearly_full_disk_is_not_put_down_to_the_disk(small_fs: Path) -> None:
    """Less than 1 MiB free does not make every error the disk's: a database file that is not one
    says so, as it does with room (freeing space would not help)."""
    data = small_fs / "data"
    Model(data_dir=data).list_models()
    (data / "mlp.sqlite3").write_bytes(b"not an SQLite database " * 100)
    filler = fill_disk(small_fs, 50)  # 200 KiB left
    try:
        with pytest.raises(sqlalchemy.exc.DatabaseError, match="file is not a database"):
            Model(data_dir=data).list_models()
    finally:
        filler.unlink()


def test_a_bug_while_handling_an_io_error_is_not_put_down_to_the_disk(small_fs: Path) -> None:
    """An error raised while another was handled (``__context__``) is a failure of its own: on a
    nearly full disk it is raised as it is, not blamed on the disk; one raised from an unexplained I/O
    error (``raise ... from``) is the disk's."""
    filler = fill_disk(small_fs, 50)  # 200 KiB left
    try:
        try:
            try:
                raise OSError(errno.EIO, "Input/output error")
            except OSError:
                raise TypeError("a bug in the handler")  # noqa: B904 - the implicit chain is the point
        except TypeError as bug:
            assert disk_problem(bug, small_fs / "data") is None
        try:
            try:
                raise OSError(errno.EIO, "Input/output error")
            except OSError as io:
                raise RuntimeError("opening failed") from io
        except RuntimeError as failed:
            assert disk_problem(failed, small_fs / "data") == ("full", failed.__cause__)
    finally:
        filler.unlink()


def _models_in(data: str) -> int:
    """A process pool's task: open the embedded platform of ``data`` and count its models."""
    return Model(data_dir=data).list_models().result.total


def test_the_full_disk_error_of_a_pool_worker_reaches_its_parent(small_fs: Path) -> None:
    """A worker process (a process pool's task) that cannot open the data folder hands its parent the
    same LocalPlatformError, folder and all: the error survives pickling."""
    data = small_fs / "data"
    filler = fill_disk(small_fs, 0)
    try:
        pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("fork"))
        with pool, pytest.raises(LocalPlatformError) as caught:
            pool.submit(_models_in, str(data)).result(timeout=120)
    finally:
        filler.unlink()
    assert caught.value.data_dir == data
    said = f"the embedded platform cannot start: the disk of its data folder {data} is full ("
    assert str(caught.value).startswith(said), caught.value
