"""The contract from outside: ``st run openapi/ml_platform-2021-07-01.yaml --url http://127.0.0.1:PORT``
from the repository root, with the shipped ``schemathesis.toml`` (every check on) and
``schemathesis_hooks.py`` (the official volcengine SignerV4, a real secure token), against ``mlp serve``,
finds no failure. Only the example count is lowered, to keep CI short; the phases and checks are the
shipped ones."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlp_testing import MlpServe, clean_env

REPO = Path(__file__).resolve().parents[2]
MAX_EXAMPLES = "1"
TIMEOUT = 600


def st_command() -> list[str]:
    found = shutil.which("st", path=str(Path(sys.executable).parent))
    assert found, f"no st (schemathesis) console script next to {sys.executable}"
    return [found]


@pytest.fixture
def serve(tmp_path: Path) -> MlpServe:
    with MlpServe(tmp_path / "platform") as running:
        yield running


def test_st_run_with_the_shipped_config_finds_no_failure(serve: MlpServe, tmp_path: Path) -> None:
    assert (REPO / "schemathesis.toml").is_file() and (REPO / "schemathesis_hooks.py").is_file()
    keys = serve.default_keys()
    env = clean_env(tmp_path, VOLC_ACCESSKEY=keys.ak, VOLC_SECRETKEY=keys.sk)
    env.pop("SCHEMATHESIS_HOOKS", None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(REPO), env.get("PYTHONPATH", "")) if p)
    argv = [*st_command(), "run", "openapi/ml_platform-2021-07-01.yaml", "--url", serve.url,
            "--max-examples", MAX_EXAMPLES, "--no-color"]  # fmt: skip
    proc = subprocess.run(
        argv, cwd=REPO, env=env, capture_output=True, text=True, timeout=TIMEOUT, check=False
    )
    out = proc.stdout + proc.stderr
    report = f"$ {' '.join(argv)}\n-> exit {proc.returncode}\n{out[-8000:]}\n--- server log ---\n"
    report += serve.log()[-3000:]
    assert proc.returncode == 0, report
    generated = re.search(r"(\d+) generated, (\d+) passed", out)
    assert generated, report
    assert generated.group(1) == generated.group(2) and int(generated.group(1)) > 500, report
    assert "failure" not in out.split("SUMMARY")[-1].lower(), report
    assert "Tested: 31" in out, report  # every operation of the document
