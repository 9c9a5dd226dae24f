"""``mlp_server.json_keys.loads``: ``json.loads`` in one pass, refusing an object that holds a key twice
and naming that key's path (the platform's bodies and the replicas' predict requests use it)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from mlp_server.json_keys import DuplicateKeyError, loads


@pytest.mark.parametrize(
    ("text", "path"),
    [
        ('{"a": 1, "a": 2}', "a"),
        ('{"a": {"b": [0, {"c": 1, "d": 2, "c": 3}]}}', "a.b[1].c"),
        ('[{"x": 1}, {"y": 1, "y": 1}]', "[1].y"),
        # several objects with a duplicate: the one that begins first in the text is named
        ('{"outer": {"inner": {"k": 1, "k": 2}}, "outer2": 1, "outer2": 2}', "outer2"),
        ('[{"p": {"k": 1, "k": 2}}, {"q": 1, "q": 2}]', "[0].p.k"),
        ('[{"p": 1, "p": 2}, {"q": 1, "q": 2}]', "[0].p"),
        ('{"a": [], "b": {"c": 1}, "a": []}', "a"),
    ],
)
def test_a_duplicated_key_is_named_by_its_path(text: str, path: str) -> None:
    with pytest.raises(DuplicateKeyError) as caught:
        loads(text)
    assert caught.value.path == path


@pytest.mark.parametrize(
    "text",
    [
        "{}",
        '[{"k": 1}, {"k": 2}]',  # the same key in different objects
        '{"a": {"a": {"a": 1}}}',
        '{"A": 1, "a": 2}',  # keys are case-sensitive
        '{"x": [1, 2.5, "s", null, true, {"y": NaN}]}',
    ],
)
def test_unique_keys_parse_as_json_loads_parses_them(text: str) -> None:
    def constant(literal: str) -> Any:
        return f"<{literal}>"

    assert loads(text, parse_constant=constant) == json.loads(text, parse_constant=constant)
