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
        text = read_text_file(path, flag)
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ValidationError(f"{flag}: not valid JSON ({exc})", field=flag) from None


def read_text_file(path: Path, flag: str) -> str:
    """A UTF-8 file an argument names; one that cannot be read or is not UTF-8 is a ValidationError
    naming the argument and the file (``mlp`` exits 2), not an unexpected error."""
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise ValidationError(
            f"{flag}: {str(path)!r} is not UTF-8 text (byte {exc.start})", field=flag
        ) from None
    except OSError as exc:
        raise ValidationError(
            f"{flag}: {str(path)!r} cannot be read: {exc.strerror or exc}", field=flag
        ) from None


def pairs(values: list[str] | None, flag: str, form: str = "KEY=VALUE") -> dict[str, str]:
    """``--flag KEY=VALUE`` repeated, as a dict (``form`` is how the help spells it)."""
    result: dict[str, str] = {}
    for item in values or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ValidationError(f"{flag}: expected {form}, got {item!r}", field=flag)
        result[key] = value
    return result
