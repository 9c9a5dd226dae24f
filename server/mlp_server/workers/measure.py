"""Inputs from a perf job's TensorConfig and the latency/throughput measurement of an ONNX session.

Kept free of the platform (no store, no object store) so that ``bench/perf_jobs.py`` can measure a
model with exactly the inputs a task uses.
"""

from __future__ import annotations

import os
import platform
import resource
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort

from volcengine_ml_platform.dtypes import ORT_TO_TENSOR, PERF_TENSOR_DTYPES, tensor_dtype, tensor_numpy_dtype

from .errors import TaskError

SHAPES = ("MinShape", "MaxShape")
WARMUP_RUNS = 5
MIN_RUNS = 10
# A very slow model still stops: at most this many times the asked duration.
MAX_OVERRUN = 10.0
# Integer inputs are drawn from [0, INT_HIGH): small enough to be valid indices or token ids.
INT_HIGH = 10


@dataclass(frozen=True)
class Point:
    """One measurement point: the inputs at MinShape or MaxShape, and their batch (the first dim of
    the inputs on the batch axis, see batch_inputs)."""

    shape_key: str
    batch_size: int
    feeds: dict[str, np.ndarray]


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def peak_memory_mib() -> float:
    """This process's peak resident memory (Linux reports KiB)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def session_options(threads: int) -> ort.SessionOptions:
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.log_severity_level = 3
    return opts


def open_session(path: Path, threads: int, provider: str) -> ort.InferenceSession:
    """Load the model; a file onnxruntime cannot load is a TaskError naming why."""
    try:
        return ort.InferenceSession(str(path), session_options(threads), providers=[provider])
    except Exception as exc:
        raise TaskError(
            f"the ONNX model {path.name} does not load in onnxruntime {ort.__version__}: {_short(exc)}"
        ) from None


def _describe_inputs(session: ort.InferenceSession) -> str:
    return ", ".join(
        f"{i.name} ({ORT_TO_TENSOR.get(i.type, i.type)}, rank {len(i.shape)})" for i in session.get_inputs()
    )


def check_config(config: Any, session: ort.InferenceSession) -> list[str]:
    """The job's TensorConfig must name exactly the model's inputs, with their rank, dtype and fixed dims,
    and one batch size; returns the inputs on the batch axis (batch_inputs)."""
    inputs = {i.name: i for i in session.get_inputs()}
    given = {t["TensorName"]: t for t in config.get("Inputs", [])}
    model_says = f"the model's inputs are {_describe_inputs(session)}"
    for name in given:
        if name not in inputs:
            raise TaskError(f"TensorConfig input {name!r} is not an input of the model; {model_says}")
    for name, spec in inputs.items():
        tensor = given.get(name)
        if tensor is None:
            raise TaskError(f"TensorConfig has no input {name!r}; {model_says}")
        wanted = ORT_TO_TENSOR.get(spec.type)
        dtype = tensor["DType"]
        if wanted not in PERF_TENSOR_DTYPES:
            raise TaskError(f"input {name!r} has type {spec.type}, which perf jobs cannot generate")
        if tensor_dtype(dtype) != wanted:
            raise TaskError(f"TensorConfig input {name!r} has DType {dtype}, the model expects {wanted}")
        shapes = [list(tensor["Shape"][key]) for key in SHAPES]
        for key, shape in zip(SHAPES, shapes, strict=True):
            if len(shape) != len(spec.shape):
                raise TaskError(
                    f"TensorConfig input {name!r} {key} {shape} has rank {len(shape)}, "
                    f"the model expects rank {len(spec.shape)} {list(spec.shape)}"
                )
            if any(d < 0 for d in shape):
                raise TaskError(f"TensorConfig input {name!r} {key} {shape}: dimensions must be >= 0")
            for axis, (dim, fixed) in enumerate(zip(shape, spec.shape, strict=True)):
                if isinstance(fixed, int) and fixed >= 0 and dim != fixed:
                    raise TaskError(
                        f"TensorConfig input {name!r} {key} {shape}: dimension {axis} is {dim}, "
                        f"the model fixes it to {fixed}"
                    )
        if any(lo > hi for lo, hi in zip(*shapes, strict=True)):
            raise TaskError(f"TensorConfig input {name!r}: MinShape {shapes[0]} exceeds MaxShape {shapes[1]}")
    return batch_inputs(config, session)


def batch_inputs(config: Any, session: ort.InferenceSession) -> list[str]:
    """The inputs whose first dimension is the batch: those the model leaves dynamic there (a model
    with none fixes its batch: its first input of the highest rank). Their first dimensions must agree
    at MinShape and at MaxShape, else the batch size (and samples/s) would be a guess."""
    specs = session.get_inputs()
    dynamic = [i.name for i in specs if i.shape and not (isinstance(i.shape[0], int) and i.shape[0] >= 0)]
    if not dynamic:
        ranked = [i for i in specs if i.shape]
        return [max(ranked, key=lambda i: len(i.shape)).name] if ranked else []
    given = {t["TensorName"]: t for t in config["Inputs"]}
    for key in SHAPES:
        firsts = {name: int(given[name]["Shape"][key][0]) for name in dynamic}
        if len(set(firsts.values())) > 1:
            listed = ", ".join(f"{name!r} {dim}" for name, dim in firsts.items())
            raise TaskError(
                f"TensorConfig {key}: the inputs whose first dimension is dynamic in the model (the batch "
                f"axis) disagree on the batch size ({listed}); give them the same first dimension"
            )
    return dynamic


def points(config: Any, batch: Sequence[str] | None = None, seed: int = 0) -> list[Point]:
    """The inputs at MinShape and at MaxShape (one point when they are the same), seeded so that every
    run of a job (and the benchmark) feeds the same values. ``batch``: the inputs on the batch axis
    (check_config's answer; None: the first listed input, for a config of one batched input)."""
    found: list[Point] = []
    for key in SHAPES:
        rng = np.random.default_rng(seed)
        feeds: dict[str, np.ndarray] = {}
        for tensor in config["Inputs"]:
            shape = tuple(tensor["Shape"][key])
            dtype = tensor_numpy_dtype(tensor["DType"])
            if np.issubdtype(dtype, np.floating):
                feeds[tensor["TensorName"]] = rng.standard_normal(shape).astype(dtype)
            else:
                feeds[tensor["TensorName"]] = rng.integers(0, INT_HIGH, size=shape).astype(dtype)
        names = [config["Inputs"][0]["TensorName"]] if batch is None else list(batch)
        size = int(feeds[names[0]].shape[0]) if names and feeds[names[0]].ndim else 1
        if not found or any(not np.array_equal(feeds[n], found[0].feeds[n]) for n in feeds):
            found.append(Point(key, size, feeds))
    return found


def run_once(session: ort.InferenceSession, feeds: dict[str, np.ndarray]) -> list[Any]:
    """One inference; a runtime failure is a TaskError naming it."""
    try:
        return list(session.run(None, feeds))
    except Exception as exc:
        raise TaskError(f"onnxruntime failed to run the model: {_short(exc)}") from None


def benchmark(session: ort.InferenceSession, point: Point, seconds: float) -> dict[str, Any]:
    """Latency percentiles and throughput of ``point`` after a warm-up, for about ``seconds``."""
    for _ in range(WARMUP_RUNS):
        run_once(session, point.feeds)
    latencies: list[float] = []
    start = time.perf_counter()
    deadline, hard_stop = start + seconds, start + seconds * MAX_OVERRUN
    now = start
    while now < hard_stop and (now < deadline or len(latencies) < MIN_RUNS):
        t0 = time.perf_counter()
        session.run(None, point.feeds)
        now = time.perf_counter()
        latencies.append(now - t0)
    elapsed = now - start
    ms = np.array(latencies) * 1000.0
    p50, p90, p99 = (float(v) for v in np.percentile(ms, [50, 90, 99]))
    per_second = len(latencies) / elapsed
    return {
        "BatchSize": point.batch_size,
        "Shape": point.shape_key,
        "Iterations": len(latencies),
        "MeasuredSeconds": round(elapsed, 3),
        "LatencyMsP50": round(p50, 4),
        "LatencyMsP90": round(p90, 4),
        "LatencyMsP99": round(p99, 4),
        "LatencyMsMean": round(float(ms.mean()), 4),
        "InferencesPerSecond": round(per_second, 2),
        "SamplesPerSecond": round(per_second * point.batch_size, 2),
    }


def _short(exc: BaseException, limit: int = 400) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if len(text) <= limit else text[: limit - 3] + "..."
