"""Precision conversion of an ONNX model, and the check that the converted model still answers alike.

FP16: onnxconverter-common's float16 conversion with ``keep_io_types`` (callers keep sending the same
inputs and get the same output types). INT8: onnxruntime's dynamic quantization (weights to int8,
activations quantized at run time), which needs no calibration data.

Tolerance (recorded in the task's Result): every floating output must satisfy
``|converted - source| <= atol + rtol * |source|`` elementwise, with atol scaled by the output's own
magnitude (``atol = ATOL * max(1, max|source|)``); FP16 keeps about three significant digits, INT8 about
two. Non-floating outputs (labels, indices) are compared exactly and their mismatch share is recorded,
without failing: a label may flip where two classes score alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import INSTALL_HINT, TaskError

PRECISIONS = ("FP16", "INT8")


@dataclass(frozen=True)
class Tolerance:
    rtol: float
    atol: float


TOLERANCES = {"FP16": Tolerance(rtol=1e-2, atol=1e-2), "INT8": Tolerance(rtol=0.1, atol=0.1)}


def convert(source: Path, precision: str, target: Path) -> None:
    """Write ``source`` converted to ``precision`` at ``target``."""
    if precision not in PRECISIONS:
        raise TaskError(
            f"ConvertPrecision {precision!r} is not supported here; the local platform converts to "
            f"{', '.join(PRECISIONS)}"
        )
    try:
        if precision == "FP16":
            import onnx
            from onnxconverter_common import float16

            model = onnx.load(str(source))
            onnx.save(float16.convert_float_to_float16(model, keep_io_types=True), str(target))
        else:
            from onnxruntime.quantization import QuantType, quantize_dynamic

            quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8)
    except TaskError:
        raise
    except ImportError as exc:  # onnx and onnxconverter-common come with the perf extra only
        raise TaskError(
            f"{precision} conversion needs {exc.name}, which is not installed here: {INSTALL_HINT}"
        ) from None
    except Exception as exc:
        raise TaskError(f"{precision} conversion failed: {' '.join(str(exc).split())[:400]}") from None


def compare(precision: str, names: list[str], source: list[Any], converted: list[Any]) -> dict[str, Any]:
    """Check ``converted`` outputs against ``source``'s; returns what was compared (for the Result)."""
    tol = TOLERANCES[precision]
    report: dict[str, Any] = {"RTol": tol.rtol, "ATol": tol.atol, "Outputs": {}}
    for name, ref, got in zip(names, source, converted, strict=True):
        ref_a, got_a = np.asarray(ref), np.asarray(got)
        if ref_a.shape != got_a.shape:
            raise TaskError(
                f"{precision} model's output {name!r} has shape {list(got_a.shape)}, "
                f"the source's {list(ref_a.shape)}"
            )
        if np.issubdtype(ref_a.dtype, np.floating):
            ref64, got64 = ref_a.astype(np.float64), got_a.astype(np.float64)
            scale = max(1.0, float(np.max(np.abs(ref64)))) if ref64.size else 1.0
            diff = np.abs(got64 - ref64)
            max_diff = float(diff.max()) if diff.size else 0.0
            bound = tol.atol * scale + tol.rtol * np.abs(ref64)
            report["Outputs"][name] = {"MaxAbsDiff": max_diff, "Scale": scale}
            if diff.size and not bool(np.all(diff <= bound)):
                raise TaskError(
                    f"{precision} model's output {name!r} differs from the source's by up to {max_diff:.4g} "
                    f"(tolerance {tol.atol} x {scale:.4g} + {tol.rtol} x |source|)"
                )
        else:
            mismatch = float(np.mean(ref_a != got_a)) if ref_a.size else 0.0
            report["Outputs"][name] = {"MismatchShare": mismatch}
    return report
