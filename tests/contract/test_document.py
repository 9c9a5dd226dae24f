"""The OpenAPI document: valid OpenAPI, every example valid against its schema, one operation per action
of the wire protocol at the right front door, and the documented envelopes on every operation."""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any
from urllib.parse import quote

import pytest
from jsonschema import Draft4Validator
from openapi_spec_validator import validate as validate_spec
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from volcengine_ml_platform import schema

from ._support import API_VERSION, document, operations, resolve, wire_protocol_actions

ROOT = "urn:contract-tests:openapi"
ACTIONS = wire_protocol_actions()
OPEN, INNER = ACTIONS["open"], ACTIONS["inner"]


def test_document_is_valid_openapi() -> None:
    validate_spec(copy.deepcopy(document()))


def test_the_client_ships_exactly_this_document() -> None:
    shipped = json.loads(resources.files("ml_platform_client").joinpath("openapi.json").read_text("utf-8"))
    assert shipped == document(), "openapi.json in the generated package is stale: run `python -m codegen`"


# ---- examples ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    where: str  # JSON pointer of the example
    value: Any
    schema_pointer: str  # JSON pointer of the schema it must satisfy


def _escape(key: str) -> str:
    return key.replace("~", "~0").replace("/", "~1")


def collect_examples(doc: dict[str, Any]) -> list[Example]:
    """Walk the document the way OpenAPI 3.0 defines it and pair every example with its schema."""
    found: list[Example] = []

    def schema_node(node: Any, ptr: str) -> None:
        if not isinstance(node, dict) or "$ref" in node:
            return  # a referenced schema is walked where it is defined
        if "example" in node:
            found.append(Example(f"{ptr}/example", node["example"], ptr))
        for name, sub in node.get("properties", {}).items():
            schema_node(sub, f"{ptr}/properties/{_escape(name)}")
        for key in ("items", "additionalProperties", "not"):
            schema_node(node.get(key), f"{ptr}/{key}")
        for key in ("allOf", "anyOf", "oneOf"):
            for i, sub in enumerate(node.get(key, [])):
                schema_node(sub, f"{ptr}/{key}/{i}")

    def with_examples(node: dict[str, Any], ptr: str) -> None:
        """A media type object or a parameter: `schema` with `example` or `examples`."""
        schema_node(node.get("schema"), f"{ptr}/schema")
        if "example" in node:
            found.append(Example(f"{ptr}/example", node["example"], f"{ptr}/schema"))
        for name, example in node.get("examples", {}).items():
            example = resolve(example, doc)
            if "value" in example:
                found.append(Example(f"{ptr}/examples/{_escape(name)}", example["value"], f"{ptr}/schema"))

    def content(node: dict[str, Any], ptr: str) -> None:
        for media, spec in node.get("content", {}).items():
            with_examples(spec, f"{ptr}/content/{_escape(media)}")
        for name, header in node.get("headers", {}).items():
            if "$ref" not in header:
                with_examples(header, f"{ptr}/headers/{_escape(name)}")

    def parameters(items: list[Any], ptr: str) -> None:
        for i, parameter in enumerate(items):
            if "$ref" not in parameter:
                with_examples(parameter, f"{ptr}/{i}")
                content(parameter, f"{ptr}/{i}")

    components = doc.get("components", {})
    for name, node in components.get("schemas", {}).items():
        schema_node(node, f"/components/schemas/{_escape(name)}")
    for name, node in components.get("parameters", {}).items():
        with_examples(node, f"/components/parameters/{_escape(name)}")
        content(node, f"/components/parameters/{_escape(name)}")
    for kind in ("requestBodies", "responses"):
        for name, node in components.get(kind, {}).items():
            content(node, f"/components/{kind}/{_escape(name)}")
    for path, item in doc["paths"].items():
        base = f"/paths/{_escape(path)}"
        parameters(item.get("parameters", []), f"{base}/parameters")
        for op in operations(doc):
            if op.path != path:
                continue
            ptr = f"{base}/{op.method}"
            parameters(op.spec.get("parameters", []), f"{ptr}/parameters")
            if "requestBody" in op.spec and "$ref" not in op.spec["requestBody"]:
                content(op.spec["requestBody"], f"{ptr}/requestBody")
            for status, response in op.spec["responses"].items():
                if "$ref" not in response:
                    content(response, f"{ptr}/responses/{_escape(str(status))}")
    return found


def _count_keys(node: Any, names: tuple[str, ...]) -> int:
    if isinstance(node, dict):
        own = sum(1 for key in node if key in names)
        # `examples` is a map of Example objects: count its entries, not the key
        own += sum(len(node[key]) - 1 for key in node if key == "examples" and isinstance(node[key], dict))
        return own + sum(_count_keys(value, names) for value in node.values())
    if isinstance(node, list):
        return sum(_count_keys(value, names) for value in node)
    return 0


EXAMPLES = collect_examples(document())


@cache
def _registry() -> Registry[Any]:
    resource: Resource[Any] = Resource.from_contents(document(), default_specification=DRAFT4)
    return Registry().with_resource(ROOT, resource)


