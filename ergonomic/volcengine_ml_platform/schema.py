"""Validation against the OpenAPI document's own schemas.

The rules of the API (enums, patterns, required fields, bounds) are written once, in
``openapi/ml_platform-2021-07-01.yaml``. Codegen ships that document inside the generated package as
``openapi.json``; the client-side validation and the local server's request validation both read it
here, so neither keeps a second copy of a rule.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from functools import cache
from importlib.util import find_spec
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import ValidationError
from .schema_quick import surely_valid

if TYPE_CHECKING:
    # jsonschema takes ~40 ms to import: it is loaded when the first validator is built, so importing
    # the client (or `mlp --version`) does not pay for it.
    import jsonschema
    from jsonschema import Draft4Validator, FormatChecker
    from referencing import Registry

_ROOT = "urn:ml-platform:openapi"
_T = TypeVar("_T")


def __getattr__(name: str) -> Any:
    if name == "format_checker":
        return _format_checker()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@cache
def _format_checker() -> FormatChecker:
    from jsonschema import FormatChecker

    checker = FormatChecker()
    checker.checks("json-string", raises=ValueError)(_is_json_string)
    return checker


def _is_json_string(value: object) -> bool:
    # Metrics' Params and MetricsData are strings that must themselves hold valid JSON.
    if isinstance(value, str):
        json.loads(value, parse_constant=_reject_constant)
    return True


def _reject_constant(name: str) -> object:
    # json.loads accepts NaN and Infinity, which are not JSON.
    raise ValueError(f"{name} is not JSON")


@cache
def document() -> dict[str, Any]:
    """The OpenAPI document the client was generated from."""
    # Found without importing ml_platform_client, which would import httpx: `mlp --help` reads enums.
    spec = find_spec("ml_platform_client")
    if spec is None or spec.loader is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("ml_platform_client is not installed", name="ml_platform_client")
    folder = next(iter(spec.submodule_search_locations))
    data = spec.loader.get_data(os.path.join(folder, "openapi.json"))  # type: ignore[attr-defined]
    doc: dict[str, Any] = json.loads(data)
    return doc


@cache
def api_versions() -> tuple[str, ...]:
    """The API versions the document accepts (``info.x-api-versions``), the first being its own."""
    info = document()["info"]
    return tuple(info.get("x-api-versions", [info["version"]]))


def without_nulls(schema_name: str, instance: _T) -> _T:
    """``instance`` without the fields the document marks ``nullable`` that were sent as ``null``: null
    means absent (SDKs send every optional field, ``null`` for those the caller did not give). A
    required field is never nullable, so a ``null`` there stays and validation rejects it."""
    stripped: _T = _drop_nulls(document()["components"]["schemas"][schema_name], instance)
    return stripped


def _drop_nulls(node: Any, value: Any) -> Any:
    node = _resolve(node)
    if isinstance(value, dict) and isinstance(node.get("properties"), dict):
        properties, required = node["properties"], set(node.get("required", ()))
        return {
            key: _drop_nulls(properties[key], item) if key in properties else item
            for key, item in value.items()
            if item is not None or key in required or not properties.get(key, {}).get("nullable")
        }
    if isinstance(value, list) and isinstance(node.get("items"), dict):
        return [_drop_nulls(node["items"], item) for item in value]
    return value


def _resolve(node: Any) -> Any:
    # A $ref, or the document's nullable wrapper of one: {allOf: [{$ref}], nullable: true}.
    while isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            node = document()["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
        elif isinstance(node.get("allOf"), list) and len(node["allOf"]) == 1:
            node = node["allOf"][0]
        else:
            break
    return node


@cache
def _registry() -> Registry[Any]:
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    registry: Registry[Any] = Registry().with_resource(
        _ROOT, Resource.from_contents(document(), default_specification=DRAFT4)
    )
    return registry


def _ecma_pattern(
    validator: Any, pattern: str, instance: Any, schema: Any
) -> Iterator[jsonschema.ValidationError]:
    # The document's patterns are ECMA-262 regexes, where `$` only matches at the very end. Python's
    # `$` also matches before a final newline, which would let "m-20210812150750-w54j6\n" through.
    if isinstance(instance, str) and not re.search(_anchor_end(pattern), instance):
        from jsonschema import ValidationError

        yield ValidationError(f"{instance!r} does not match {pattern!r}")


@cache
def _anchor_end(pattern: str) -> str:
    return pattern[:-1] + r"\Z" if pattern.endswith("$") and not pattern.endswith("\\$") else pattern


@cache
def _validator_class() -> type[Draft4Validator]:
    from jsonschema import Draft4Validator, validators

    extended: type[Draft4Validator] = validators.extend(  # type: ignore[no-untyped-call]
        Draft4Validator, {"pattern": _ecma_pattern}
    )
    return extended


@cache
def validator(schema_name: str) -> Draft4Validator:
    """A validator for ``#/components/schemas/<schema_name>``."""
    if schema_name not in document()["components"]["schemas"]:
        raise KeyError(f"no schema {schema_name!r} in the document")
    return _validator_class()(
        {"$ref": f"{_ROOT}#/components/schemas/{schema_name}"},
        registry=_registry(),
        format_checker=_format_checker(),
    )


