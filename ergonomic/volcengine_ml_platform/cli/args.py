"""Parsing the values users type: JSON given inline or as a file, ``KEY=VALUE`` pairs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import ValidationError


def json_arg(value: str | None, flag: str) -> Any:
    """``--flag '{"Inputs": []}'`` or ``--flag path/to/file.json`` (``@file`` works too)."""
    if value is None:
        return None
    text = value.strip()
    if not text.startswith(("{", "[")):
        path = Path(text.removeprefix("@"))
        if not path.is_file():
            raise ValidationError(f"{flag}: {value!r} is neither JSON nor a readable file", field=flag)
        text = path.read_text(encoding="utf-8")
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ValidationError(f"{flag}: not valid JSON ({exc})", field=flag) from None


def pairs(values: list[str] | None, flag: str, form: str = "KEY=VALUE") -> dict[str, str]:
    """``--flag KEY=VALUE`` repeated, as a dict (``form`` is how the help spells it)."""
    result: dict[str, str] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValidationError(f"{flag}: expected {form}, got {item!r}", field=flag)
        result[key] = value
    return result
