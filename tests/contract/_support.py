"""Paths and loaders shared by the contract tests (the pytest fixtures live in ``conftest.py``).

Everything the contract tests compare against lives in this repository: the OpenAPI document (whose
response examples are the seed's real responses) and, below, the action tables of the wire protocol.
A fresh clone needs nothing beside it (tests/test_fresh_clone.py proves it).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCUMENT_PATH = REPO_ROOT / "openapi" / "ml_platform-2021-07-01.yaml"
API_VERSION = "2021-07-01"

# The actions of wire-protocol sections 2 (open API gateway) and 3 (inner API), as that text lists
# them: the document must have exactly these operations, each at its door.
WIRE_PROTOCOL_ACTIONS: dict[str, tuple[str, ...]] = {
    "open": (
        "CreateModel", "GetModel", "ListModels", "UpdateModel", "DeleteModel", "GetModelNextVersion",
        "ListModelVersions", "GetModelVersion", "UpdateModelVersion", "DeleteModelVersion",
        "GetTOSUploadPath", "CreatePerfJob", "ListPerfJobs", "CancelPerfJob", "ListPerfTasks",
        "UpdatePerfTask", "CancelPerfTask", "AdminGetSecureToken", "ListResource", "CreateService",
        "GetService", "StartService", "StopService", "DeleteService", "UpdateService", "ListServices",
    ),
    "inner": (
        "InnerCreateModel", "InnerGetModelVersion", "InnerUpdateModelVersion", "InnerGetTOSUploadPath",
        "GetSTSToken",
    ),
}  # fmt: skip


@cache
def document() -> dict[str, Any]:
    """The hand-written OpenAPI document, as YAML loads it (do not mutate: it is cached)."""
    loaded: dict[str, Any] = yaml.safe_load(DOCUMENT_PATH.read_text(encoding="utf-8"))
    return loaded


def resolve(node: Any, doc: dict[str, Any] | None = None) -> Any:
    """Follow local ``$ref`` s (``#/components/...``) until a non-reference node."""
    doc = document() if doc is None else doc
    seen: set[str] = set()
    while isinstance(node, dict) and "$ref" in node:
        ref = node["$ref"]
        if not ref.startswith("#/") or ref in seen:
            raise ValueError(f"unresolvable $ref {ref!r}")
        seen.add(ref)
        node = doc
        for part in ref[2:].split("/"):
            node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


@dataclass(frozen=True)
class Operation:
    operation_id: str
    path: str
    method: str
    spec: dict[str, Any]


def operations(doc: dict[str, Any] | None = None) -> list[Operation]:
    doc = document() if doc is None else doc
    methods = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}
    return [
        Operation(op.get("operationId", ""), path, method, op)
        for path, item in doc["paths"].items()
        for method, op in item.items()
        if method in methods
    ]


def operation(operation_id: str) -> Operation:
    (found,) = [op for op in operations() if op.operation_id == operation_id]
    return found


def response_schema_name(operation_id: str, status: str = "200") -> str:
    """The components/schemas name of an operation's JSON response for ``status``."""
    response = resolve(operation(operation_id).spec["responses"][status])
    ref: str = response["content"]["application/json"]["schema"]["$ref"]
    return ref.rsplit("/", 1)[1]


def request_schema_name(operation_id: str) -> str:
    body = resolve(operation(operation_id).spec["requestBody"])
    ref: str = body["content"]["application/json"]["schema"]["$ref"]
    return ref.rsplit("/", 1)[1]


@dataclass(frozen=True)
class SeedExample:
    id: str  # the operationId whose 200 response carries the example, e.g. "InnerGetModelVersion"
    data: dict[str, Any]


@cache
def seed_examples() -> tuple[SeedExample, ...]:
    """Every example of a 200 response in the document: the seed's real responses, one per operation."""
    found: list[SeedExample] = []
    for op in operations():
        ok = resolve(op.spec["responses"].get("200", {}))
        example = ok.get("content", {}).get("application/json", {}).get("example")
        if example is not None:
            found.append(SeedExample(op.operation_id, example))
    return tuple(found)


# The seed documents get_model_version with a response whose ResponseMetadata.Action says
# "ListModelVersions" but whose Result is one version: a List action whose Result has no "List".
SINGLE_RESULT_OF_LIST_ACTION = {"ListModelVersions": "GetModelVersion"}


def action_of(example: dict[str, Any]) -> str:
    """The action whose response ``example`` is, by its ResponseMetadata.Action and its Result's shape."""
    action: str = example["ResponseMetadata"]["Action"]
    result = example.get("Result")
    if action.startswith("List") and isinstance(result, dict) and "List" not in result:
        return SINGLE_RESULT_OF_LIST_ACTION[action]
    return action


def wire_protocol_actions() -> dict[str, tuple[str, ...]]:
    """The action names of the tables of wire-protocol sections 2 (open) and 3 (inner)."""
    return WIRE_PROTOCOL_ACTIONS
