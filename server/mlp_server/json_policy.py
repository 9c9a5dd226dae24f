"""One JSON policy for every request body, on both doors.

JSON text is decoded as strict UTF-8 and parsed, each object's keys unique (a key sent twice is
refused, never last-wins); the value must then hold no NaN or Infinity (not JSON, and unstorable by
the response encoder), no string or key with a lone surrogate (not valid Unicode, refused by
databases) or a NUL character (PostgreSQL refuses it in text; SQLite's full-text MATCH fails on it),
and nest at most :data:`MAX_DEPTH` containers. Each violation is an ``InvalidParameter`` naming the
field path, so nothing that a later read cannot serialise is stored.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

from volcengine_ml_platform import schema

from .errors import ApiError
from .json_keys import DuplicateKeyError, loads

# Objects and arrays nested in a body, the body's own object counting as 1. Documented in the
# OpenAPI document's description; the deepest documented field (a TensorConfig shape) needs 7.
MAX_DEPTH = 32
_NUL = schema.NUL_PROBLEM


class _NonFinite:
    """What ``NaN``/``Infinity``/``-Infinity`` parse to, so that the walk can name their field."""

    def __init__(self, literal: str) -> None:
        self.literal = literal


def _invalid(path: str, problem: str) -> ApiError:
    return ApiError("InvalidParameter", f"{path or 'body'}: {problem}")


def parse_body(raw: bytes) -> Any:
    """The JSON value of a body that passes the policy; ApiError otherwise."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _invalid("body", f"not valid UTF-8 (byte {exc.start})") from None
    try:
        value = loads(text, parse_constant=_NonFinite)
    except DuplicateKeyError as exc:
        raise _invalid(exc.path, "the key appears more than once in its object; send each key once") from None
    except RecursionError:
        raise _invalid("body", f"nested deeper than {MAX_DEPTH} levels of objects and arrays") from None
    except ValueError as exc:
        raise _invalid("body", f"not valid JSON ({exc})") from None
    check_value(value)
    return value


def check_value(value: Any) -> None:
    """Raise InvalidParameter for the first violation of the policy in an already parsed value."""
    for path, problem in _violations(value):
        raise _invalid(path, problem)


def _violations(value: Any) -> Iterator[tuple[str, str]]:
    # Iterative, so that the depth check itself cannot overflow the stack.
    stack: list[tuple[Any, str, int]] = [(value, "", 1)]
    while stack:
        item, path, depth = stack.pop()
        if isinstance(item, dict | list) and depth > MAX_DEPTH:
            yield path, f"nested deeper than {MAX_DEPTH} levels of objects and arrays"
            return
        if isinstance(item, dict):
            for key, child in item.items():
                where = f"{path}.{key}" if path else str(key)
                if not _is_unicode(key):
                    yield (
                        path or "body",
                        f"the key {key!r} holds a lone surrogate, which is not valid Unicode",
                    )
                    return
                if "\x00" in key:
                    yield path or "body", f"the key {key!r} {_NUL}"
                    return
                stack.append((child, where, depth + 1))
        elif isinstance(item, list):
            stack.extend((child, f"{path}[{i}]", depth + 1) for i, child in enumerate(item))
        elif isinstance(item, _NonFinite):
            yield path, f"{item.literal} is not a JSON number; send a finite number"
            return
        elif isinstance(item, float) and not math.isfinite(item):
            yield path, "the number is too large to represent; send a finite number"
            return
        elif isinstance(item, str):
            problem = schema.text_problem(item)  # the client's check before sending, too
            if problem is not None:
                yield path, problem
                return


def _is_unicode(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def request_body(raw: bytes, schema_name: str) -> dict[str, Any]:
    """A request's JSON body under this policy and valid against ``schema_name``; ApiError otherwise
    (MissingParameter for a missing required field, else InvalidParameter, naming the fields)."""
    if not raw.strip():
        # The document makes every request body required; `{}` is how to send no parameters.
        raise ApiError("MissingParameter", "body: a JSON object is required (send {} for no parameters)")
    body = parse_body(raw)
    if not isinstance(body, dict):
        raise ApiError("InvalidParameter", f"body: expected a JSON object, got {type(body).__name__}")
    body = schema.without_nulls(schema_name, body)  # null means absent (the document)
    if schema.is_valid(schema_name, body):
        return body
    errors = list(schema.errors(schema_name, body))
    if errors:
        code = "MissingParameter" if errors[0].validator == "required" else "InvalidParameter"
        raise ApiError(code, "; ".join(schema.describe(e) for e in errors[:10]))
    return body
