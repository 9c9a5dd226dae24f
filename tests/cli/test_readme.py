"""The README's "Two commands": the tests line is what ``.ci/run`` runs, and the main-job line works on
a fresh clone in a clean virtual environment (``git clone`` of HEAD, ``python3 -m venv``, ``pip install
-e .`` from the package index or pip's cache, then the quickstart)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from ._support import REPO, clean_env

INSTALL_TIMEOUT = 15 * 60  # pip may download every dependency


def two_commands() -> tuple[str, str]:
    """The two indented command lines under "## Two commands": (main job, tests)."""
    text = (REPO / "README.md").read_text(encoding="utf-8")
    start = text.index("## Two commands")
    end = text.index("\n## ", start + 1)
    commands = [line.strip() for line in text[start:end].splitlines() if line.startswith("    ")]
    assert len(commands) == 2, f"expected two commands under 'Two commands', found {commands}"
    main_job, tests = commands
    return main_job, tests


def ci_command() -> str:
    lines = (REPO / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    commands = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    return commands[-1]


def test_readme_tests_line_is_what_ci_runs() -> None:
    _, tests = two_commands()
    assert tests == ci_command()
    assert tests.startswith("python3 -m venv .venv && ")


def test_readme_main_job_line_runs_the_quickstart() -> None:
    main_job, _ = two_commands()
    assert shlex.split(main_job) == [
        *("python3", "-m", "venv", ".venv", "&&"),
        *(".venv/bin/pip", "install", "-e", ".", "&&"),
        *(".venv/bin/python", "examples/quickstart.py"),
    ]


def _uncommitted(paths: list[str]) -> str:
    """What a fresh clone would miss (read-only git queries)."""
    untracked = subprocess.run(
        ["git", "ls-files", "--others", "--exclude-standard", "--", *paths],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    modified = subprocess.run(
        ["git", "diff", "--name-only", "HEAD", "--", *paths],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    ).stdout
    return f"untracked:\n{untracked or '(none)'}\nmodified since HEAD:\n{modified or '(none)'}"


@pytest.mark.slow
def test_readme_main_job_on_a_fresh_clone(tmp_path: Path) -> None:
    main_job, _ = two_commands()
    clone = tmp_path / "clone"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True, timeout=120)

    # "python3" is the interpreter running these tests (its base, not this virtualenv).
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    base_python = Path(getattr(sys, "_base_executable", sys.executable)).resolve()
    (bin_dir / "python3").symlink_to(base_python)
    env = clean_env(tmp_path)
    env.pop("VIRTUAL_ENV", None)
    env["PATH"] = os.pathsep.join([str(bin_dir), *(p for p in env.get("PATH", "").split(os.pathsep) if p)])

    proc = subprocess.run(
        ["bash", "-c", main_job],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=INSTALL_TIMEOUT,
        check=False,
    )
    report = (
        f"$ {main_job}\n-> exit {proc.returncode}\n--- stdout (tail) ---\n{proc.stdout[-4000:]}\n"
        f"--- stderr (tail) ---\n{proc.stderr[-4000:]}\n"
        f"--- what the clone lacks from the working tree ---\n"
        f"{_uncommitted(['ergonomic', 'server', 'generated_client', 'examples', 'pyproject.toml'])}"
    )
    assert proc.returncode == 0, report
    assert (clone / ".venv" / "bin" / "python").exists(), report
    assert "identical to the original: True" in proc.stdout, report
    assert "registered m-" in proc.stdout and "version  1  ONNX  ONNX:1.23" in proc.stdout, report
    assert "Traceback" not in proc.stderr, report