def test_every_example_of_the_document_is_checked() -> None:
    assert len(EXAMPLES) == _count_keys(document(), ("example", "examples"))
    kinds = {e.where.split("/")[1] for e in EXAMPLES}
    assert kinds == {"paths", "components"}
    assert any("/responses/" in e.where for e in EXAMPLES)  # operation response examples
    assert any("/properties/" in e.where for e in EXAMPLES)  # property examples
    assert any(e.where.count("/") == 4 and e.where.startswith("/components/schemas/") for e in EXAMPLES)


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.where)
def test_example_is_valid_against_its_schema(example: Example) -> None:
    validator = Draft4Validator(
        {"$ref": f"{ROOT}#{quote(example.schema_pointer, safe='/~')}"},
        registry=_registry(),
        format_checker=schema.format_checker,
    )
    problems = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(example.value)
    ]
    assert problems == []


# ---- actions and front doors ------------------------------------------------------------------------


def test_wire_protocol_tables_are_read() -> None:
    assert len(OPEN) == len(set(OPEN)) == 26
    assert len(INNER) == len(set(INNER)) == 5
    assert {"CreateModel", "StartService", "StopService", "DeleteService", "ListServices"} <= set(OPEN)
    assert set(INNER) == {
        "InnerCreateModel",
        "InnerGetModelVersion",
        "InnerUpdateModelVersion",
        "InnerGetTOSUploadPath",
        "GetSTSToken",
    }


def test_operations_are_exactly_the_actions_of_the_wire_protocol() -> None:
    ids = [op.operation_id for op in operations()]
    assert sorted(ids) == sorted({*OPEN, *INNER})


@pytest.mark.parametrize("action", OPEN)
def test_open_action_is_one_operation_at_the_gateway(action: str) -> None:
    found = [op for op in operations() if op.operation_id == action]
    assert len(found) == 1, f"{action}: {len(found)} operations"
    (op,) = found
    assert op.path == f"/?Action={action}&Version={API_VERSION}"
    assert op.method == "post"
    assert list(document()["paths"][op.path]) == ["post"]
    assert op.spec["security"] == [{"VolcSignature": []}]
    assert not [p for p in op.spec.get("parameters", []) if resolve(p)["in"] == "query"]


@pytest.mark.parametrize("action", INNER)
def test_inner_action_is_one_operation_with_a_token(action: str) -> None:
    found = [op for op in operations() if op.operation_id == action]
    assert len(found) == 1, f"{action}: {len(found)} operations"
    (op,) = found
    assert op.path == f"/ml-platform/{{region}}/api/{action}"
    assert op.method == "post"
    assert op.spec["security"] == [{"SecureToken": []}]
    params = {(p["in"], p["name"]): p for p in map(resolve, op.spec.get("parameters", []))}
    assert set(params) == {("path", "region"), ("query", "Token")}
    assert params["query", "Token"]["required"] is True
    assert params["query", "Token"]["schema"]["type"] == "string"
    assert params["path", "region"]["required"] is True


@pytest.mark.parametrize("op", operations(), ids=lambda op: op.operation_id)
def test_operation_has_a_json_body_a_200_envelope_and_a_default_error(op: Any) -> None:
    body = resolve(op.spec["requestBody"])
    assert body["required"] is True
    assert list(body["content"]) == ["application/json"]

    responses = op.spec["responses"]
    assert "200" in responses
    ok = resolve(responses["200"])
    ok_schema = resolve(ok["content"]["application/json"]["schema"])
    assert {"ResponseMetadata", "Result"} <= set(ok_schema["required"])
    assert ok_schema["properties"]["ResponseMetadata"] == {"$ref": "#/components/schemas/ResponseMetadata"}

    assert "default" in responses
    error = resolve(responses["default"])
    assert list(error["content"]) == ["application/json"]
    assert error["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorResponse"}


def test_error_response_carries_the_documented_error() -> None:
    error = resolve({"$ref": "#/components/schemas/ErrorResponse"})
    assert error["required"] == ["ResponseMetadata"]
    assert "Result" not in error["properties"]
    metadata = resolve(error["properties"]["ResponseMetadata"])
    assert "Error" in metadata["required"]
    info = resolve(metadata["properties"]["Error"])
    assert info["required"] == ["Code", "CodeN", "Message"]
    assert {k: v["type"] for k, v in info["properties"].items()} == {
        "Code": "string",
        "CodeN": "integer",
        "Message": "string",
    }


def test_the_example_check_is_not_vacuous() -> None:
    # the same machinery must reject a wrong example: ModelVersion as a string, a missing RequestId
    (example,) = [e for e in EXAMPLES if "Action=CreateModel&" in e.where]
    broken = copy.deepcopy(example.value)
    broken["Result"]["VersionInfo"]["ModelVersion"] = "14"
    del broken["ResponseMetadata"]["RequestId"]
    validator = Draft4Validator(
        {"$ref": f"{ROOT}#{quote(example.schema_pointer, safe='/~')}"}, registry=_registry()
    )
    assert sorted(e.validator for e in validator.iter_errors(broken)) == ["required", "type"]