# Keywords whose value is a schema, a list of schemas or a name -> schema mapping (Draft 4).
_SCHEMA_KEYWORDS = frozenset({"items", "additionalItems", "additionalProperties", "not"})
_SCHEMA_LISTS = frozenset({"allOf", "anyOf", "oneOf"})
_SCHEMA_MAPS = frozenset({"properties", "patternProperties", "definitions", "dependencies"})


def _inlined(node: Any, seen: tuple[str, ...] = ()) -> Any:
    """``node`` with every ``$ref`` to a component schema replaced by that schema (Draft 4 ignores a
    ``$ref``'s siblings, so the replacement validates exactly the same). A recursive reference is
    left as it is (the validator keeps the registry to resolve it)."""
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
        name = ref.rsplit("/", 1)[-1]
        if name in seen:
            return {"$ref": f"{_ROOT}{ref}"}
        return _inlined(document()["components"]["schemas"][name], (*seen, name))
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _SCHEMA_KEYWORDS:
            out[key] = (
                [_inlined(v, seen) for v in value] if isinstance(value, list) else _inlined(value, seen)
            )
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [_inlined(v, seen) for v in value]
        elif key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {k: _inlined(v, seen) if isinstance(v, dict) else v for k, v in value.items()}
        else:
            out[key] = value
    return out


@cache
def _inlined_schema(schema_name: str) -> Any:
    if schema_name not in document()["components"]["schemas"]:
        raise KeyError(f"no schema {schema_name!r} in the document")
    return _inlined(document()["components"]["schemas"][schema_name], (schema_name,))


@cache
def _fast_validator(schema_name: str) -> Draft4Validator:
    # Resolving $ref through the registry is most of a validation's time (~85 us for a one-field
    # body, ~10 us inlined); built once per schema.
    return _validator_class()(
        _inlined_schema(schema_name), registry=_registry(), format_checker=_format_checker()
    )


def is_valid(schema_name: str, instance: Any) -> bool:
    """Whether ``instance`` satisfies the schema: the same verdict as :func:`errors`, faster. A value
    the quick check vouches for never imports jsonschema (see :mod:`.schema_quick`)."""
    if surely_valid(_inlined_schema(schema_name), instance):
        return True
    return bool(_fast_validator(schema_name).is_valid(instance))


def field_path(error: jsonschema.ValidationError, root: str = "") -> str:
    """``VersionInfo.TensorConfig.Inputs[0].DType`` style path of an error."""
    out = root
    for part in error.absolute_path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


NUL_PROBLEM = "holds a NUL character (U+0000), which is not allowed"


def text_problem(text: str) -> str | None:
    """Why a string cannot be sent and stored, whatever its schema says: a lone surrogate (not valid
    Unicode, so it cannot be encoded as UTF-8) or a NUL character (PostgreSQL refuses it in text);
    None when it can. The platform refuses both (400); the client refuses them before any I/O."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return f"{shown(text)} holds a lone surrogate (such as \\ud800), which is not valid Unicode"
    return NUL_PROBLEM if "\x00" in text else None


def unsendable(instance: Any, root: str = "") -> list[tuple[str, str]]:
    """(field path, problem) of every string and key of ``instance`` that :func:`text_problem` refuses,
    paths written as :func:`field_path` writes them (``VersionInfo.ModelTags[0].Value``)."""
    found: list[tuple[str, str]] = []
    stack: list[tuple[Any, str]] = [(instance, root)]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            problem = text_problem(item)
            if problem is not None:
                found.append((path, problem))
        elif isinstance(item, dict):
            for key, child in item.items():
                if isinstance(key, str) and (problem := text_problem(key)) is not None:
                    found.append((path, f"the key {problem}"))
                    continue
                stack.append((child, f"{path}.{key}" if path else str(key)))
        elif isinstance(item, list | tuple):
            stack.extend((child, f"{path}[{i}]") for i, child in enumerate(item))
    return sorted(found)


# An error quotes at most this much of the value it refuses (a 4 MiB string is not echoed back).
SHOWN_CHARS = 60


def shown(value: Any) -> str:
    """``repr(value)``, cut to :data:`SHOWN_CHARS` with the value's size said when it is longer."""
    text = repr(value)
    if len(text) <= SHOWN_CHARS:
        return text
    size = f"{len(value)} characters" if isinstance(value, str) else None
    if isinstance(value, list | dict):
        size = f"{len(value)} items"
    return f"{text[:SHOWN_CHARS]}... ({size or f'{len(text)} characters as written'})"


