"""A conversion's registration (InnerCreateModel) that fails gives its uploaded files back only when
nothing was registered: a refusal. One whose commit may have landed (the PostgreSQL connection lost
during COMMIT) keeps them, and the task's rerun finds its version with its files."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from mlp_server.context import Platform
from mlp_server.errors import ApiError
from mlp_server.platform import open_platform
from mlp_server.settings import ServerSettings
from mlp_server.storage_errors import CommitOutcomeUnknown
from mlp_server.workers.runner import register_converted

from . import models
from .conftest import claimed_conversion

ACCOUNT = 2100000050


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    opened = open_platform(ServerSettings(tmp_path / "platform"))
    try:
        yield opened
    finally:
        opened.store.close()


def uploads(platform: Platform) -> list[str]:
    bucket = platform.bucket_for(ACCOUNT)
    return [o.key for o in platform.objects.list_objects(bucket, "modelrepo/from-perf/")]


def failing(platform: Platform, error: Callable[[], BaseException], *, commit: bool) -> Any:
    original = platform.store.create_model

    def create_model(*args: Any, **kwargs: Any) -> Any:
        if commit:
            original(*args, **kwargs)
        raise error()

    return create_model


def test_a_registration_whose_commit_may_have_landed_keeps_its_files(
    platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, spec, version = claimed_conversion(platform.store, tmp_path / "platform")
    folder = models.mlp(tmp_path / "mlp")
    lost = failing(platform, lambda: CommitOutcomeUnknown("the connection failed during COMMIT"), commit=True)
    with monkeypatch.context() as patch:
        patch.setattr(platform.store, "create_model", lost)
        with pytest.raises(CommitOutcomeUnknown):
            register_converted(platform, spec, version, folder)
    again = register_converted(platform, spec, version, folder)  # the rerun finds the version
    found = platform.store.get_model_version(ACCOUNT, {"ModelVersionID": again})
    assert found["SourceId"] == spec.task.task_id
    bucket, _, prefix = found["Path"].removeprefix("tos://").partition("/")
    assert list(platform.objects.list_objects(bucket, prefix)), "the registered version's files were removed"


def test_a_refused_registration_gives_its_files_back(
    platform: Platform, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, spec, version = claimed_conversion(platform.store, tmp_path / "platform")
    folder = models.mlp(tmp_path / "mlp")
    refused = failing(platform, lambda: ApiError("InvalidParameter", "VersionInfo: refused"), commit=False)
    with monkeypatch.context() as patch:
        patch.setattr(platform.store, "create_model", refused)
        with pytest.raises(ApiError):
            register_converted(platform, spec, version, folder)
    assert uploads(platform) == []
