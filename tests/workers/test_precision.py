"""The precision a PERF_ONLY task records is the model's own: FP16 weights, a quantized graph or FP32;
without onnx to read the graph, the conversion that registered the version says it."""

from __future__ import annotations

import sys
from pathlib import Path

import onnx
import pytest
from onnxconverter_common import float16
from onnxruntime.quantization import QuantType, quantize_dynamic

from mlp_server.store import Store, sqlite_url
from mlp_server.workers.precision import model_precision, recorded_precision

from . import models

ACCOUNT = 2100000050


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("precision")
    fp32 = models.mlp(root / "mlp") / "model.onnx"
    fp16 = root / "fp16.onnx"
    onnx.save(float16.convert_float_to_float16(onnx.load(str(fp32)), keep_io_types=True), str(fp16))
    int8 = root / "int8.onnx"
    quantize_dynamic(str(fp32), str(int8), weight_type=QuantType.QInt8)
    return {"FP32": fp32, "FP16": fp16, "INT8": int8}


@pytest.mark.parametrize("precision", ["FP32", "FP16", "INT8"])
def test_the_precision_is_read_from_the_models_weights_and_operators(
    built: dict[str, Path], precision: str
) -> None:
    assert model_precision(built[precision]) == precision


def test_without_onnx_the_conversion_that_made_the_version_says_it(
    built: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store(sqlite_url(tmp_path / "db.sqlite"))
    try:
        created = store.create_model(
            ACCOUNT,
            {
                "ModelName": "m",
                "VersionInfo": {"ModelFormat": "ONNX", "ModelType": "ONNX:1.23", "Path": "tos://b/1/"},
            },
        )
        base_id = created["VersionInfo"]["ModelVersionID"]
        job = store.create_perf_job(
            ACCOUNT,
            {
                "ModelVersionID": base_id,
                "TensorConfig": models.MLP_CONFIG,
                "JobType": "CONVERT_PERF",
                "JobParamsList": [{"FlavorIDList": ["ml.c1i.large"], "ConvertPrecisionList": ["FP16"]}],
            },
        )
        (task,) = store.list_perf_tasks(ACCOUNT, {"JobID": job["JobID"]})["List"]
        converted = {"SourceType": "Perf", "SourceId": task["TaskID"]}
        monkeypatch.setitem(sys.modules, "onnx", None)  # `import onnx` now fails as if not installed
        assert model_precision(built["FP16"]) is None
        assert recorded_precision(store, ACCOUNT, converted, built["FP16"]) == "FP16"
        # A version nobody converted: nothing says its precision, and none is made up.
        assert recorded_precision(store, ACCOUNT, {"SourceType": "TOS"}, built["FP16"]) == "unknown"
    finally:
        store.close()
