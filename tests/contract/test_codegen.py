"""`python -m codegen`: the committed client is what the document produces, the output is deterministic,
and --check catches a document changed without regenerating.

Four codegen runs (~2-3 s each) are all the suite spends here; they start together, in one fixture."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from ._support import DOCUMENT_PATH, REPO_ROOT

COMMITTED = REPO_ROOT / "generated_client" / "ml_platform_client"
ENUM_LINE = (
    "      enum: [TextClassification, TabularClassification, TabularRegression, ImageClassification]\n"
)


@dataclass(frozen=True)
class Run:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    def explain(self) -> str:
        return f"python -m codegen {' '.join(self.args)} -> {self.returncode}\n{self.stdout}\n{self.stderr}"


def changed_document(tmp: Path) -> Path:
    """A copy of the document with one more ModelCategory: a change the generated enum must reflect."""
    text = DOCUMENT_PATH.read_text(encoding="utf-8")
    block = "    ModelCategory:\n      type: string\n" + ENUM_LINE
    assert text.count(block) == 1, "the ModelCategory enum moved: update this test"
    changed = tmp / "changed.yaml"
    changed.write_text(text.replace(block, block.replace("]\n", ", ObjectDetection]\n")), encoding="utf-8")
    return changed


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Run]:
    tmp = tmp_path_factory.mktemp("codegen")
    plans = {
        "check": ["--check"],
        "first": ["--target", str(tmp / "first" / "ml_platform_client")],
        "second": ["--target", str(tmp / "second" / "ml_platform_client")],
        "stale": ["--check", "--document", str(changed_document(tmp))],
    }
    started = {}
    for name, args in plans.items():
        out, err = (tmp / f"{name}.out").open("w+"), (tmp / f"{name}.err").open("w+")
        process = subprocess.Popen(
            [sys.executable, "-m", "codegen", *args], cwd=REPO_ROOT, stdout=out, stderr=err
        )
        started[name] = (args, process, out, err)
    results = {}
    try:
        for name, (args, process, out, err) in started.items():
            process.wait(timeout=180)
            out.seek(0)
            err.seek(0)
            results[name] = Run(args, process.returncode, out.read(), err.read())
    finally:
        for _, process, out, err in started.values():
            if process.poll() is None:
                process.kill()
                process.wait()
            out.close()
            err.close()
    return results


def tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def test_committed_client_is_current(runs: dict[str, Run]) -> None:
    run = runs["check"]
    assert run.returncode == 0, run.explain()
    assert "is current" in run.stdout


def test_generation_is_deterministic(runs: dict[str, Run]) -> None:
    for name in ("first", "second"):
        assert runs[name].returncode == 0, runs[name].explain()
    first = tree(Path(runs["first"].args[1]))
    second = tree(Path(runs["second"].args[1]))
    assert "openapi.json" in first
    assert "models/model_category.py" in first
    assert not [name for name in first if ".ruff_cache" in name]
    assert sorted(first) == sorted(second)
    assert [name for name in first if first[name] != second[name]] == []
    # and both are byte for byte the committed package
    committed = tree(COMMITTED)
    assert sorted(first) == sorted(committed)
    assert [name for name in first if first[name] != committed[name]] == []


def test_check_fails_when_the_document_changed_without_regenerating(runs: dict[str, Run]) -> None:
    run = runs["stale"]
    assert run.returncode == 1, run.explain()
    assert "not what the document produces" in run.stderr
    assert "generated_client/ml_platform_client" not in run.stdout
    assert "models/model_category.py" in run.stderr, run.stderr
    assert "ObjectDetection" in run.stderr  # the diff shows the new value
    assert "openapi.json" in run.stderr
