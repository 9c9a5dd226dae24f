"""The operation table, read from the OpenAPI document: which actions exist on which front door and
which schema their body must satisfy. Nothing here is written twice: a new action in the document is
a new row (and needs a handler)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Literal
from urllib.parse import parse_qsl

from volcengine_ml_platform import schema

Door = Literal["open", "inner"]
INNER_PREFIX = "/ml-platform/{region}/api/"


@dataclass(frozen=True)
class Operation:
    action: str
    door: Door
    request_schema: str


def _schema_name(ref: str) -> str:
    return ref.rsplit("/", 1)[-1]


@cache
def operations() -> dict[tuple[Door, str], Operation]:
    doc = schema.document()
    table: dict[tuple[Door, str], Operation] = {}
    for path, item in doc["paths"].items():
        op = item["post"]
        body = op["requestBody"]
        if "$ref" in body:
            body = doc["components"]["requestBodies"][_schema_name(body["$ref"])]
        request_schema = _schema_name(body["content"]["application/json"]["schema"]["$ref"])
        if path.startswith("/?"):
            door: Door = "open"
            action = dict(parse_qsl(path[2:]))["Action"]
        else:
            assert path.startswith(INNER_PREFIX), path
            door, action = "inner", path[len(INNER_PREFIX) :]
        table[(door, action)] = Operation(action, door, request_schema)
    return table


def lookup(door: Door, action: str) -> Operation | None:
    return operations().get((door, action))
