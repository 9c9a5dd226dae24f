"""The example model shipped in examples/iris-onnx is what examples/make_example_model.py builds, and it
is a valid ONNX model whose tensor config passes the document's rules."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import onnx

from volcengine_ml_platform.models import validation

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def _builder() -> object:
    spec = importlib.util.spec_from_file_location("make_example_model", EXAMPLES / "make_example_model.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_committed_model_is_what_the_script_builds(tmp_path: Path) -> None:
    written = _builder().write(tmp_path)  # type: ignore[attr-defined]
    assert [p.name for p in written] == ["model.onnx", "tensor_config.json"]
    for path in written:
        assert path.read_bytes() == (EXAMPLES / "iris-onnx" / path.name).read_bytes(), path.name


def test_model_is_valid_and_matches_its_tensor_config() -> None:
    model = onnx.load(str(EXAMPLES / "iris-onnx" / "model.onnx"))
    onnx.checker.check_model(model)
    config = json.loads((EXAMPLES / "iris-onnx" / "tensor_config.json").read_text(encoding="utf-8"))
    validation.validate_model_tensor_config(config)
    assert [t["TensorName"] for t in config["Inputs"]] == [i.name for i in model.graph.input]
    assert [t["TensorName"] for t in config["Outputs"]] == [o.name for o in model.graph.output]
