"""What a Model holds and gives back: the embedded platform's threads and open files, and the
connections of an HTTP one. Many Models made and dropped (or closed) stay bounded; a data folder whose
last Model is closed is closed too, so removing or re-creating it leaves nothing behind; ``with
Model(...)`` closes what the Model opened."""

from __future__ import annotations

import contextlib
import gc
import os
import shutil
import threading
import time
import warnings
from pathlib import Path

import pytest

from volcengine_ml_platform import embedded
from volcengine_ml_platform.errors import NotFoundError
from volcengine_ml_platform.models import inner_model
from volcengine_ml_platform.models.model import Model

from .helpers import Peer

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "iris-onnx"


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
def test_embedded_models_made_and_let_go_leave_no_thread_or_descriptor(tmp_path: Path, close: bool) -> None:
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


def test_a_closed_folder_can_be_removed_and_made_again(tmp_path: Path) -> None:
    """A data folder used, closed and removed releases its platform (no descriptor on its deleted
    database files); made again at the same path, it is a new platform, not the old one's keys."""
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


def test_a_model_closed_twice_is_closed_once(tmp_path: Path) -> None:
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


def test_a_platform_running_perf_workers_stays_open_after_its_last_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Perf workers live as long as the process (documented): closing the last Model keeps them."""
    monkeypatch.setenv("MLP_PERF_WORKERS", "1")
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
