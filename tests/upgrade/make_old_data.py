"""Make a data folder with an OLD release, for the upgrade tests (run with that release's Python).

    git worktree add --detach /tmp/old-0.5 <release commit>
    python3 -m venv /tmp/old-0.5/.venv && /tmp/old-0.5/.venv/bin/pip install -e /tmp/old-0.5
    /tmp/old-0.5/.venv/bin/python tests/upgrade/make_old_data.py OUT_FOLDER

writes ``OUT_FOLDER/platform`` (the embedded platform's data folder) and ``OUT_FOLDER/expected.json``
(what the old release answered about it). The archive the tests read keeps the objects' checksum
attributes: ``tar --xattrs --xattrs-include='user.*' -czf tests/data/upgrade/0.5.0.tar.gz platform
expected.json`` in OUT_FOLDER. For a team's archive (``pg-0.5.0.tar.gz``), run that release's ``mlp
serve --data-dir OUT_FOLDER/platform --perf-workers 1`` with ``MLP_DATABASE_URL`` set, run this script
with the same ``MLP_DATABASE_URL`` and ``MLP_BUILD_ENDPOINT`` (the server's URL), stop the server,
and add ``database.sql`` (``pg_dump --no-owner --no-privileges``) to the archive.

Only the documented ``Model`` API, the ``mlp`` command and the standard library are used, as every
release from 0.1.0 on has them:

- account 2100000050 with a key of its own (``mlp account add``) and a model registered with it;
- model ``iris``: versions 1-3 registered (a few files each, one in a sub-folder), version 2 deleted;
  a PERF_ONLY job's figures on version 1, a CONVERT_PERF job's new version 4 from version 3;
- model ``scratch``: version 1 deleted, version 2 kept; model ``gone``: every version deleted;
- service ``iris-svc`` deployed from iris version 1 (Running when the release serves services);
- then, in a process that dies (SIGKILL) as a crashed client or server would: a registration
  whose files were uploaded but whose CreateModel was never sent (a pending upload), and, on releases
  with pending reclaims (0.8.0 on), a deleted version whose objects were not all removed yet.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

TEAM_ACCOUNT = 2100000050
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "iris-onnx"
PERF_CONFIG = {
    "Inputs": [
        {"TensorName": "features", "DType": "FLOAT", "Shape": {"MinShape": [1, 4], "MaxShape": [16, 4]}}
    ]
}


def plain(value: Any) -> Any:
    """A response as JSON-ready dicts (attrs models of every release have ``to_dict``)."""
    return value.to_dict() if hasattr(value, "to_dict") else value


def model_folder(root: Path, name: str, n: int) -> Path:
    folder = root / name
    shutil.copytree(EXAMPLE, folder)
    (folder / "sub").mkdir()
    (folder / "sub" / "notes.txt").write_text(f"{name}: version payload {n}\n", encoding="utf-8")
    (folder / "weights.bin").write_bytes(hashlib.sha256(f"{name}-{n}".encode()).digest() * (512 * n))
    return folder


def digests(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def mlp(*args: str) -> subprocess.CompletedProcess[str]:
    script = Path(sys.executable).with_name("mlp")
    return subprocess.run([str(script), *args], capture_output=True, text=True, check=True, timeout=120)


def add_account(data_dir: Path) -> dict[str, str]:
    """A key of account 2100000050, as ``mlp account add`` of this release gives it out."""
    before = set(data_dir.glob(f"credentials-{TEAM_ACCOUNT}-*.json"))
    out = mlp("account", "add", "--account-id", str(TEAM_ACCOUNT), "--data-dir", str(data_dir)).stdout
    try:
        printed = json.loads(out)
        if isinstance(printed, dict) and "sk" in printed and "*" not in printed["sk"]:
            return {"ak": printed["ak"], "sk": printed["sk"]}
    except ValueError:
        pass
    (written,) = set(data_dir.glob(f"credentials-{TEAM_ACCOUNT}-*.json")) - before
    keys = json.loads(written.read_text(encoding="utf-8"))
    return {"ak": keys["ak"], "sk": keys["sk"]}


def use_server(data_dir: Path) -> None:
    """With MLP_BUILD_ENDPOINT (an old release's ``mlp serve`` on ``data_dir``, PostgreSQL in
    MLP_DATABASE_URL), talk to it with the administrator keys it wrote, not to an embedded platform."""
    endpoint = os.environ.get("MLP_BUILD_ENDPOINT")
    if endpoint:
        keys = json.loads((data_dir / "credentials.json").read_text(encoding="utf-8"))
        os.environ.update(
            VOLC_ML_PLATFORM_ENDPOINT=endpoint, VOLC_ACCESSKEY=keys["ak"], VOLC_SECRETKEY=keys["sk"]
        )


def wait_tasks(model: Any, job_id: str) -> list[dict[str, Any]]:
    """The job's tasks once finished; as they are when none started within 30 s (0.1.0 ran none)."""
    deadline = time.monotonic() + 300
    started = time.monotonic() + 30
    while True:
        tasks = plain(model.list_perf_tasks(job_id=job_id))["Result"]["List"]
        if tasks and all(t["TaskStatus"] in ("Success", "Failed", "Cancelled") for t in tasks):
            return list(tasks)
        if time.monotonic() > deadline:
            raise TimeoutError(f"perf job {job_id}: {tasks}")
        if time.monotonic() > started and all(t["TaskStatus"] == "Submitted" for t in tasks):
            return list(tasks)
        time.sleep(0.5)


