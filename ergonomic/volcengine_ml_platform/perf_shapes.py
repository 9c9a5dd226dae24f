"""The rule of a perf job's shape ranges that the document's schemas cannot say, shared by the client's
``validate_perf_job_tensor_config`` and the platform's CreatePerfJob (it imports neither side).

A perf job measures each tensor at its ``MinShape`` and at its ``MaxShape``: both must give every
dimension (the same length), and no ``MinShape`` dimension may exceed ``MaxShape``'s. The document
says the rest (each dimension a whole number >= 0, at least one, at most 32).
"""

from __future__ import annotations

from typing import Any, TypeGuard


def shape_range_problems(tensor_config: Any, root: str) -> list[tuple[str, str]]:
    """``(field, problem)`` for each tensor of ``tensor_config`` (Inputs, then Outputs) whose range no
    job can measure; ``field`` is ``{root}.Inputs[i].Shape.MinShape``. Values the schema refuses
    (not lists of whole numbers) are left to its own message."""
    found: list[tuple[str, str]] = []
    if not isinstance(tensor_config, dict):
        return found
    for group in ("Inputs", "Outputs"):
        tensors = tensor_config.get(group)
        for index, tensor in enumerate(tensors if isinstance(tensors, list) else []):
            shape = tensor.get("Shape") if isinstance(tensor, dict) else None
            if not isinstance(shape, dict):
                continue
            low, high = shape.get("MinShape"), shape.get("MaxShape")
            if not (_dims(low) and _dims(high)):
                continue
            field = f"{root}.{group}[{index}].Shape.MinShape"
            if len(low) != len(high):
                found.append(
                    (
                        field,
                        f"{low} has {len(low)} dimension(s), MaxShape {high} has {len(high)}: "
                        "both must give every dimension of the tensor",
                    )
                )
                continue
            above = [axis for axis, (lo, hi) in enumerate(zip(low, high, strict=True)) if lo > hi]
            if above:
                found.append(
                    (
                        field,
                        f"{low} exceeds MaxShape {high} in dimension {above[0]}: each MinShape "
                        "dimension must be at most MaxShape's",
                    )
                )
    return found


def _range_problem(low: list[int], high: list[int]) -> str | None:
    if len(low) != len(high):
        return (
            f"{low} has {len(low)} dimension(s), MaxShape {high} has {len(high)}: "
            "both must give every dimension of the tensor"
        )
    above = [axis for axis, (lo, hi) in enumerate(zip(low, high, strict=True)) if lo > hi]
    if above:
        return (
            f"{low} exceeds MaxShape {high} in dimension {above[0]}: each MinShape "
            "dimension must be at most MaxShape's"
        )
    return None


def _dims(value: Any) -> TypeGuard[list[int]]:
    return isinstance(value, list) and all(isinstance(d, int) and not isinstance(d, bool) for d in value)
