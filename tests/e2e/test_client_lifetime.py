"""What a Model holds and gives back: the embedded platform's threads and open files, and the
connections of an HTTP one. Many Models made and dropped (or closed) stay bounded; a data folder whose
last Model is closed is closed too (at once with ``MLP_EMBEDDED_LINGER=0``, else when its linger
ends, or at exit), so removing or re-creating it leaves nothing behind; a new Model per call within
the linger reuses the platform; ``with Model(...)`` closes what the Model opened."""

from __future__ import annotations

import contextlib
import gc
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import mlp_server.platform
from volcengine_ml_platform import embedded
from volcengine_ml_platform.errors import NotFoundError, ValidationError
from volcengine_ml_platform.models import inner_model
from volcengine_ml_platform.models.model import Model

from .helpers import Peer

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "iris-onnx"


@pytest.fixture(autouse=True)
def _no_platform_lingers_after() -> Iterator[None]:
    """What a test leaves lingering is closed after it, not while a later test counts."""
    yield
    embedded.close_idle()


def _fds() -> list[str]:
    names = []
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # the listing's own descriptor, closed by now
            names.append(os.readlink(f"/proc/self/fd/{fd}"))
    return names


def _register(model: Model, name: str = "x") -> str:
    created = model.register(str(EXAMPLE), model_name=name, model_format="ONNX", model_type="ONNX:1.23")
    return created.result.model_id


@pytest.mark.parametrize("close", [False, True], ids=["dropped", "closed"])
def test_embedded_models_made_and_let_go_leave_no_thread_or_descriptor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, close: bool
) -> None:
    embedded.close_idle()  # earlier tests' lingering platforms would close meanwhile
    monkeypatch.setenv(embedded.LINGER_ENV, "600")  # counted lingering, before and after
    with Model(data_dir=tmp_path / "d") as first:
        model_id = _register(first)
    gc.collect()
    fds, threads = len(_fds()), threading.active_count()
    keeper = Model(data_dir=tmp_path / "d")  # one long-lived Model keeps the platform open meanwhile
    keeper.get_model_versions(model_id)
    for _ in range(40):
        model = Model(data_dir=tmp_path / "d")
        model.get_model_versions(model_id)  # a full-platform request, on the platform's one loop
        if close:
            model.close()
        del model
    keeper.close()
    del keeper
    gc.collect()
    assert (len(_fds()) - fds, threading.active_count() - threads) == (0, 0)


def test_a_closed_folder_can_be_removed_and_made_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A data folder used, closed and removed releases its platform (no descriptor on its deleted
    database files); made again at the same path, it is a new platform, not the old one's keys."""
    monkeypatch.setenv(embedded.LINGER_ENV, "0")  # closed with its last Model, at once
    embedded.close_idle()
    gc.collect()
    fds, threads = len(_fds()), threading.active_count()
    for i in range(4):
        folder = tmp_path / f"d{i}"
        with Model(data_dir=folder) as model:
            _register(model)
        assert (folder.resolve(), model.session.region) not in embedded._platforms
        shutil.rmtree(folder)
    gc.collect()
    assert [name for name in _fds() if str(tmp_path) in name] == []
    assert (len(_fds()) - fds, threading.active_count() - threads) == (0, 0)

    folder = tmp_path / "reset"
    with Model(data_dir=folder) as model:
        _register(model, "a")
    shutil.rmtree(folder)
    with Model(data_dir=folder) as again:  # re-created: new keys, which the new platform knows
        _register(again, "b")
        assert [m.model_name for m in again.list_models().result.list_ or []] == ["b"]


def test_a_model_closed_twice_is_closed_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(embedded.LINGER_ENV, "0")
    model = Model(data_dir=tmp_path / "d")
    model_id = _register(model)
    other = Model(data_dir=tmp_path / "d")  # holds the platform open past the first close
    model.close()
    model.close()  # harmless: the platform is let go of once, so it stays open for ``other``
    assert other.get_model_versions(model_id).result.total == 1
    with pytest.raises(RuntimeError, match="closed"):
        model.get_model_versions(model_id)
    other.close()
    assert (tmp_path.joinpath("d").resolve(), other.session.region) not in embedded._platforms


