"""Without the ``perf`` extra (onnx, onnxconverter-common), a conversion task fails with a message that
says what to install, not a bare "No module named ..."."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from mlp_server.workers.convert import convert
from mlp_server.workers.errors import INSTALL_HINT, TaskError

EXAMPLE_MODEL = Path(__file__).resolve().parents[2] / "examples" / "iris-onnx" / "model.onnx"


@pytest.mark.parametrize("missing", ["onnx", "onnxconverter_common"])
def test_fp16_conversion_without_the_perf_extra_says_what_to_install(
    missing: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setitem(sys.modules, missing, None)  # `import` of it now fails as if not installed
    with pytest.raises(TaskError) as caught:
        convert(EXAMPLE_MODEL, "FP16", tmp_path / "fp16.onnx")
    assert caught.value.message == (
        f"FP16 conversion needs {missing}, which is not installed here: {INSTALL_HINT}"
    )
    assert not (tmp_path / "fp16.onnx").exists()


def test_fp16_conversion_with_the_extra_writes_the_model(tmp_path: Path) -> None:
    convert(EXAMPLE_MODEL, "FP16", tmp_path / "fp16.onnx")
    assert (tmp_path / "fp16.onnx").stat().st_size > 0
