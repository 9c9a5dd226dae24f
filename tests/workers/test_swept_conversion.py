"""A conversion whose upload the storage sweep judged (a short grace, between the runner's upload of
the converted model and its registration) is uploaded again to a new Path once and registered, as the
client's ``register`` does; a second upload taken too fails the task saying so plainly (a user cannot
upload a conversion again). The runner runs in this process (its conversion child in its own), the
sweep on a second platform on the same data folder."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from mlp_server.lifecycle import split_path, sweep
from mlp_server.platform import Platform, open_platform
from mlp_server.settings import ServerSettings
from mlp_server.store import ClaimedTask
from mlp_server.workers.errors import TaskError
from mlp_server.workers.runner import RunSpec, run
from volcengine_ml_platform.transfer import manager

from . import models
from .test_stale_runner import registered_mlp

ACCOUNT = 2100000050


@pytest.fixture
def platforms(tmp_path: Path) -> Iterator[tuple[Platform, Platform]]:
    """The runner's platform, and a second one on the same data folder (the sweep's: ``mlp gc``)."""
    opened = [open_platform(ServerSettings(tmp_path / "platform")) for _ in "ab"]
    try:
        yield opened[0], opened[1]
    finally:
        for platform in opened:
            platform.store.close()


def conversion_task(platform: Platform, tmp_path: Path) -> ClaimedTask:
    """A registered MLP whose FP16 CONVERT_PERF task a worker ``w`` claimed."""
    version_id = registered_mlp(platform, models.mlp(tmp_path / "mlp"))
    platform.store.create_perf_job(
        ACCOUNT,
        {
            "ModelVersionID": version_id,
            "TensorConfig": models.MLP_CONFIG,
            "JobType": "CONVERT_PERF",
            "JobParamsList": [{"FlavorIDList": ["ml.c1i.large"], "ConvertPrecisionList": ["FP16"]}],
        },
    )
    task = platform.store.claim_next_task(worker_id="w", lease_seconds=120)
    assert task is not None
    return task


def sweep_after_uploads(monkeypatch: pytest.MonkeyPatch, other: Platform, times: int) -> list[str]:
    """After each of the runner's first ``times`` uploads of a converted model, before its registration,
    a sweep with grace 0 judges that upload (as a short grace does); returns the uploads' Paths."""
    original = manager.upload_path
    uploaded: list[str] = []

    def upload_path(*args: Any, **kwargs: Any) -> str:
        path = original(*args, **kwargs)
        if "/from-perf/" in path and len(uploaded) < times:
            swept = sweep(other, grace_seconds=0).prefixes
            assert any(path.startswith(p) for p in swept), (path, swept)
        uploaded.append(path)
        return path

    monkeypatch.setattr(manager, "upload_path", upload_path)
    return uploaded


def objects_under(platform: Platform, path: str) -> list[str]:
    bucket, prefix = split_path(path)
    return [o.key for o in platform.objects.list_objects(bucket, prefix)]


def converted_versions(platform: Platform, task: ClaimedTask) -> list[dict[str, Any]]:
    model_id = task.model_version_id.rsplit("-", 1)[0]
    listed = platform.store.list_model_versions(ACCOUNT, {"ModelID": model_id})["List"]
    return [v for v in listed if v.get("SourceId") == task.task_id]


def test_a_conversion_whose_upload_was_swept_uploads_again_and_registers(
    platforms: tuple[Platform, Platform], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform, other = platforms
    task = conversion_task(platform, tmp_path)
    uploaded = sweep_after_uploads(monkeypatch, other, times=1)

    result = run(platform, RunSpec(task, str(tmp_path / "platform"), None, 0.1))

    first, second = uploaded[-2:]
    assert first != second and not second.startswith(first), uploaded
    (version,) = converted_versions(platform, task)
    assert result["ModelVersionID"] == version["ModelVersionID"]
    assert version["Path"] == second and version["BaseModelVersionID"] == task.model_version_id
    assert any(key.endswith("model.onnx") for key in objects_under(platform, second))
    assert objects_under(platform, first) == []  # the swept upload is gone, not registered
    assert result["Precision"] == "FP16" and result["Measurements"]


def test_a_conversion_whose_second_upload_was_swept_too_fails_plainly(
    platforms: tuple[Platform, Platform], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    platform, other = platforms
    task = conversion_task(platform, tmp_path)
    uploaded = sweep_after_uploads(monkeypatch, other, times=2)

    with pytest.raises(TaskError) as failed:
        run(platform, RunSpec(task, str(tmp_path / "platform"), None, 0.1))

    message = failed.value.message
    assert "storage sweep" in message and "twice" in message and "nothing was registered" in message
    assert "MLP_GC_GRACE" in message
    assert "upload the files again" not in message  # not the client's advice: no one can, for a conversion
    assert len([p for p in uploaded if "/from-perf/" in p]) == 2
    assert converted_versions(platform, task) == []
    for path in uploaded[-2:]:
        assert objects_under(platform, path) == []
