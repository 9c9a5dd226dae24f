"""Does the platform's perf job report what the model really does? Side by side in one run.

    python bench/perf_jobs.py --quick        # 1 s per measurement
    python bench/perf_jobs.py                # 3 s per measurement (--seconds N to choose)

The example model (examples/iris-onnx) runs a PERF_ONLY job on the embedded platform (its worker
process, a runner process per task, onnxruntime under the flavor's threads). The same model is then
measured directly in this process with onnxruntime: the same thread count the task recorded, the same
inputs (the job's TensorConfig, same seed), the same duration, with a plain timing loop written here.
The direct measurement runs before and after the job (the machine is shared: noise moves both), and
the platform's figures are compared with their mean. The platform's own overhead must not distort
what it reports: each ratio should stay within 10%.

Talks to nothing outside this machine and stops by itself.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from mlp_server.workers.measure import points, session_options

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "iris-onnx"
FLAVOR = "ml.c1i.large"
TENSOR_CONFIG = {
    "Inputs": [
        {"TensorName": "features", "DType": "FLOAT", "Shape": {"MinShape": [1, 4], "MaxShape": [256, 4]}}
    ]
}
FIGURES = (
    "LatencyMsP50",
    "LatencyMsP90",
    "LatencyMsP99",
    "LatencyMsMean",
    "InferencesPerSecond",
    "SamplesPerSecond",
)


def direct(threads: int, seconds: float) -> dict[int, dict[str, float]]:
    """The model measured here, plainly: warm-up, then a timed loop of single runs."""
    session = ort.InferenceSession(
        str(EXAMPLE / "model.onnx"), session_options(threads), providers=["CPUExecutionProvider"]
    )
    found: dict[int, dict[str, float]] = {}
    for point in points(TENSOR_CONFIG):
        for _ in range(5):
            session.run(None, point.feeds)
        times: list[float] = []
        start = time.perf_counter()
        while (now := time.perf_counter()) - start < seconds or len(times) < 10:
            session.run(None, point.feeds)
            times.append(time.perf_counter() - now)
        elapsed = time.perf_counter() - start
        p50, p90, p99 = np.percentile(np.array(times) * 1000, [50, 90, 99])
        rate = len(times) / elapsed
        found[point.batch_size] = {
            "LatencyMsP50": float(p50),
            "LatencyMsP90": float(p90),
            "LatencyMsP99": float(p99),
            "LatencyMsMean": float(np.mean(times) * 1000),
            "InferencesPerSecond": rate,
            "SamplesPerSecond": rate * point.batch_size,
        }
    return found


def platform_job(root: Path, seconds: float) -> dict[str, Any]:
    os.environ.update(
        VOLC_ML_PLATFORM_DATA_DIR=str(root / "platform"),
        VOLC_CONFIG_FILE=str(root / "no-config"),
        MLP_PERF_MEASURE_SECONDS=str(seconds),
        MLP_PERF_WORKERS="1",
    )
    for name in [
        n for n in os.environ if n.startswith(("VOLC_ACCESS", "VOLC_SECRET", "VOLC_ML_PLATFORM_END"))
    ]:
        del os.environ[name]
    from volcengine_ml_platform.models.model import Model

    model = Model()
    model_id = model.register(
        str(EXAMPLE), model_name="bench-iris", model_format="ONNX", model_type="ONNX:1.23"
    )["Result"]["ModelID"]
    started = time.monotonic()
    job = model.create_perf_job(model_id, "1", TENSOR_CONFIG, "PERF_ONLY", [{"FlavorIDList": [FLAVOR]}])
    # Poll rarely: the client shares these cores with the task it is waiting for.
    tasks = model.wait_perf_job(job["Result"]["JobID"], timeout=600, poll_interval=2.0).to_dict()["Result"][
        "List"
    ]
    (task,) = tasks
    if task["TaskStatus"] != "Success":
        sys.exit(f"the perf task did not succeed: {task}")
    result: dict[str, Any] = task["Result"]
    result["WallSeconds"] = time.monotonic() - started
    return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="1 s per measurement")
    parser.add_argument("--seconds", type=float, default=None, help="seconds per measurement (default 3)")
    args = parser.parse_args()
    seconds = args.seconds or (1.0 if args.quick else 3.0)
    with tempfile.TemporaryDirectory(prefix="mlp-bench-perf-") as tmp:
        cores = len(os.sched_getaffinity(0))
        threads = min(2, cores)  # ml.c1i.large has 2 vCPU, capped by this machine's cores
        before = direct(threads, seconds)
        result = platform_job(Path(tmp), seconds)
        after = direct(threads, seconds)
    if result["IntraOpThreads"] != threads:
        sys.exit(f"the task ran with {result['IntraOpThreads']} threads, the benchmark with {threads}")
    print(f"perf job on {FLAVOR}: {result['IntraOpThreads']} intra-op threads, onnxruntime "
          f"{result['OnnxRuntimeVersion']}, {result['CPUModel']}, peak memory {result['PeakMemoryMiB']} MiB, "
          f"{seconds:g} s per measurement, job wall time {result['WallSeconds']:.1f} s")  # fmt: skip
    print("(shared machine: figures are noisy; the direct baseline ran before and after the job)")
    print(f"{'batch':>5} {'figure':<20} {'platform':>12} {'direct':>12} {'(before/after)':>24} {'ratio':>7}")
    worst = 0.0
    report: list[dict[str, Any]] = []
    for m in result["Measurements"]:
        batch = m["BatchSize"]
        for name in FIGURES:
            base = statistics.mean([before[batch][name], after[batch][name]])
            ratio = m[name] / base
            worst = max(worst, abs(ratio - 1))
            pair = f"{before[batch][name]:.4g}/{after[batch][name]:.4g}"
            print(f"{batch:>5} {name:<20} {m[name]:>12.4g} {base:>12.4g} {pair:>24} {ratio:>7.3f}")
            report.append(
                {"BatchSize": batch, "Figure": name, "Platform": m[name], "Direct": base, "Ratio": ratio}
            )
    verdict = "within" if worst <= 0.10 else "OUTSIDE"
    print(f"largest deviation from the direct measurement: {worst:.1%} ({verdict} the 10% target)")
    print(json.dumps({"worst_deviation": worst, "figures": report}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