def close(model: Any) -> None:
    if hasattr(model, "close"):
        model.close()


def build(out: Path) -> None:
    from volcengine_ml_platform import __version__
    from volcengine_ml_platform.models.model import Model

    data_dir = out / "platform"
    work = out / "work"
    work.mkdir(parents=True)
    expected: dict[str, Any] = {"release": __version__, "files": {}, "commit": os.environ.get("MLP_COMMIT")}
    os.environ["VOLC_ML_PLATFORM_DATA_DIR"] = str(data_dir)
    use_server(data_dir)
    model = Model()
    model.list_models()  # the platform and its administrator account exist
    team_keys = add_account(data_dir)
    expected["team_keys"] = team_keys

    def register(name: str, n: int, model_id: str | None = None, m: Any = None) -> dict[str, Any]:
        folder = model_folder(work, f"{name}-{n}", n)
        kwargs: dict[str, Any] = {"model_id": model_id} if model_id else {"model_name": name}
        created = plain(
            (m or model).register(
                str(folder),
                model_format="ONNX",
                model_type="ONNX:1.23",
                description=f"{name} {n}",
                tensor_config=json.loads((EXAMPLE / "tensor_config.json").read_text(encoding="utf-8")),
                **kwargs,
            )
        )["Result"]
        expected["files"][f"{created['ModelID']}-{created['VersionInfo']['ModelVersion']}"] = digests(folder)
        return dict(created)

    iris = register("iris", 1)["ModelID"]
    register("iris", 2, iris)
    register("iris", 3, iris)
    scratch = register("scratch", 1)["ModelID"]
    register("scratch", 2, scratch)
    gone = register("gone", 1)["ModelID"]
    register("gone", 2, gone)
    model.unregister(iris, "2")
    model.unregister(scratch, "1")
    model.unregister_all_versions(gone)
    team_model = Model(access_key=team_keys["ak"], secret_key=team_keys["sk"])
    team = register("team-model", 1, m=team_model)["ModelID"]
    close(team_model)
    expected.update(iris=iris, scratch=scratch, gone=gone, team=team)
    for gone_version in (f"{iris}-2", f"{scratch}-1", f"{gone}-1", f"{gone}-2"):
        expected["files"].pop(gone_version)

    perf = plain(
        model.create_perf_job(iris, "1", PERF_CONFIG, "PERF_ONLY", [{"FlavorIDList": ["ml.c1i.large"]}])
    )["Result"]["JobID"]
    convert = plain(
        model.create_perf_job(
            iris,
            "3",
            PERF_CONFIG,
            "CONVERT_PERF",
            [{"FlavorIDList": ["ml.c1i.large"], "ConvertPrecisionList": ["FP16"]}],
        )
    )["Result"]["JobID"]
    expected["perf_tasks"] = {job: wait_tasks(model, job) for job in (perf, convert)}
    expected.update(perf_job=perf, convert_job=convert)
    for task in expected["perf_tasks"][convert]:
        made = (task.get("Result") or {}).get("ModelVersionID")
        if made:
            target = work / "converted"
            model.download(iris, made.rsplit("-", 1)[1], str(target))
            expected["files"][made] = digests(target)

    service = model.deploy(iris, "1", "iris-svc", flavor="ml.c1i.large")
    try:
        expected["service_status"] = service.wait_for("Running", "Failed", timeout=60, interval=0.5)
    except Exception as error:  # a release before real serving leaves the record as it is
        expected["service_status"] = f"not running: {error}"[:200]
    expected["service"] = service.service_id
    expected["services"] = plain(model.list_services(page_size=100))["Result"]["List"]
    expected["models"] = {}
    for admin in (True, False):
        m = model if admin else Model(access_key=team_keys["ak"], secret_key=team_keys["sk"])
        for item in plain(m.list_models(page_size=100))["Result"]["List"]:
            versions = plain(m.get_model_versions(item["ModelID"], page_size=100))["Result"]["List"]
            expected["models"][item["ModelID"]] = {"model": item, "versions": versions}
        if not admin:
            close(m)
    expected["perf_jobs"] = plain(model.list_perf_jobs(page_size=100))["Result"]["List"]
    close(model)
    (out / "expected.json").write_text(json.dumps(expected, indent=1, sort_keys=True), encoding="utf-8")


