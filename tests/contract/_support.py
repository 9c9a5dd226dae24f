"""Paths and loaders shared by the contract tests (the pytest fixtures live in ``conftest.py``).

The contract is written down outside this repository, in the ``shared/`` folder that sits beside the
repository root (``<repo>/../shared``): the seed (the documented Python API with real responses) and the
wire protocol. CI clones the repository into a fresh folder with ``shared/`` beside it; when it is missing
the tests fail at collection with a message saying where it was expected, never skip.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCUMENT_PATH = REPO_ROOT / "openapi" / "ml_platform-2021-07-01.yaml"
SHARED_DIR = REPO_ROOT.parent / "shared"
SEED = "seed/volcengine_ml_platform.models.md"
WIRE_PROTOCOL = "docs/wire-protocol.md"
API_VERSION = "2021-07-01"


def shared_file(relative: str) -> Path:
    """A file of ``<repo>/../shared``; fails loudly (at collection) when the folder is not there."""
    path = SHARED_DIR / relative
    if not path.is_file():
        raise FileNotFoundError(
            f"the contract tests need shared/{relative}, expected at {path}: check out the shared/ folder "
            f"beside the repository root {REPO_ROOT} (CI clones the repository next to it)"
        )
    return path


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
    id: str  # e.g. "inner_model.get_model_version"
    data: dict[str, Any]


_CLASS = re.compile(r"^### class volcengine_ml_platform\.models\.(\w+)\.")
_METHOD = re.compile(r"^#### (\w+)\(")
_FENCE = re.compile(r"^\s*```")


@cache
def seed_examples() -> tuple[SeedExample, ...]:
    """Every fenced block of the seed, parsed as JSON and named after the method documenting it."""
    lines = shared_file(SEED).read_text(encoding="utf-8").splitlines()
    module = method = "?"
    found: list[SeedExample] = []
    block: list[str] | None = None
    for number, line in enumerate(lines, 1):
        if block is not None:
            if _FENCE.match(line):
                text = "\n".join(block)
                try:
                    data = json.loads(text)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"seed block ending at line {number} is not JSON: {exc}") from exc
                found.append(SeedExample(f"{module}.{method}", data))
                block = None
            else:
                block.append(line)
        elif _FENCE.match(line):
            block = []
        elif m := _CLASS.match(line):
            module = m.group(1)
        elif m := _METHOD.match(line):
            method = m.group(1)
    if block is not None:
        raise ValueError("unterminated ``` block in the seed")
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


@cache
def wire_protocol_actions() -> dict[str, tuple[str, ...]]:
    """The action names of the tables of wire-protocol sections 2 (open) and 3 (inner)."""
    text = shared_file(WIRE_PROTOCOL).read_text(encoding="utf-8")
    sections: dict[str, tuple[str, ...]] = {}
    for number, key in (("2", "open"), ("3", "inner")):
        match = re.search(rf"^## {number}\. .*?(?=^## )", text, re.M | re.S)
        if match is None:
            raise ValueError(f"wire-protocol.md has no section {number}")
        names: list[str] = []
        for line in match.group(0).splitlines():
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if not line.startswith("|") or cells[0] in ("Action", "") or set(cells[0]) <= set("-: "):
                continue
            names.extend(name.strip() for name in cells[0].split(","))
        sections[key] = tuple(names)
    return sections
