"""A quick "certainly valid" for the document's schemas, without importing jsonschema.

Most values checked are valid (every argument of every call, every request the platform serves), and
importing jsonschema with its ``referencing`` registry costs about a tenth of an embedded ``mlp models
list``. :func:`surely_valid` walks a schema whose ``$ref`` are inlined (``schema._inlined``) and
answers True only when every keyword it meets is one it evaluates exactly as Draft 4 does (as the
document uses them); anything else (an unknown keyword, a ``$ref`` left in place, a value it does not
vouch for) answers False, and the caller asks jsonschema, which also writes the error messages. So a
True is always jsonschema's verdict too (tests/contract/test_fast_validation.py compares them), and a
False costs only the import it would have cost anyway.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from functools import cache
from typing import Any

# Keywords that only describe (Draft 4 and OpenAPI annotations): they never change a verdict.
_ANNOTATIONS = frozenset({"description", "example", "examples", "default", "title", "nullable"})

_TYPES: dict[str, Callable[[Any], bool]] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    # Draft 4: an integer is an int (never a bool, never a float such as 1.0); a number is either.
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


@cache
def _ecma(pattern: str) -> re.Pattern[str]:
    # As schema._ecma_pattern: the document's `$` matches only at the very end (ECMA-262).
    if pattern.endswith("$") and not pattern.endswith("\\$"):
        pattern = pattern[:-1] + r"\Z"
    return re.compile(pattern)


def _json_string(value: str) -> bool:
    def constant(name: str) -> Any:
        raise ValueError(name)

    try:
        json.loads(value, parse_constant=constant)
    except ValueError:
        return False
    return True


def surely_valid(node: Any, value: Any) -> bool:
    """True only if ``value`` satisfies the (inlined) schema ``node`` for certain; False: ask jsonschema."""
    if not isinstance(node, Mapping):
        return False
    for key, rule in node.items():
        if key in _ANNOTATIONS or key.startswith("x-"):
            continue
        if not _keyword(key, rule, node, value):
            return False
    return True


def _keyword(key: str, rule: Any, node: Mapping[str, Any], value: Any) -> bool:
    if key == "type":
        kinds = rule if isinstance(rule, list) else [rule]
        return any(kind in _TYPES and _TYPES[kind](value) for kind in kinds)
    if key == "enum":
        # Only strings are vouched for: jsonschema's equality tells 1 from True and 1.0 from 1.
        return isinstance(value, str) and isinstance(rule, list) and value in rule
    if key == "properties":
        if not isinstance(value, dict):
            return True
        return all(name not in value or surely_valid(sub, value[name]) for name, sub in rule.items())
    if key == "required":
        return not isinstance(value, dict) or all(name in value for name in rule)
    if key == "additionalProperties":
        if not isinstance(value, dict):
            return True
        extra = [name for name in value if name not in node.get("properties", {})]
        if "patternProperties" in node:
            return False
        if rule is False:
            return not extra
        if rule is True:
            return True
        return all(surely_valid(rule, value[name]) for name in extra)
    if key == "items":
        if not isinstance(value, list):
            return True
        return isinstance(rule, Mapping) and all(surely_valid(rule, item) for item in value)
    if key in ("minItems", "maxItems", "minLength", "maxLength"):
        if not isinstance(value, list if key.endswith("Items") else str):
            return True
        return isinstance(rule, int) and (len(value) >= rule if key.startswith("min") else len(value) <= rule)
    if key in ("minimum", "maximum"):
        if not _TYPES["number"](value):
            return True
        if node.get("exclusiveMinimum") or node.get("exclusiveMaximum"):
            return False
        return bool(value >= rule if key == "minimum" else value <= rule)
    if key == "pattern":
        return not isinstance(value, str) or _ecma(rule).search(value) is not None
    if key == "format":
        return rule == "json-string" and (not isinstance(value, str) or _json_string(value))
    if key == "allOf":
        return all(surely_valid(sub, value) for sub in rule)
    if key == "anyOf":
        return any(surely_valid(sub, value) for sub in rule)
    return False  # $ref, oneOf, not, ... : jsonschema decides