def _full_read(model: Model, model_id: str) -> int:
    """A read the quick reads leave to the full platform (ListPerfJobs): the version's perf jobs."""
    return model.list_perf_jobs(model_id, "1").result.total


def _count_opens(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The data folders of the full platforms opened from now on (each build of one, recorded)."""
    opened: list[Path] = []
    real = mlp_server.platform.build_embedded_app

    def build(settings: Any, serve_services: bool = True) -> Any:
        opened.append(settings.data_dir)
        return real(settings, serve_services=serve_services)

    monkeypatch.setattr(mlp_server.platform, "build_embedded_app", build)
    return opened


def test_a_new_model_per_call_reuses_the_lingering_platform(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Within the linger, each new Model takes up the platform the last one left: one open, not one
    per call; the platform lingers held by no session, then closes when its linger ends."""
    monkeypatch.setenv(embedded.LINGER_ENV, "60")
    folder = tmp_path / "d"
    opened = _count_opens(monkeypatch)
    with Model(data_dir=folder) as first:
        model_id = _register(first)
        key = (folder.resolve(), first.session.region)
    full = embedded._platforms[key]
    for _ in range(10):
        with Model(data_dir=folder) as model:
            assert _full_read(model, model_id) == 0
        assert embedded._platforms[key] is full and full.users == 0
    assert opened == [folder.resolve()]

    monkeypatch.setenv(embedded.LINGER_ENV, "0.2")
    with Model(data_dir=folder) as model:  # its close starts a linger of 0.2 s
        _full_read(model, model_id)
    linger = embedded._linger_thread
    assert linger is not None and key in embedded._platforms
    linger.join(60)  # it ends once nothing lingers: the platform closed when its time was up
    assert not linger.is_alive() and key not in embedded._platforms
    assert [name for name in _fds() if str(tmp_path) in name] == []
    assert opened == [folder.resolve()]


def test_many_models_per_call_leave_one_lingering_platform(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """200 Models, each made for one call (half closed, half dropped), hold what one Model did: one
    platform, its threads and files, and one linger thread; closing the idle platforms gives it all
    back."""
    monkeypatch.setenv(embedded.LINGER_ENV, "600")
    embedded.close_idle()
    gc.collect()
    fds, threads = len(_fds()), threading.active_count()
    folder = tmp_path / "d"
    with Model(data_dir=folder) as model:
        model_id = _register(model)
    gc.collect()
    lingering = len(_fds()), threading.active_count()
    for i in range(200):
        model = Model(data_dir=folder)
        _full_read(model, model_id)
        if i % 2:
            model.close()
        del model
    gc.collect()
    assert (len(_fds()), threading.active_count()) == lingering
    embedded.close_idle()
    assert (len(_fds()) - fds, threading.active_count() - threads) == (0, 0)


def test_a_folder_re_created_while_its_platform_lingers_gets_a_new_platform(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lingering platform of a removed folder is not the re-created folder's (its keys are new):
    it is closed, its descriptors on the deleted files with it, and a new platform answers."""
    monkeypatch.setenv(embedded.LINGER_ENV, "600")
    folder = tmp_path / "d"
    opened = _count_opens(monkeypatch)
    with Model(data_dir=folder) as model:
        _register(model, "a")
        key = (folder.resolve(), model.session.region)
    stale = embedded._platforms[key]
    shutil.rmtree(folder)
    with Model(data_dir=folder) as again:
        _register(again, "b")
        assert [m.model_name for m in again.list_models().result.list_ or []] == ["b"]
    assert embedded._platforms[key] is not stale
    assert [name for name in _fds() if name.endswith("(deleted)") and str(tmp_path) in name] == []
    assert opened == [folder.resolve()] * 2

    shutil.rmtree(folder)  # removed, not re-created: a new Model makes it afresh
    with Model(data_dir=folder) as fresh:
        assert fresh.list_models().result.total == 0
    assert len(opened) == 3
    embedded.close_idle()


def _count_in_another_process(database: Path) -> int:
    """The models another process reads in ``database`` (its connection closed after: were it the
    database's last, SQLite would checkpoint and delete the write-ahead log)."""
    script = (
        "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); "
        "print(c.execute('SELECT count(*) FROM models').fetchone()[0]); c.close()"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(database)], capture_output=True, text=True, timeout=60, check=True
    )
    return int(done.stdout)


def test_a_moved_folders_lingering_platform_closes_without_dropping_the_new_paths_locks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A folder moved (mv) while its platform lingers is opened afresh at its new path: the same
    database file. Closing the old platform must leave the new one's SQLite locks (POSIX locks are the
    process's, per file: closing any descriptor of the file drops them all), or another process's
    connection, taking itself for the last, deletes the write-ahead log under the open platform, whose
    next writes are then lost to every other connection."""
    monkeypatch.setenv(embedded.LINGER_ENV, "600")
    folder, moved = tmp_path / "d", tmp_path / "moved"
    with Model(data_dir=folder) as model:
        _register(model, "a")
    folder.rename(moved)
    database = moved / "mlp.sqlite3"
    with Model(data_dir=moved) as model:
        _register(model, "b")
        embedded.close_idle()  # the old path's platform: its linger is up
        assert _count_in_another_process(database) == 2
        assert (moved / "mlp.sqlite3-wal").exists()  # still the open platform's
        _register(model, "c")
        assert _count_in_another_process(database) == 3
        assert model.list_models().result.total == 3
    embedded.close_idle()
    assert _count_in_another_process(database) == 3


@pytest.mark.parametrize("value", ["soon", "-1", "nan", "7200"])
def test_a_bad_linger_is_refused_before_anything_is_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, value: str
) -> None:
    monkeypatch.setenv(embedded.LINGER_ENV, value)
    with pytest.raises(ValidationError, match=r"MLP_EMBEDDED_LINGER=.*from 0 .* to 3600") as refused:
        Model(data_dir=tmp_path / "d")
    assert refused.value.field == "MLP_EMBEDDED_LINGER"
    assert not (tmp_path / "d").exists()


def test_a_lingering_platform_neither_delays_nor_survives_the_interpreters_exit(tmp_path: Path) -> None:
    """A program whose last Model closed exits at once, its lingering platform closed on the way out
    (SQLite's last connection closed cleanly removes the write-ahead log)."""
    folder = tmp_path / "d"
    script = textwrap.dedent(
        f"""
        from volcengine_ml_platform import embedded
        from volcengine_ml_platform.models.model import Model

        with Model(data_dir={str(folder)!r}) as model:
            model.register({str(EXAMPLE)!r}, model_name="x", model_format="ONNX", model_type="ONNX:1.23")
        assert embedded._platforms and embedded._linger_thread is not None  # lingering
        """
    )
    env = {**os.environ, embedded.LINGER_ENV: "600"}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, timeout=120, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert (folder / "mlp.sqlite3").is_file()
    assert not (folder / "mlp.sqlite3-wal").exists()


@pytest.mark.parametrize("parent", ["holds", "lingers"])
def test_a_forked_child_opens_its_own_platform(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, parent: str
) -> None:
    """A child forked while the parent's platform is open (held by a Model, or lingering) does not use
    it (its loop thread and writer did not follow the fork): its Models open their own, and the
    parent's platform goes on serving the parent."""
    monkeypatch.setenv(embedded.LINGER_ENV, "600")
    folder = tmp_path / "d"
    keeper = Model(data_dir=folder)
    model_id = _register(keeper)
    key = (folder.resolve(), keeper.session.region)
    full = embedded._platforms[key]
    if parent == "lingers":
        keeper.close()
    pid = os.fork()
    if pid == 0:  # the child: exits with 0 if its Model answered from a platform of its own
        code = 1
        try:
            signal.alarm(60)  # the parent's loop would never answer: end rather than hang
            with Model(data_dir=folder) as model:
                if _full_read(model, model_id) == 0 and embedded._platforms[key] is not full:
                    code = 0
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    with Model(data_dir=folder) as model:
        assert _full_read(model, model_id) == 0
    assert embedded._platforms[key] is full
    keeper.close()
    embedded.close_idle()


def test_a_forked_child_uses_its_parents_models_on_a_platform_of_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Models made before a fork (module-level ones, a fork pool's workers) work in the child: their
    sessions forget the parent's platform (whose loop thread did not follow: a request waited for
    ever) and quick-read connection (SQLite's must not cross a fork), and open the child's own
    platform; the parent's goes on serving the parent."""
    folder = tmp_path / "d"
    monkeypatch.setenv(embedded.LINGER_ENV, "0")
    with Model(data_dir=folder) as first:  # made, then closed at once: the folder needs nothing done
        model_id = _register(first)
    monkeypatch.setenv(embedded.LINGER_ENV, "600")
    reader = Model(data_dir=folder)
    assert reader.session.platform is not None and reader.session.platform.quick  # a quick-read connection
    assert reader.list_models().result.total == 1
    keeper = Model(data_dir=folder)
    _full_read(keeper, model_id)
    key = (folder.resolve(), keeper.session.region)
    full = embedded._platforms[key]
    pid = os.fork()
    if pid == 0:  # the child: exits with 0 if the parent's Models answered from the child's platform
        code = 1
        try:
            signal.alarm(60)  # the parent's loop would never answer: end rather than hang
            keeper.update_model(model_id, model_name="renamed-in-child")
            names = [m.model_name for m in reader.list_models().result.list_ or []]
            if _full_read(keeper, model_id) == 0 and embedded._platforms[key] is not full:
                code = 0 if names == ["renamed-in-child"] else 2
            keeper.close()
            reader.close()
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    assert keeper.get_model(model_id).result.model_name == "renamed-in-child"
    assert embedded._platforms[key] is full
    keeper.close()
    reader.close()
    embedded.close_idle()


def test_a_platform_running_perf_workers_stays_open_after_its_last_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Perf workers live as long as the process (documented): closing the last Model keeps them."""
    monkeypatch.setenv("MLP_PERF_WORKERS", "1")
    monkeypatch.setenv(embedded.LINGER_ENV, "0")  # kept for its workers, not for a linger
    folder = tmp_path / "d"
    with Model(data_dir=folder) as model:
        key = (folder.resolve(), model.session.region)
        embedded._platforms[key].app.state.platform.wake_perf_workers()
    full = embedded._platforms.get(key)
    assert full is not None and full.app.state.platform.perf_workers.started
    # The worker's log is its own rotated file (its lines are not the process's raw output).
    log = folder / "logs" / "perf-worker-0.log"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and "perf worker" not in (log.read_text() if log.exists() else ""):
        time.sleep(0.1)
    assert "perf worker" in log.read_text()
    workers = list(full.app.state.platform.perf_workers.workers)
    assert "--log-file" in workers[0].argv
    embedded._platforms.pop(key).close()
    assert [worker.poll() is None for worker in workers] == [False]  # closing stopped it


def test_models_used_with_a_context_leave_no_resource_warning(http_peer: Peer) -> None:
    """Over HTTP each Model has its connection pool: ``with`` closes it (a dropped one is reported
    by a ResourceWarning per unclosed socket)."""
    settings = {
        "endpoint": http_peer.endpoint,
        "access_key": http_peer.keys.ak,
        "secret_key": http_peer.keys.sk,
    }
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        for _ in range(3):
            with Model(**settings) as model:
                model.list_models()
            # both doors' connections
            with inner_model.Model(2100000001, 1, **settings) as inner, pytest.raises(NotFoundError):
                inner.get_model_version("m-20260101000000-nosch", "1")
        gc.collect()
    assert [str(w.message) for w in caught if issubclass(w.category, ResourceWarning)] == []
