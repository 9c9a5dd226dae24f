"""Is a converted version's PeakMemoryMiB its own, and what does converting in a child process cost?

    python bench/conversion_memory.py --quick     # a 2048 x 2048 MatMul (16 MiB of weights)
    python bench/conversion_memory.py --size 4096 # 64 MiB of weights

1. On the embedded platform (one perf worker): CONVERT_PERF FP16 of ``y = x @ W``, then PERF_ONLY of
   the version it registered and of the source. The baseline is the PERF_ONLY of the converted version
   in the same run: the conversion task's figure should match it (ratio near 1), not exceed it by the
   source model and the conversion's copies.
2. The price of that: the runner converts and checks in a child process (workers/conversion.py). The
   same conversion and check run here in-process and through the child, interleaved, ``--rounds``
   times; the difference is the child's start (interpreter, onnxruntime and onnx imports).

Talks to nothing outside this machine and stops by itself.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from mlp_server.workers.conversion import convert_and_check, convert_apart

FLAVOR = "ml.c1i.large"


def matmul_model(folder: Path, size: int) -> Path:
    weights = np.random.default_rng(7).standard_normal((size, size), np.float32)
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "W"], ["y"])],
        "bench-matmul",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", size])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", size])],
        initializer=[numpy_helper.from_array(weights, "W")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    folder.mkdir(parents=True)
    onnx.save(model, str(folder / "model.onnx"))
    return folder


def config(size: int) -> dict[str, Any]:
    shape = {"MinShape": [1, size], "MaxShape": [1, size]}
    return {"Inputs": [{"TensorName": "x", "DType": "FLOAT", "Shape": shape}]}


def platform_figures(root: Path, source: Path, size: int) -> dict[str, float]:
    os.environ.update(
        VOLC_ML_PLATFORM_DATA_DIR=str(root / "platform"),
        VOLC_CONFIG_FILE=str(root / "no-config"),
        MLP_PERF_MEASURE_SECONDS="0.3",
        MLP_PERF_WORKERS="1",
    )
    for name in [
        n for n in os.environ if n.startswith(("VOLC_ACCESS", "VOLC_SECRET", "VOLC_ML_PLATFORM_END"))
    ]:
        del os.environ[name]
    from volcengine_ml_platform.models.model import Model

    model = Model()
    model_id = model.register(
        str(source), model_name="bench-mm", model_format="ONNX", model_type="ONNX:1.23"
    )["Result"]["ModelID"]

    def task(number: str, job_type: str, **params: Any) -> dict[str, Any]:
        job = model.create_perf_job(
            model_id, number, config(size), job_type, [{"FlavorIDList": [FLAVOR], **params}]
        )
        (done,) = model.wait_perf_job(job["Result"]["JobID"], timeout=600, poll_interval=1.0).to_dict()[
            "Result"
        ]["List"]
        if done["TaskStatus"] != "Success":
            sys.exit(f"the {job_type} task did not succeed: {done}")
        return dict(done["Result"])

    converted = task("1", "CONVERT_PERF", ConvertPrecisionList=["FP16"])
    number = converted["ModelVersionID"].rsplit("-", 1)[1]
    return {
        "conversion": converted["PeakMemoryMiB"],
        "perf_only_converted": task(number, "PERF_ONLY")["PeakMemoryMiB"],
        "perf_only_source": task("1", "PERF_ONLY")["PeakMemoryMiB"],
    }


def child_cost(root: Path, source: Path, size: int, rounds: int) -> tuple[list[float], list[float]]:
    inside: list[float] = []
    apart: list[float] = []
    for n in range(rounds):
        for where in ("inside", "apart"):
            target_dir = root / f"{where}-{n}"
            target_dir.mkdir()
            target = target_dir / "model.onnx"
            request = {
                "Source": str(source / "model.onnx"),
                "Target": str(target),
                "Precision": "FP16",
                "TensorConfig": config(size),
                "Threads": 2,
                "Provider": "CPUExecutionProvider",
            }
            started = time.perf_counter()
            if where == "inside":
                convert_and_check(request)
                inside.append(time.perf_counter() - started)
            else:
                convert_apart(
                    source / "model.onnx", target, "FP16", config(size), 2, "CPUExecutionProvider", root
                )
                apart.append(time.perf_counter() - started)
    return inside, apart


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="a 2048 x 2048 model and 3 rounds")
    parser.add_argument(
        "--size", type=int, default=None, help="the MatMul's side (default 4096; 2048 with --quick)"
    )
    parser.add_argument("--rounds", type=int, default=None, help="interleaved rounds of part 2 (default 5)")
    args = parser.parse_args()
    size = args.size or (2048 if args.quick else 4096)
    rounds = args.rounds or (3 if args.quick else 5)
    with tempfile.TemporaryDirectory(prefix="mlp-bench-conversion-") as tmp:
        root = Path(tmp)
        source = matmul_model(root / "source", size)
        figures = platform_figures(root, source, size)
        inside, apart = child_cost(root, source, size, rounds)
    mib = size * size * 4 / 2**20
    print(f"y = x @ W, W FLOAT [{size}, {size}] ({mib:.0f} MiB); PeakMemoryMiB recorded by each task:")
    print(f"  CONVERT_PERF FP16 (the converted version)  {figures['conversion']:>8.1f}")
    print(f"  PERF_ONLY of that FP16 version (baseline)  {figures['perf_only_converted']:>8.1f}")
    print(f"  PERF_ONLY of the FP32 source               {figures['perf_only_source']:>8.1f}")
    print(f"  conversion / baseline: {figures['conversion'] / figures['perf_only_converted']:.3f}")
    a, b = statistics.median(inside), statistics.median(apart)
    print(f"convert + check, median of {rounds} interleaved rounds:")
    print(f"  in-process {a:.3f} s, child process {b:.3f} s")
    print(f"  the child's cost: {b - a:+.3f} s per conversion task ({b / a:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
