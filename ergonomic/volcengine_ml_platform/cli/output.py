"""How the ``mlp`` command prints: readable tables by default, the documented JSON envelope with
``--output json`` (so scripts can pipe it)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any, TextIO

Column = tuple[str, Callable[[Mapping[str, Any]], Any]]


def field(name: str) -> Callable[[Mapping[str, Any]], Any]:
    return lambda row: row.get(name)


def as_plain(response: Any) -> Any:
    """A generated model (or anything with ``to_dict``) as plain JSON data."""
    return response.to_dict() if hasattr(response, "to_dict") else response


def _escape_of(code: int) -> str:
    named = {0x09: "\\t", 0x0A: "\\n", 0x0D: "\\r"}
    return named.get(code, f"\\x{code:02x}")


# C0 controls, DEL and C1 controls (0x9b is a one-byte CSI to many terminals) -> a visible escape: a
# value any user of the account can set (a Description, a name) must not move the cursor, retitle the
# window, clear the screen or start a forged row of the table.
_CONTROLS = {code: _escape_of(code) for code in (*range(0x20), *range(0x7F, 0xA0))}
_LINES = {code: escape for code, escape in _CONTROLS.items() if code != 0x0A}
_JSON_C1 = {code: f"\\u{code:04x}" for code in range(0x7F, 0xA0)}


def printable(text: str, *, lines: bool = False) -> str:
    """``text`` with its control characters written as escapes (``\\x1b``, ``\\n``); ``lines`` keeps
    its line breaks (a message of several lines)."""
    return text.translate(_LINES if lines else _CONTROLS)


def json_text(data: Any, **options: Any) -> str:
    """``json.dumps`` with the C1 controls and DEL, which JSON leaves raw, written as ``\\u`` escapes
    (JSON escapes the C0 ones itself)."""
    return json.dumps(data, ensure_ascii=False, **options).translate(_JSON_C1)


def cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json_text(value, separators=(",", ":"))
    return printable(str(value))


def table(rows: Sequence[Mapping[str, Any]], columns: Sequence[Column], out: TextIO | None = None) -> None:
    out = out or sys.stdout
    header = [name for name, _ in columns]
    body = [[cell(get(row)) for _, get in columns] for row in rows]
    widths = [max([len(h), *(len(r[i]) for r in body)]) for i, h in enumerate(header)]
    for line in [header, *body]:
        out.write("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=True)).rstrip() + "\n")


def key_values(data: Mapping[str, Any], out: TextIO | None = None) -> None:
    """One ``Key  value`` line per field (nested values as compact JSON)."""
    out = out or sys.stdout
    keys = {key: printable(str(key)) for key in data}
    width = max((len(k) for k in keys.values()), default=0)
    for key, value in data.items():
        out.write(f"{keys[key].ljust(width)}  {cell(value)}\n")


def footer(text: str) -> None:
    """A note for people (``(10 shown of 42)``): on stderr, so ``| head`` or ``| wc -l`` see rows only."""
    sys.stderr.write(text + "\n")


class Printer:
    def __init__(self, fmt: str, out: TextIO | None = None) -> None:
        self.fmt = fmt
        self.out = out or sys.stdout

    def json(self, data: Any) -> None:
        self.out.write(json_text(as_plain(data), indent=2) + "\n")

    def listing(self, response: Any, columns: Sequence[Column]) -> None:
        """A ``{"Total", "List"}`` result: a table and its total, or the envelope as JSON."""
        if self.fmt == "json":
            return self.json(response)
        result = as_plain(response)["Result"]
        table(result["List"], columns, self.out)
        shown = len(result["List"])
        footer(f"({shown} shown of {result.get('Total', shown)})")

    def everything(self, items: list[dict[str, Any]], columns: Sequence[Column]) -> None:
        """Every item of a listing (``--all``): a table, or ``{"Result": {"Total", "List"}}`` as JSON
        (no ResponseMetadata: the items came from several requests)."""
        if self.fmt == "json":
            return self.json({"Result": {"Total": len(items), "List": items}})
        table(items, columns, self.out)
        footer(f"({len(items)} shown of {len(items)})")

    def result(self, response: Any) -> None:
        """A single object: its Result as key/value lines, or the envelope as JSON."""
        if self.fmt == "json":
            return self.json(response)
        key_values(as_plain(response)["Result"], self.out)

    def message(self, text: str, data: Any) -> None:
        """A sentence for people, ``data`` for scripts."""
        if self.fmt == "json":
            return self.json(data)
        self.out.write(printable(text, lines=True) + "\n")
