"""Precision conversion of an ONNX model, and the check that the converted model still answers alike.

FP16: onnxconverter-common's float16 conversion with ``keep_io_types`` (callers keep sending the same
inputs and get the same output types). INT8: onnxruntime's dynamic quantization (weights to int8,
activations quantized at run time), which needs no calibration data.

Tolerance (recorded in the task's Result): every floating output must satisfy
``|converted - source| <= atol + rtol * |source|`` elementwise, with atol scaled by the output's own
magnitude (``atol = ATOL * max(1, max|finite source|)``); FP16 keeps about three significant digits,
INT8 about two. A position where both are NaN, or both the same infinity, agrees. Non-floating outputs
(labels, indices) are compared exactly: a label may flip where two classes score alike, so up to
``MAX_MISMATCH_SHARE`` of an output's elements may differ, and more fails the check.

A conversion whose graph does not come out at the precision asked (dynamic quantization of a graph
with no operator it quantizes; FP16 of a model without floating-point weights) fails
(``check_precision``): the version would be recorded at a precision its graph does not have.
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
# The share of an integer (or boolean) output's elements that may differ from the source's.
MAX_MISMATCH_SHARE = 0.01


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


def check_precision(target: Path, precision: str) -> None:
    """The converted graph must hold what was asked (precision.model_precision), else the version
    would be recorded at a precision it does not have: a TaskError saying what the conversion could
    not convert, and why."""
    from .precision import INT8, read_graph

    contents = read_graph(target)
    if contents is None:  # onnx missing: convert() has already said so
        raise TaskError(f"{precision} conversion cannot be checked without onnx: {INSTALL_HINT}")
    found = contents.precision
    if found == precision:
        return
    kept = "; no version was registered"
    ops = ", ".join(sorted(contents.ops)) or "none"
    if precision == "INT8":
        from onnxruntime.quantization.registry import IntegerOpsRegistry

        raise TaskError(
            f"INT8 conversion converted nothing: the result is still {found} (dynamic quantization "
            f"quantizes the weights of {', '.join(sorted(IntegerOpsRegistry))}; this model's operators "
            f"are {ops}){kept}"
        )
    from onnx import TensorProto

    half = contents.elements[TensorProto.FLOAT16]
    if found == INT8:
        raise TaskError(f"FP16 conversion of a quantized model gives a quantized (INT8) graph{kept}")
    if contents.wide_elements + half:
        raise TaskError(
            f"FP16 conversion left the model FP32: {half} of {half + contents.wide_elements} "
            f"floating-point weight elements are FLOAT16 (operators the conversion keeps in FP32 hold "
            f"the rest; this model's operators are {ops}){kept}"
        )
    raise TaskError(
        f"FP16 conversion has nothing to convert: the model has no floating-point weights "
        f"(initializers, sparse initializers or Constant nodes), which the precision recorded is "
        f"read from{kept}"
    )


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
            report["Outputs"][name] = _compare_floats(precision, tol, name, ref_a, got_a)
        else:
            mismatch = float(np.mean(ref_a != got_a)) if ref_a.size else 0.0
            report["Outputs"][name] = {"MismatchShare": mismatch}
            if mismatch > MAX_MISMATCH_SHARE:
                raise TaskError(
                    f"{precision} model's output {name!r} differs from the source's in {mismatch:.1%} of "
                    f"its elements (an integer output; at most {MAX_MISMATCH_SHARE:.0%} may differ)"
                )
    return report


def _compare_floats(
    precision: str, tol: Tolerance, name: str, ref_a: np.ndarray, got_a: np.ndarray
) -> dict[str, Any]:
    ref64, got64 = ref_a.astype(np.float64), got_a.astype(np.float64)
    # Both NaN, or both the same infinity: the models agree there (and diff would be NaN).
    alike = (np.isnan(ref64) & np.isnan(got64)) | (np.isinf(ref64) & (ref64 == got64))
    finite_ref = np.abs(ref64[np.isfinite(ref64)])
    scale = max(1.0, float(finite_ref.max())) if finite_ref.size else 1.0
    with np.errstate(invalid="ignore"):
        diff = np.abs(got64 - ref64)
    compared = ~alike
    # Where only one side is NaN or infinite, the difference is unbounded (never within tolerance).
    unbounded = compared & ~np.isfinite(diff)
    finite_diff = diff[compared & np.isfinite(diff)]
    max_diff = float(finite_diff.max()) if finite_diff.size else 0.0
    report = {"MaxAbsDiff": max_diff, "Scale": scale}
    if unbounded.any():
        raise TaskError(
            f"{precision} model's output {name!r} and the source's disagree on NaN or infinity in "
            f"{int(unbounded.sum())} place(s) (one is NaN or infinite where the other is not, or the "
            f"other infinity)"
        )
    bound = tol.atol * scale + tol.rtol * np.abs(ref64)
    if not bool(np.all(diff[compared] <= bound[compared])):
        raise TaskError(
            f"{precision} model's output {name!r} differs from the source's by up to {max_diff:.4g} "
            f"(tolerance {tol.atol} x {scale:.4g} + {tol.rtol} x |source|)"
        )
    return report
