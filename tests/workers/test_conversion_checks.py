"""What a conversion or perf task records is true of the model: a conversion that changed nothing, or
changed integer answers, registers nothing; NaN where the source has NaN is agreement; BatchSize is the
batch axis's; a converted version's peak memory is its own, not its conversion's."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest

from mlp_server.workers.convert import MAX_MISMATCH_SHARE, check_precision, compare, convert
from mlp_server.workers.errors import TaskError
from mlp_server.workers.measure import check_config, points
from mlp_server.workers.precision import model_precision

from . import models
from .conftest import Local

FLAVOR = ["ml.c1i.large"]


def _only_task(local: Local, job_id: str, timeout: float = 180) -> dict[str, Any]:
    (task,) = local.model.wait_perf_job(job_id, timeout=timeout).to_dict()["Result"]["List"]
    return dict(task)


def _download(local: Local, model_id: str, number: str, dest: Path) -> Path:
    (found,) = [f for f in local.model.download(model_id, number, str(dest)) if f.suffix == ".onnx"]
    return Path(found)


def test_a_conversion_registers_only_a_graph_of_the_precision_asked_with_agreeing_outputs(
    local: Local, tmp_path: Path
) -> None:
    nothing_to_quantize = local.register(models.add_bias(tmp_path / "add-bias"))
    integer_answers = local.register(models.scores_to_int(tmp_path / "scores-to-int"))
    nan_alike = local.register(models.sqrt_scaled(tmp_path / "sqrt-scaled"))
    jobs = {
        "int8": local.job(nothing_to_quantize, models.WIDE_CONFIG, FLAVOR, ConvertPrecisionList=["INT8"]),
        "int": local.job(integer_answers, models.WIDE_CONFIG, FLAVOR, ConvertPrecisionList=["FP16"]),
        "nan": local.job(nan_alike, models.WIDE_CONFIG, FLAVOR, ConvertPrecisionList=["FP16"]),
    }
    local.worker()
    tasks = {name: _only_task(local, job_id) for name, job_id in jobs.items()}

    # y = x + B: dynamic quantization leaves it FP32; recording it INT8 would be false.
    failed = tasks["int8"]
    assert failed["TaskStatus"] == "Failed", failed
    assert failed["Message"].startswith("INT8 conversion converted nothing: the result is still FP32"), failed
    assert "MatMul" in failed["Message"] and "model's operators are Add" in failed["Message"]
    # An integer output changed in most places fails, naming the output and the share.
    failed = tasks["int"]
    assert failed["TaskStatus"] == "Failed", failed
    assert "output 'label'" in failed["Message"] and "% of its elements" in failed["Message"], failed
    share = float(failed["Message"].split(" in ")[1].split("%")[0]) / 100
    assert share > MAX_MISMATCH_SHARE
    for model_id in (nothing_to_quantize, integer_answers):
        assert local.model.get_model_versions(model_id).result.total == 1  # nothing registered

    # NaN in the same places in both models is agreement; the recorded differences stay finite.
    done = tasks["nan"]
    assert done["TaskStatus"] == "Success", done
    check = done["Result"]["Check"]["MaxShape"]["Outputs"]["y"]
    assert 0 <= check["MaxAbsDiff"] < 0.01 and check["Scale"] >= 1
    number = done["Result"]["ModelVersionID"].rsplit("-", 1)[1]
    assert model_precision(_download(local, nan_alike, number, tmp_path / "got")) == "FP16"


def test_batch_size_is_read_from_the_inputs_on_the_batch_axis(local: Local, tmp_path: Path) -> None:
    model_id = local.register(models.scaled(tmp_path / "scaled"))
    config = {
        "Inputs": [  # the fixed input listed first
            {"TensorName": "scale", "DType": "FLOAT", "Shape": {"MinShape": [1], "MaxShape": [1]}},
            {"TensorName": "x", "DType": "FLOAT", "Shape": {"MinShape": [1, 16], "MaxShape": [16, 16]}},
        ]
    }
    job_id = local.job(model_id, config, FLAVOR)
    local.worker()
    task = _only_task(local, job_id)
    assert task["TaskStatus"] == "Success", task
    measured = task["Result"]["Measurements"]
    assert [(m["Shape"], m["BatchSize"]) for m in measured] == [("MinShape", 1), ("MaxShape", 16)]
    biggest = measured[1]
    assert (
        abs(biggest["SamplesPerSecond"] - 16 * biggest["InferencesPerSecond"])
        <= 0.01 * biggest["SamplesPerSecond"] + 0.01
    )


def test_a_converted_versions_peak_memory_is_its_own(local: Local, tmp_path: Path) -> None:
    """The conversion task's figure matches a PERF_ONLY of the version it registered (the source model
    and the conversion, 64 MiB of FP32 weights and their copies, are not in it)."""
    model_id = local.register(models.big_matmul(tmp_path / "big"))
    config = models.config("x", "FLOAT", [1, 4096], [1, 4096])
    local.worker()
    converted = _only_task(local, local.job(model_id, config, FLAVOR, ConvertPrecisionList=["FP16"]), 300)
    assert converted["TaskStatus"] == "Success", converted
    number = converted["Result"]["ModelVersionID"].rsplit("-", 1)[1]
    job = local.model.create_perf_job(model_id, number, config, "PERF_ONLY", [{"FlavorIDList": FLAVOR}])
    again = _only_task(local, job.result.job_id, 300)
    assert again["TaskStatus"] == "Success", again
    by_conversion, by_perf_only = converted["Result"]["PeakMemoryMiB"], again["Result"]["PeakMemoryMiB"]
    # Before, the conversion's figure was 2.3x the PERF_ONLY one (544 vs 232 MiB); now they are alike.
    assert by_conversion <= 1.2 * by_perf_only, (by_conversion, by_perf_only)
    (version,) = local.model.get_model_versions(model_id, number).to_dict()["Result"]["List"]
    recorded = [
        json.loads(m["MetricsData"])["PeakMemoryMiB"]
        for m in version["MetricsList"]
        if json.loads(m["Params"])["TaskID"] == converted["TaskID"]
    ]
    assert recorded == [by_conversion]


# The checks themselves, without a worker.


def test_nan_or_the_same_infinity_in_both_outputs_agrees_and_any_other_non_finite_fails() -> None:
    source = np.array([1.0, np.nan, np.inf, -np.inf, 2.0], np.float32)
    report = compare("FP16", ["y"], [source], [source.astype(np.float16)])
    assert report["Outputs"]["y"] == {"MaxAbsDiff": 0.0, "Scale": 2.0}
    json.dumps(report, allow_nan=False)  # a finite record
    for got in ([1.0, 0.0, np.inf, -np.inf, 2.0], [1.0, np.nan, -np.inf, -np.inf, 2.0], [np.nan] * 5):
        with pytest.raises(TaskError, match="output 'y' and the source's disagree on NaN or infinity"):
            compare("FP16", ["y"], [source], [np.array(got, np.float32)])
    # An overflow to infinity where the source is finite is a difference, not agreement.
    with pytest.raises(TaskError, match="in 1 place"):
        compare("FP16", ["y"], [np.array([7e4], np.float32)], [np.array([np.inf], np.float16)])


def test_an_integer_output_fails_above_the_allowed_mismatch_share() -> None:
    source = np.arange(1000, dtype=np.int64)
    few = source.copy()
    few[: int(1000 * MAX_MISMATCH_SHARE)] += 1  # exactly the allowed share
    assert compare("INT8", ["label"], [source], [few])["Outputs"]["label"] == {"MismatchShare": 0.01}
    many = few.copy()
    many[500] += 1
    with pytest.raises(TaskError, match=r"output 'label' differs from the source's in 1\.1% of its elements"):
        compare("INT8", ["label"], [source], [many])


def test_a_config_whose_batched_inputs_disagree_is_refused(tmp_path: Path) -> None:
    session = ort.InferenceSession(
        str(models.two_inputs(tmp_path / "two") / "model.onnx"), providers=["CPUExecutionProvider"]
    )
    config: dict[str, Any] = json.loads(json.dumps(models.TWO_INPUTS_CONFIG))
    assert check_config(config, session) == ["features", "mask"]
    config["Inputs"][1]["Shape"]["MaxShape"] = [2, 8]
    with pytest.raises(TaskError, match=r"MaxShape: .*disagree on the batch size \('features' 4, 'mask' 2\)"):
        check_config(config, session)


def test_a_fixed_batch_is_the_first_dim_of_the_highest_rank_input(tmp_path: Path) -> None:
    folder = models.scaled(tmp_path / "scaled")
    model = onnx.load(str(folder / "model.onnx"))
    model.graph.input[1].type.tensor_type.shape.dim[0].dim_value = 4  # x [4, 16]: no dynamic dim 0
    onnx.save(model, str(folder / "model.onnx"))
    session = ort.InferenceSession(str(folder / "model.onnx"), providers=["CPUExecutionProvider"])
    config = {
        "Inputs": [
            {"TensorName": "scale", "DType": "FLOAT", "Shape": {"MinShape": [1], "MaxShape": [1]}},
            {"TensorName": "x", "DType": "FLOAT", "Shape": {"MinShape": [4, 16], "MaxShape": [4, 16]}},
        ]
    }
    batch = check_config(config, session)
    assert batch == ["x"] and [p.batch_size for p in points(config, batch)] == [4]


def test_a_conversion_that_leaves_no_weight_converted_says_why(tmp_path: Path) -> None:
    """Without a worker: convert() then check_precision() on models each conversion cannot change."""
    add_bias = models.add_bias(tmp_path / "add-bias") / "model.onnx"
    convert(add_bias, "INT8", tmp_path / "int8.onnx")
    with pytest.raises(
        TaskError, match=r"INT8 conversion converted nothing: the result is still FP32 .*Add\)"
    ):
        check_precision(tmp_path / "int8.onnx", "INT8")
    # The same model to FP16 converts its bias: that is an FP16 graph.
    convert(add_bias, "FP16", tmp_path / "fp16.onnx")
    check_precision(tmp_path / "fp16.onnx", "FP16")
    # No floating-point weights at all: the precision recorded could not be FP16.
    weightless = onnx.load(str(add_bias))
    weightless.graph.initializer.pop()
    weightless.graph.node[0].input[1] = "x"
    onnx.save(weightless, str(tmp_path / "weightless.onnx"))
    convert(tmp_path / "weightless.onnx", "FP16", tmp_path / "weightless-fp16.onnx")
    with pytest.raises(TaskError, match="FP16 conversion has nothing to convert: the model has no floating"):
        check_precision(tmp_path / "weightless-fp16.onnx", "FP16")