def crash(out: Path) -> None:
    """Leave a pending upload (and a pending reclaim where the release records them), then die."""
    from volcengine_ml_platform.models.model import Model

    data_dir = out / "platform"
    expected = json.loads((out / "expected.json").read_text(encoding="utf-8"))
    os.environ["VOLC_ML_PLATFORM_DATA_DIR"] = str(data_dir)
    use_server(data_dir)
    model = Model()
    # (through a server, no reclaim is left pending: the server, not this process, would have to die)
    sqlite = not os.environ.get("MLP_BUILD_ENDPOINT")
    db = sqlite3.connect(data_dir / "mlp.sqlite3" if sqlite else ":memory:")
    has_reclaims = sqlite and bool(
        db.execute("SELECT 1 FROM sqlite_master WHERE name = 'pending_reclaims'").fetchall()
    )
    if has_reclaims:
        many = work_folder = out / "work" / "many"
        many.mkdir()
        for i in range(3000):
            (many / f"part-{i:05d}.bin").write_bytes(b"x" * 64)
        doomed = plain(model.register(str(work_folder), model_id=expected["scratch"], model_format="ONNX"))[
            "Result"
        ]["VersionInfo"]["ModelVersion"]
        expected["reclaimed_version"] = f"{expected['scratch']}-{doomed}"
        threading.Thread(
            target=model.unregister, args=(expected["scratch"], str(doomed)), daemon=True
        ).start()
        deadline = time.monotonic() + 60
        while not db.execute("SELECT path FROM pending_reclaims").fetchall():
            if time.monotonic() > deadline:
                raise TimeoutError("the delete recorded no pending reclaim")
            time.sleep(0.001)
        expected["pending_reclaims"] = [r[0] for r in db.execute("SELECT path FROM pending_reclaims")]
        left = sum(1 for p in (data_dir / "objects").rglob("part-*.bin"))
        expected["reclaim_objects_left"] = left
    folder = model_folder(out / "work", "pending", 1)
    expected["pending_files"] = digests(folder)
    total = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())

    def progress(p: Any) -> None:
        if p.files_done == p.files_total and p.bytes_done == total:
            # every file is uploaded; CreateModel is never sent
            (out / "expected.json").write_text(
                json.dumps(expected, indent=1, sort_keys=True), encoding="utf-8"
            )
            os.kill(os.getpid(), signal.SIGKILL)

    model.register(
        str(folder), model_name="pending", model_format="ONNX", model_type="ONNX:1.23", progress=progress
    )
    raise AssertionError("register returned: the progress callback never saw the whole upload")


if __name__ == "__main__":
    if sys.argv[1] == "--crash":
        crash(Path(sys.argv[2]))
    else:
        out = Path(sys.argv[1])
        build(out)
        proc = subprocess.Popen([sys.executable, __file__, "--crash", str(out)], start_new_session=True)
        assert proc.wait() == -signal.SIGKILL, proc
        with contextlib.suppress(ProcessLookupError):  # the crashed process's children (replicas, workers)
            os.killpg(proc.pid, signal.SIGKILL)
        shutil.rmtree(out / "work")
