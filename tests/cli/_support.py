"""Plain helpers of the ``mlp`` command-line tests: a clean environment, running the real entry point
as a subprocess, parsing what it prints (tables, key/value lines, the JSON envelope), and ``mlp serve``
in a subprocess.

The pytest fixtures (the two peers) live in ``conftest.py``."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "iris-onnx"
EXAMPLE_TENSOR_CONFIG = EXAMPLE / "tensor_config.json"
MODULE_CMD = [sys.executable, "-m", "volcengine_ml_platform.cli"]
MODEL_ID = re.compile(r"^m-\d{14}-[0-9a-z]{5}$")
REQUEST_ID = re.compile(r"^\d{14}[0-9A-F]+$")
SHOWN = re.compile(r"^\((\d+) shown of (\d+)\)$")
MISSING_MODEL = "m-20200101000000-aaaaa"  # well-formed, never allocated (ids carry the current time)
DEFAULT_TIMEOUT = 60.0
STARTUP_TIMEOUT = 30.0
T = TypeVar("T")


def clean_env(root: Path, **extra: str) -> dict[str, str]:
    """The test process's environment without any Volcengine/platform setting; HOME, the config file
    and the default embedded data folder all in ``root`` (a tmp folder)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("VOLC_", "VOLCENGINE_", "MLP_")) and k != "ML_PLATFORM_HOST"
    }
    home = root / "home"
    home.mkdir(parents=True, exist_ok=True)
    env["HOME"] = str(home)
    env["VOLC_CONFIG_FILE"] = str(root / "no-such-volc-config")
    env["VOLC_ML_PLATFORM_DATA_DIR"] = str(root / "default-platform")
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


@dataclass(repr=False)
class Result:
    """One finished ``mlp`` run (its repr is the readable transcript assertion messages show)."""

    argv: list[str]
    code: int
    out: str
    err: str
    seconds: float

    def __repr__(self) -> str:
        return (
            f"$ {' '.join(self.argv)}\n-> exit {self.code} in {self.seconds:.1f}s\n"
            f"--- stdout ---\n{self.out}--- stderr ---\n{self.err}"
        )

    def ok(self) -> Result:
        assert self.code == 0, f"expected success\n{self}"
        assert "Traceback" not in self.err, str(self)
        return self

    def fails(self, code: int) -> Result:
        assert self.code == code, f"expected exit {code}\n{self}"
        assert "Traceback" not in self.err, str(self)
        assert self.out == "", f"a failure should print nothing on stdout\n{self}"
        return self

    def json(self) -> Any:
        try:
            return json.loads(self.out)
        except ValueError as exc:
            raise AssertionError(f"stdout is not JSON ({exc})\n{self}") from None

    def envelope(self, action: str) -> Any:
        """The documented envelope: ResponseMetadata (with this Action) and Result; returns Result."""
        data = self.json()
        assert set(data) == {"ResponseMetadata", "Result"}, self
        meta = data["ResponseMetadata"]
        assert meta["Action"] == action, self
        assert meta["Version"] == "2021-07-01", self
        assert meta["Service"] == "ml_platform", self
        assert REQUEST_ID.match(meta["RequestId"]), self
        assert "Error" not in meta, self
        return data["Result"]

    def kv(self) -> dict[str, str]:
        """Key/value lines (``Key  value``) as a dict of strings."""
        pairs: dict[str, str] = {}
        for line in self.out.splitlines():
            key, _, value = line.partition(" ")
            pairs[key] = value.strip()
        return pairs

    def table(self) -> Table:
        """The table on stdout; a listing's ``(N shown of M)`` footer is read from stderr."""
        table = parse_table(self.out)
        for line in self.err.splitlines():
            m = SHOWN.match(line)
            if m:
                table.shown, table.total = int(m.group(1)), int(m.group(2))
        return table


@dataclass
class Table:
    headers: list[str]
    rows: list[dict[str, str]]
    shown: int | None = None
    total: int | None = None
    extra: list[str] = field(default_factory=list)

    def column(self, name: str) -> list[str]:
        return [row[name] for row in self.rows]


def parse_table(text: str) -> Table:
    """A table as ``output.table`` prints it: a header line whose names start each column (cells are
    left-justified to the column width), rows, then for listings ``(N shown of M)``."""
    lines = text.splitlines()
    assert lines, "no output"
    header = lines[0]
    spans = [(m.start(), m.group()) for m in re.finditer(r"\S+(?: \S+)*", header)]
    assert spans, f"no header in {text!r}"
    table = Table(headers=[name for _, name in spans], rows=[])
    for line in lines[1:]:
        m = SHOWN.match(line)
        if m:
            table.shown, table.total = int(m.group(1)), int(m.group(2))
            continue
        if table.shown is not None:
            table.extra.append(line)
            continue
        row = {}
        for i, (start, name) in enumerate(spans):
            end = spans[i + 1][0] if i + 1 < len(spans) else None
            row[name] = line[start:end].strip()
        table.rows.append(row)
    return table


def run_mlp(
    args: Sequence[str],
    env: dict[str, str],
    *,
    cmd: Sequence[str] | None = None,
    cwd: Path | None = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> Result:
    argv = [*(cmd or MODULE_CMD), *args]
    start = time.monotonic()
    proc = subprocess.run(
        argv, env=env, cwd=cwd or REPO, capture_output=True, text=True, timeout=timeout, check=False
    )
    return Result(argv, proc.returncode, proc.stdout, proc.stderr, time.monotonic() - start)


@dataclass
class Peer:
    """Where the platform runs, as the environment a ``mlp`` subprocess gets."""

    name: str
    env: dict[str, str]
    data_dir: Path
    url: str | None = None

    def run(self, *args: str, env: dict[str, str] | None = None, **kw: Any) -> Result:
        return run_mlp(args, {**self.env, **(env or {})}, **kw)

    def run_all(self, *commands: Sequence[str]) -> list[Result]:
        """Independent (read-only) commands at once: each is a fresh process, so this saves time."""
        return parallel(*(partial(self.run, *args) for args in commands))


def parallel(*calls: Callable[[], T]) -> list[T]:
    """Run independent calls (each starting a process) at once; their results in order."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda call: call(), calls))


def files_of(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}
