"""The contract from outside: ``st run openapi/ml_platform-2021-07-01.yaml --url http://127.0.0.1:PORT``
from the repository root, with the shipped ``schemathesis.toml`` (every check on) and
``schemathesis_hooks.py`` (the official volcengine SignerV4, a real secure token), against ``mlp serve``,
finds no failure. Only the example count is lowered, to keep CI short; the phases and checks are the
shipped ones. The run really reaches live objects: its CreateModel calls register files the hooks
uploaded, and the document's links (the stateful phase) lead to those models, versions and perf jobs,
as the run's HAR report and the platform's database show afterwards."""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any, NamedTuple

import pytest

from mlp_testing import MlpServe, clean_env
from volcengine_ml_platform import schema

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
    har = tmp_path / "st-run.har"
    argv = [*st_command(), "run", "openapi/ml_platform-2021-07-01.yaml", "--url", serve.url,
            "--max-examples", MAX_EXAMPLES, "--no-color",
            "--report", "har", "--report-har-path", str(har)]  # fmt: skip
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
    operations = len(schema.document()["paths"])  # one POST per path
    assert f"Tested: {operations}" in out, report  # every operation of the document
    # The stateful phase follows the document's links from live objects (none before the hooks uploaded
    # files for CreateModel: every link then led to a 404).
    links = re.search(r"API Links:\s+(\d+) covered / (\d+) selected", out)
    assert links and int(links.group(1)) >= 5, report

    live_objects_were_reached(read_har(har), serve.data_dir / "mlp.sqlite3")


class Exchange(NamedTuple):
    action: str
    status: int
    body: Any  # the request's JSON body (None when it is not JSON)
    result: dict[str, Any]  # the answer's Result ({} on an error)


def _json(text: str | None) -> Any:
    try:
        return json.loads(text or "")
    except ValueError:
        return None


def read_har(path: Path) -> list[Exchange]:
    exchanges = []
    for entry in json.loads(path.read_text(encoding="utf-8"))["log"]["entries"]:
        url = entry["request"]["url"]
        action = re.search(r"[?&]Action=(\w+)|/api/(\w+)", url)
        assert action, url
        answer = _json(entry["response"]["content"].get("text"))
        result = answer.get("Result") if isinstance(answer, dict) else None
        exchanges.append(
            Exchange(
                action.group(1) or action.group(2),
                entry["response"]["status"],
                _json(entry["request"].get("postData", {}).get("text")),
                result if isinstance(result, dict) else {},
            )
        )
    return exchanges


def _ok_on(exchanges: list[Exchange], action: str, field: str, ids: set[str]) -> int:
    """How many ``action`` calls got a 2xx answer for one of ``ids`` in the body's ``field``."""
    return sum(
        1
        for e in exchanges
        if e.action == action
        and 200 <= e.status < 300
        and isinstance(e.body, dict)
        and isinstance(e.body.get(field), str)
        and e.body[field] in ids
    )


def live_objects_were_reached(exchanges: list[Exchange], database: Path) -> None:
    """CreateModel made models (the hooks' real uploads); the actions that read, change and delete
    models, versions, perf jobs and services got 2xx answers for the ids the run made (counted); and the
    platform's database holds exactly the models made and not deleted."""
    made = [
        e.result for e in exchanges if e.action in ("CreateModel", "InnerCreateModel") and e.status == 200
    ]
    models = {r["ModelID"] for r in made}
    versions = {r["VersionInfo"]["ModelVersionID"] for r in made}
    jobs = {e.result["JobID"] for e in exchanges if e.action == "CreatePerfJob" and e.status == 200}
    services = {e.result["ServiceID"] for e in exchanges if e.action == "CreateService" and e.status == 200}
    served_versions = {e.body["ServiceDeployment"]["Model"]["ModelVersionID"] for e in exchanges
                       if e.action == "CreateService" and e.status == 200}  # fmt: skip
    by_model = ("GetModel", "UpdateModel", "DeleteModel", "ListModelVersions")
    by_version = ("GetModelVersion", "UpdateModelVersion", "DeleteModelVersion", "CreatePerfJob")
    counts = Counter(
        {
            "models made": len(models),
            "versions made": len(versions),
            **{a: _ok_on(exchanges, a, "ModelID", models) for a in by_model},
            **{a: _ok_on(exchanges, a, "ModelVersionID", versions) for a in by_version},
            **{a: _ok_on(exchanges, a, "JobID", jobs) for a in ("ListPerfTasks", "CancelPerfJob")},
            "CreateService": len(served_versions & versions),
            **{
                a: _ok_on(exchanges, a, "ServiceID", services)
                for a in ("GetService", "StopService", "DeleteService")
            },
        }
    )
    missing = [name for name, n in counts.items() if n == 0]
    assert not missing, f"never reached with a real id: {missing}; counts: {dict(counts)}"
    deleted = {e.body["ModelID"] for e in exchanges if e.action == "DeleteModel" and e.status == 200}
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        stored = {row[0] for row in db.execute("SELECT id FROM models")}
    assert deleted <= models, dict(counts)
    assert stored == models - deleted, (sorted(stored ^ (models - deleted)), dict(counts))
