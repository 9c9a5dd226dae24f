"""The suite needs nothing beside the repository: in a ``git clone`` of HEAD inside an empty temporary
folder (no ``../shared`` next to it), every test collects, and the tests that compare the project with
outside facts (the contract tests, the SDK's signing vectors) pass there.

The clone runs with this virtualenv's interpreter (the packages under test are this checkout's); what
the clone proves is that the tests and their data come from the repository itself. It never runs the
whole suite recursively."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SELF_CONTAINED = ["tests/contract", "tests/unit/test_signing.py"]


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=600, check=False)


def _what_the_clone_lacks() -> str:
    status = _run(["git", "status", "--short", "--", "tests", "openapi"], REPO).stdout
    return f"uncommitted in the working tree (a clone has HEAD only):\n{status or '(none)'}"


def test_a_fresh_clone_without_shared_collects_and_passes_the_contract_tests(tmp_path: Path) -> None:
    clone = tmp_path / "clone"
    cloned = _run(["git", "clone", "--quiet", str(REPO), str(clone)], tmp_path)
    assert cloned.returncode == 0, cloned.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clone"]  # nothing beside it, no shared/

    pytest_cmd = [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q"]
    collected = _run([*pytest_cmd, "--collect-only"], clone)
    report = f"{collected.stdout[-4000:]}\n{collected.stderr[-2000:]}\n{_what_the_clone_lacks()}"
    assert collected.returncode == 0, report
    assert "error" not in collected.stdout.splitlines()[-1].lower(), report
    assert " tests collected" in collected.stdout, report

    contract = _run([*pytest_cmd, "-x", *SELF_CONTAINED], clone)
    report = f"{contract.stdout[-4000:]}\n{contract.stderr[-2000:]}\n{_what_the_clone_lacks()}"
    assert contract.returncode == 0, report
    assert " passed" in contract.stdout.splitlines()[-1] and "failed" not in contract.stdout, report
