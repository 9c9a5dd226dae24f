"""Where a local platform keeps its data: one rule for the client's embedded platform and ``mlp serve``.

The folder is the argument, else ``VOLC_ML_PLATFORM_DATA_DIR``, else ``~/.volc/ml_platform``, so that
``mlp serve``, ``mlp account`` and the embedded platform find the same folder. Like ``signing`` and
``schema``, this module is shared by both sides and imports neither.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Final

ENV_DATA_DIR: Final = "VOLC_ML_PLATFORM_DATA_DIR"


def home(env: Mapping[str, str]) -> Path:
    """``$HOME`` of ``env`` (falls back to the process's home)."""
    return Path(env["HOME"]) if env.get("HOME") else Path.home()


def expand(path: str | Path, env: Mapping[str, str]) -> Path:
    """``path`` with a leading ``~`` expanded against ``env``, not the process's: keeps an injected
    environment honest."""
    text = str(path)
    if text == "~" or text.startswith("~/"):
        return home(env) / text[2:]
    return Path(text)


def resolve(data_dir: str | Path | None = None, environ: Mapping[str, str] | None = None) -> tuple[Path, str]:
    """(folder, source): source is "argument", "env:VOLC_ML_PLATFORM_DATA_DIR" or "default"."""
    env = os.environ if environ is None else environ
    if data_dir:
        return expand(data_dir, env), "argument"
    if env.get(ENV_DATA_DIR):
        return expand(env[ENV_DATA_DIR], env), f"env:{ENV_DATA_DIR}"
    return home(env) / ".volc" / "ml_platform", "default"
