"""``schema.is_valid`` (the document's schemas with their ``$ref`` inlined, built once per schema) gives
exactly the verdict of the document's own validator, which still produces every error message.

Hypothesis builds bodies from each request schema of the document: mostly valid ones, with values
swapped here and there for arbitrary JSON, keys dropped or added, so that both verdicts occur often.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlp_server.operations import operations
from volcengine_ml_platform import schema
from volcengine_ml_platform.schema_quick import surely_valid

REQUEST_SCHEMAS = sorted({op.request_schema for op in operations().values()})

_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**40), 2**40)
    | st.floats(allow_nan=False)
    | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6,
)


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node or ("allOf" in node and len(node["allOf"]) == 1):
        if "$ref" in node:
            node = schema.document()["components"]["schemas"][node["$ref"].rsplit("/", 1)[-1]]
        else:
            node = node["allOf"][0]
    return node


def _mostly(usual: st.SearchStrategy[Any], other: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``usual`` four times in five (Hypothesis favours small numbers, so the odd one out is 3)."""
    return st.integers(0, 4).flatmap(lambda roll: other if roll == 3 else usual)


def _near(node: dict[str, Any], depth: int = 0) -> st.SearchStrategy[Any]:
    """Values that mostly satisfy ``node``, sometimes not."""
    if depth >= 10:
        return _json
    shaped = _shaped(_resolve(node), depth)
    return st.integers(0, 14).flatmap(lambda roll: _json if roll == 11 else shaped)


def _shaped(node: dict[str, Any], depth: int) -> st.SearchStrategy[Any]:
    if "enum" in node:
        return _mostly(st.sampled_from(node["enum"]), st.text(max_size=8))
    kind = node.get("type")
    if kind == "object" or "properties" in node:
        props: dict[str, Any] = node.get("properties", {})
        required = set(node.get("required", ()))
        fields = {name: _near(sub, depth + 1) for name, sub in props.items()}

        @st.composite
        def build(draw: st.DrawFn) -> dict[str, Any]:
            out = {}
            for name, strategy in fields.items():
                wanted = name in required or draw(st.booleans())
                if wanted and not (name in required and draw(st.integers(0, 39)) == 23):  # a missing required
                    out[name] = draw(strategy)
            if draw(st.integers(0, 19)) == 13:
                out[draw(st.text(min_size=1, max_size=6))] = draw(_json)
            return out

        return build()
    if kind == "array":
        items = node.get("items", {})
        low = int(node.get("minItems", 0))
        return st.lists(
            _near(items, depth + 1), min_size=low, max_size=min(low + 2, int(node.get("maxItems", 9)))
        )
    if kind == "string":
        if "pattern" in node:
            matching = st.from_regex(node["pattern"].removesuffix("$") + r"\Z")
            return _mostly(matching, st.text(max_size=8) | matching.map(lambda text: text + "\n"))
        low = int(node.get("minLength", 0))
        return st.text(min_size=low, max_size=min(low + 12, int(node.get("maxLength", 64))))
    if kind == "integer":
        low, high = node.get("minimum", -5), node.get("maximum", 5)
        return st.integers(int(low) - 1, int(high) + 1)
    if kind == "number":
        return st.floats(allow_nan=False, allow_infinity=False)
    if kind == "boolean":
        return st.booleans()
    return _json


@pytest.mark.parametrize("name", REQUEST_SCHEMAS)
def test_the_fast_verdict_is_the_documents(name: str) -> None:
    reference = schema.validator(name)  # the document's validator, resolving $ref through the registry
    verdicts: set[bool] = set()

    # Derandomized: a body with many required fields (CreateServiceRequest) met no valid example in
    # 40 random ones now and then, and the reach assertion below failed by chance.
    @settings(
        max_examples=40,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(_shaped(_resolve({"$ref": f"#/components/schemas/{name}"}), 0))
    def check(body: Any) -> None:
        expected = not any(True for _ in reference.iter_errors(body))
        assert schema.is_valid(name, body) is expected, body
        assert bool(list(schema.errors(name, body))) is not expected
        verdicts.add(expected)

    check()
    assert True in verdicts  # the generator reaches valid bodies, so the comparison means something


@pytest.mark.parametrize("name", REQUEST_SCHEMAS)
def test_the_fast_validator_is_built_once_and_resolves_no_reference(name: str) -> None:
    fast = schema._fast_validator(name)
    assert fast is schema._fast_validator(name)
    assert "$ref" not in json.dumps(fast.schema)  # the document has no recursive request schema


@pytest.mark.parametrize("name", REQUEST_SCHEMAS)
def test_the_quick_check_vouches_only_for_what_the_document_accepts(name: str) -> None:
    reference = schema.validator(name)
    vouched: set[bool] = set()

    # Derandomized: a body with many required fields (CreateServiceRequest) met no valid example in
    # 40 random ones now and then, and the reach assertion below failed by chance.
    @settings(
        max_examples=40,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(_shaped(_resolve({"$ref": f"#/components/schemas/{name}"}), 0))
    def check(body: Any) -> None:
        expected = not any(True for _ in reference.iter_errors(body))
        quick = surely_valid(schema._inlined_schema(name), body)
        assert expected or not quick, body
        if expected:
            vouched.add(quick)

    check()
    assert True in vouched  # valid requests are decided without jsonschema


@pytest.mark.parametrize(
    ("node", "value"),
    [
        ({"type": "integer"}, 1.0),  # Draft 4: a float is never an integer
        ({"type": "integer"}, True),
        ({"type": "number"}, False),
        ({"enum": ["A"]}, 1),
        ({"pattern": "^m-[0-9]+$"}, "m-1\n"),  # ECMA `$`: no final newline
        ({"type": "string", "format": "json-string"}, '{"a": NaN}'),
        ({"type": "string", "format": "json-string"}, ""),
        ({"type": "string", "format": "date-time"}, "2021-01-01T00:00:00Z"),  # not vouched: unknown
        ({"type": "string", "maxLength": 2}, "abc"),
        ({"type": "array", "minItems": 1}, []),
        ({"type": "object", "required": ["A"]}, {}),
        (
            {"type": "object", "properties": {"A": {"type": "string"}}, "additionalProperties": False},
            {"B": 1},
        ),
        ({"type": "integer", "minimum": 0, "exclusiveMinimum": True}, 1),  # not vouched: unknown keyword
        ({"$ref": "#/components/schemas/ModelID"}, "m-20210812150750-w54j6"),
        ({"oneOf": [{"type": "string"}]}, "a"),
    ],
)
def test_the_quick_check_leaves_to_jsonschema_what_it_cannot_vouch_for(
    node: dict[str, Any], value: Any
) -> None:
    assert not surely_valid(node, value)


@pytest.mark.parametrize(
    ("node", "value"),
    [
        ({"type": "integer", "minimum": 1, "maximum": 100}, 100),
        ({"type": "string", "enum": ["Ascend", "Descend"], "nullable": True}, "Ascend"),
        ({"pattern": "^m-[0-9]+$", "x-anything": 1, "description": "d"}, "m-12"),
        ({"type": "string", "format": "json-string"}, '{"top_k": 1}'),
        ({"anyOf": [{"type": "integer"}, {"type": "string", "pattern": "^[0-9]+$"}]}, "12"),
        ({"type": "object", "properties": {"A": {"type": "string"}}, "required": ["A"]}, {"A": "x", "B": 2}),
    ],
)
def test_the_quick_check_vouches_for_plain_valid_values(node: dict[str, Any], value: Any) -> None:
    assert surely_valid(node, value)