def describe(error: jsonschema.ValidationError, root: str = "") -> str:
    """One line naming the field, what is wrong and what is allowed."""
    where = field_path(error, root)
    schema = error.schema if isinstance(error.schema, dict) else {}
    value = shown(error.instance)
    if error.validator == "required":
        missing = re.search(r"'([^']+)' is a required property", error.message)
        name = missing.group(1) if missing else error.message
        full = f"{where}.{name}" if where else name
        return f"{full} is required"
    if error.validator == "enum":
        allowed = ", ".join(str(v) for v in error.validator_value)  # type: ignore[union-attr]
        return f"{where}: {value} is not allowed; allowed values: {allowed}"
    if error.validator == "pattern":
        rule = " ".join(str(schema.get("description", "")).split()) or f"the pattern {error.validator_value}"
        return f"{where}: {value} is not valid; expected {rule}"
    if error.validator in ("anyOf", "oneOf"):
        branches = error.validator_value if isinstance(error.validator_value, list) else []
        expected = " or ".join(_summary(branch) for branch in branches)
        return f"{where or 'body'}: {value} is not valid; expected {expected}"
    if error.validator == "format" and error.validator_value == "json-string":
        return f"{where}: must be a string holding valid JSON, got {value}"
    if error.validator == "minItems":
        return f"{where}: must have at least {error.validator_value} item(s)"
    if error.validator == "maxItems" and isinstance(error.instance, list):
        return f"{where}: {len(error.instance)} items; at most {error.validator_value} allowed"
    if error.validator == "maxLength" and isinstance(error.instance, str):
        return f"{where}: {value} is too long; at most {error.validator_value} characters allowed"
    if error.validator == "type":
        return f"{where or 'body'}: expected {error.validator_value}, got {type(error.instance).__name__}"
    message = error.message
    if len(message) > 2 * SHOWN_CHARS:  # jsonschema's own message quotes the whole value
        message = message.replace(repr(error.instance), value, 1)
    return f"{where or 'body'}: {message}"


def _summary(branch: Any) -> str:
    """What one branch of an anyOf/oneOf accepts, in a few words."""
    node = _resolve(branch)
    if not isinstance(node, dict):
        return "a value"
    text = " ".join(str(node.get("description", "")).split())
    if text and len(text) <= 80:
        return text
    kind = node.get("type")
    if kind == "integer":
        low, high = node.get("minimum"), node.get("maximum")
        if low is not None and high is not None:
            return f"an integer from {low} to {high}"
        if low is not None:
            return f"an integer of at least {low}"
        return "an integer"
    if isinstance(node.get("enum"), list):
        return "one of " + ", ".join(str(v) for v in node["enum"])
    words = {"string": "a string", "array": "a list", "object": "an object", "number": "a number"}
    return words.get(str(kind), "a value")


def errors(schema_name: str, instance: Any, root: str = "") -> Iterator[jsonschema.ValidationError]:
    """Every error of ``instance`` against the schema, most specific first, in a stable order."""
    if is_valid(schema_name, instance):
        return  # the common case; the errors themselves come from the document's own validator
    found = sorted(
        validator(schema_name).iter_errors(instance),
        key=lambda e: (list(map(str, e.absolute_path)), str(e.validator)),
    )
    for error in found:
        yield from _leaves(error)


def _leaves(error: jsonschema.ValidationError) -> Iterator[jsonschema.ValidationError]:
    # anyOf/oneOf errors carry their branches' errors as context. When some branch fails deeper in the
    # value, that branch's error says more; when every branch refuses the value itself (a string
    # where an integer or a string of digits is allowed), the union is what the caller needs to know.
    if error.context and all(not e.relative_path for e in error.context):
        yield error
        return
    if error.context:
        from jsonschema.exceptions import best_match

        best = best_match(error.context)
        if best is not None:
            yield best
            return
    yield error


def problems(schema_name: str, instance: Any, root: str = "") -> list[str]:
    """Human-readable problems (empty when valid)."""
    return [describe(e, root) for e in errors(schema_name, instance, root)]


def check_body(body_cls: type[Any], body: dict[str, Any]) -> None:
    """Raise ValidationError naming every problem of ``body`` against the request schema of the
    generated ``body_cls`` (its class name is the schema's)."""
    found = problems(body_cls.__name__, body)
    if found:
        first = next(iter(errors(body_cls.__name__, body)))
        raise ValidationError("; ".join(found), field=field_path(first) or None)


def enum_values(schema_name: str) -> list[str]:
    """The allowed values of an enum schema, e.g. ``enum_values("ModelFormat")``."""
    values: list[str] = document()["components"]["schemas"][schema_name]["enum"]
    return list(values)
