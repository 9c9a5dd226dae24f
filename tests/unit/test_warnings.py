"""Warnings a user needs reach them without configuring logging: they are ``warnings.warn`` with an
:class:`MLPlatformWarning` subclass (shown once by default, filterable by category), not log records
on the library's loggers, which have only a NullHandler."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlp_server.serving.supervisor import stopped_message, warn_stopped
from volcengine_ml_platform.config import resolve_settings
from volcengine_ml_platform.errors import (
    ConfigWarning,
    MLPlatformWarning,
    ServingStoppedWarning,
    UploadWarning,
)
from volcengine_ml_platform.transfer import FolderStore, upload_path


def test_each_kind_is_a_user_warning_under_one_base() -> None:
    for kind in (ConfigWarning, UploadWarning, ServingStoppedWarning):
        assert issubclass(kind, MLPlatformWarning) and issubclass(kind, UserWarning)


def test_a_misspelt_config_key_warns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "config"
    config.write_text(json.dumps({"regoin": "cn-shanghai"}), encoding="utf-8")
    monkeypatch.setenv("VOLC_CONFIG_FILE", str(config))
    with pytest.warns(ConfigWarning, match=r"unknown key 'regoin' ignored \(did you mean 'region'\?\)"):
        resolve_settings(endpoint="http://127.0.0.1:9")


def test_an_empty_folder_warns_that_nothing_was_uploaded(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.warns(UploadWarning, match="holds no files: nothing uploaded"):
        upload_path(FolderStore(tmp_path / "root"), tmp_path / "empty", "models", "p/")


def test_a_program_that_stops_serving_at_exit_is_warned() -> None:
    message = stopped_message(2, Path("/data"))
    with pytest.warns(ServingStoppedWarning) as said:
        warn_stopped(message)
    assert [str(w.message) for w in said] == [message]
    assert "read Pending" in message and "`mlp serve --data-dir /data`" in message


# A program that configures no logging, as most do.
PROGRAM = """
import sys, warnings
if sys.argv[1] == "ignore":
    from volcengine_ml_platform.errors import MLPlatformWarning
    warnings.filterwarnings("ignore", category=MLPlatformWarning)
from volcengine_ml_platform.config import resolve_settings
resolve_settings(endpoint="http://127.0.0.1:9")
"""


@pytest.mark.parametrize("how", ["default", "ignore"])
def test_a_program_without_logging_sees_the_warning_unless_it_filters_it(tmp_path: Path, how: str) -> None:
    config = tmp_path / "config"
    config.write_text(json.dumps({"regoin": "cn-shanghai"}), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VOLC", "PYTHONWARNINGS"))}
    env.update(HOME=str(tmp_path), VOLC_CONFIG_FILE=str(config))
    done = subprocess.run([sys.executable, "-c", PROGRAM, how], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    if how == "default":
        assert "ConfigWarning: config file" in done.stderr and "'regoin'" in done.stderr, done.stderr
    else:
        assert done.stderr == ""
