"""The hand-written code stays typed (mypy --strict) and lint-clean (ruff); generated code is excluded."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True, timeout=600
    )


def test_mypy_strict_on_ergonomic_and_server() -> None:
    result = run("mypy", "ergonomic/volcengine_ml_platform", "server/mlp_server")
    assert result.returncode == 0, result.stdout + result.stderr


def test_public_api_types_are_precise() -> None:
    """tests/typing/ uses the public API as a user would; under mypy --strict each ``assert_type``
    fails if the type is ``Any`` or drifts."""
    result = run("mypy", "tests/typing")
    assert result.returncode == 0, result.stdout + result.stderr


def test_ruff_check() -> None:
    result = run("ruff", "check", "codegen", "ergonomic", "server", "examples")
    assert result.returncode == 0, result.stdout + result.stderr
