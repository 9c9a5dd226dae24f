"""The documented validation functions (wire-protocol section 4).

Each rule is read from the OpenAPI document's schemas (``ModelTensorConfig``, ``PerfTensorConfig``,
``MetricsList``, ``ModelCategory``, ``SourceType``) rather than written again here; these functions only
name the Python argument in the message. They raise :class:`~volcengine_ml_platform.errors.ValidationError`
(a ``ValueError``), before anything is sent.
"""

from __future__ import annotations

import json
import numbers
import os
from collections.abc import Callable
from typing import Any

from .. import schema
from ..errors import ValidationError
from ..perf_shapes import shape_range_problems


def valid_json(serialized_data: Any) -> bool:
    """Whether ``serialized_data`` is a string holding valid JSON."""
    if not isinstance(serialized_data, str | bytes | bytearray):
        return False
    try:
        json.loads(serialized_data, parse_constant=_no_constants)
    except ValueError:
        return False
    return True


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _unsendable(value: Any, name: Callable[[str], str]) -> None:
    """A NUL character or a lone surrogate anywhere in ``value``: ValidationError naming the argument
    (``name`` turns a field path into it), before anything is sent. A surrogate cannot even be
    encoded, and either would be refused only after a registration's upload."""
    found = schema.unsendable(value)
    if found:
        field = name(found[0][0])
        message = "; ".join(f"{name(path)}: {problem}" for path, problem in found)
        raise ValidationError(message, field=field or None)


def _check(schema_name: str, value: Any, argument: str) -> None:
    _unsendable(value, lambda path: argument + ("" if not path or path.startswith("[") else ".") + path)
    problems = schema.problems(schema_name, value, root=argument)
    if problems:
        raise ValidationError("; ".join(problems), field=argument)


def validate_local_path(local_path: Any) -> None:
    """``local_path`` must be given and must be an existing file or folder."""
    if local_path is None or local_path == "":
        raise ValidationError("local_path is required", field="local_path")
    if not isinstance(local_path, str | os.PathLike):
        raise ValidationError(
            f"local_path: expected a path, got {type(local_path).__name__}", field="local_path"
        )
    if not os.path.exists(local_path):
        raise ValidationError(f"local_path: {os.fspath(local_path)!r} does not exist", field="local_path")
    if not (os.path.isfile(local_path) or os.path.isdir(local_path)):
        raise ValidationError(
            f"local_path: {os.fspath(local_path)!r} is not a regular file or a folder (a FIFO, device or "
            "socket cannot be uploaded)",
            field="local_path",
        )


def validate_destination(local_path: Any) -> None:
    """A download's ``local_path``: a path given as text or a path object, not empty (``""`` would be
    the current directory); the folder need not exist yet."""
    if not isinstance(local_path, str | os.PathLike):
        what = "None" if local_path is None else type(local_path).__name__
        raise ValidationError(f"local_path: expected a folder path, got {what}", field="local_path")
    if os.fspath(local_path) == "":
        raise ValidationError(
            "local_path: an empty path is not a folder (write '.' for the current directory)",
            field="local_path",
        )


def validate_metrics(model_metrics: Any) -> None:
    """A non-empty list of ``{MetricsType, Params, MetricsData}``; Params and MetricsData hold JSON."""
    _check("MetricsList", model_metrics, "model_metrics")


def validate_model_category(model_category: Any) -> None:
    """None, or one of the document's ModelCategory values."""
    if model_category is not None:
        _check("ModelCategory", model_category, "model_category")


def validate_model_tensor_config(tensor_config: Any) -> None:
    """``{"Inputs": [tensor...], "Outputs": [...]}``; tensor ``{TensorName, Shape: [int...], DType}``."""
    _check("ModelTensorConfig", tensor_config, "tensor_config")


def validate_perf_job_tensor_config(tensor_config: Any) -> None:
    """As the model's, but ``Shape`` is ``{"MinShape", "MaxShape"}`` (dimensions >= 0, the same
    length, MinShape at most MaxShape in each) and STRING/BOOL are not allowed."""
    _check("PerfTensorConfig", tensor_config, "tensor_config")
    problems = shape_range_problems(tensor_config, "tensor_config")
    if problems:
        message = "; ".join(f"{field}: {problem}" for field, problem in problems)
        raise ValidationError(message, field="tensor_config")


def validate_source_type(source_type: Any) -> None:
    """None, or one of the document's SourceType values."""
    if source_type is not None:
        _check("SourceType", source_type, "source_type")


def check_named(schema_name: str, body: dict[str, Any], arguments: dict[str, str]) -> None:
    """``body`` checked against the request schema ``schema_name``, its problems named by the Python
    arguments they came from (``arguments``: the body's field path -> the argument, e.g.
    ``"VersionInfo.ModelTags" -> "model_tags"``); a field missing from ``arguments`` keeps its wire
    path."""

    def rename(text: str) -> str:
        for path, argument in arguments.items():
            if text == path or text.startswith((f"{path}:", f"{path}.", f"{path}[")):
                return argument + text[len(path) :]
        return text

    _unsendable(body, rename)
    found = list(schema.errors(schema_name, body))
    if not found:
        return

    field = rename(schema.field_path(found[0]))
    raise ValidationError("; ".join(rename(schema.describe(e)) for e in found), field=field or None)


def validate_argument(schema_name: str, value: Any, argument: str) -> None:
    """Any other argument (model_format, job_type, page_size ...) checked against its schema in the
    document (``ModelFormat``, ``JobType``, ``Limit`` ...); None means "not given"."""
    if value is not None:
        _check(schema_name, value, argument)


def validate_required(schema_name: str, value: Any, argument: str) -> None:
    """A required argument (an ID): None is refused by the argument's name (not as the wire field
    it would have filled, nor as the ``None-1`` version ID it would have made), then checked as
    :func:`validate_argument` checks it."""
    if value is None:
        raise ValidationError(f"{argument}: required, got None", field=argument)
    _check(schema_name, value, argument)


def validate_seconds(value: Any, argument: str, *, above_zero: bool = False) -> None:
    """A duration in seconds (``timeout``, ``interval``): a real number (an int, a float, a numpy
    integer or float), at least 0 (``above_zero``: more than 0). NaN is refused too: a deadline of NaN
    is never reached. A bool is no duration."""
    number = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not number or not (value > 0 if above_zero else value >= 0):
        least = "above 0" if above_zero else "of at least 0"
        raise ValidationError(f"{argument}: {value!r} is not a number of seconds {least}", field=argument)
