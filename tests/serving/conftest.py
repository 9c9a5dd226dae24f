"""Fixtures of the serving tests: an embedded platform in this process (its supervisor, replicas and
endpoints are real processes and sockets), the example model, and a client sending requests."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlp_testing import clean_env
from volcengine_ml_platform.models.model import Model

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "iris-onnx"


@pytest.fixture(scope="module")
def platform_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    root = tmp_path_factory.mktemp("serving")
    saved = dict(os.environ)
    os.environ.clear()
    os.environ.update(clean_env(root / "home"))
    try:
        yield root / "platform"
    finally:
        os.environ.clear()
        os.environ.update(saved)


@pytest.fixture(scope="module")
def model(platform_dir: Path) -> Model:
    return Model(data_dir=platform_dir)


def register(model: Model, folder: Path, name: str) -> str:
    resp = model.register(str(folder), model_name=name, model_format="ONNX", model_type="ONNX:1.23")
    return str(resp["Result"]["ModelID"])
