"""JSON parsed in one pass with every object's keys unique.

``json.loads`` keeps the last of a duplicated key, silently, so a sender and the platform could
disagree on what a body asks. :func:`loads` refuses such a body with :class:`DuplicateKeyError`
naming the key's path (``VersionInfo.ModelTags[0].Key``). The check rides the parser's own
``object_pairs_hook`` (one ``dict()`` and a length comparison per object); the path is looked for
only when a duplicate was seen. Imports nothing heavy: the serving replicas use it too.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any


class DuplicateKeyError(ValueError):
    """A JSON object held one key more than once; ``path`` names it (``a.b[0].c``)."""

    def __init__(self, path: str) -> None:
        super().__init__(f"{path}: the key appears more than once in its object")
        self.path = path


class _Duplicated(dict[str, Any]):
    """An object in which ``key`` appeared more than once (built only for such an object)."""

    key: str


def _marked(obj: dict[str, Any], pairs: list[tuple[str, Any]]) -> _Duplicated:
    marked = _Duplicated(obj)
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            marked.key = key
            break
        seen.add(key)
    return marked


def loads(text: str | bytes, *, parse_constant: Callable[[str], Any] | None = None) -> Any:
    """``json.loads(text)``, or DuplicateKeyError naming a key held twice, in the object that begins
    first in the text among those holding one. ValueError/RecursionError as ``json.loads`` raises them."""
    found = False

    def unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        # Called once per object: kept to one dict() and one comparison when the keys are unique.
        obj = dict(pairs)
        if len(obj) == len(pairs):
            return obj
        nonlocal found
        found = True
        return _marked(obj, pairs)

    value = json.loads(text, object_pairs_hook=unique, parse_constant=parse_constant)
    if found:
        raise DuplicateKeyError(_first_duplicate(value))
    return value


def _first_duplicate(value: Any) -> str:
    # Iterative, in the order objects begin in the text: one before what it holds, siblings in
    # order (pushed reversed).
    stack: list[tuple[Any, str]] = [(value, "")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, dict):
            if type(item) is _Duplicated:
                return f"{path}.{item.key}" if path else item.key
            stack.extend((child, f"{path}.{key}" if path else key) for key, child in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend((item[i], f"{path}[{i}]") for i in reversed(range(len(item))))
    raise AssertionError("a duplicate was seen but is not in the value")  # pragma: no cover
