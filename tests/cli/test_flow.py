"""A realistic ``mlp`` session against each peer: register the example ONNX model, list, show, rename,
update and download versions, run perf jobs, deploy and drive a service, and delete, checking every
command's table (headers, ids and values in rows, ``(N shown of M)``) and its ``-o json`` envelope.

Tests run in file order and share one registered model per peer (the ``flow`` fixture); each test
builds what else it needs, so any one of them also runs alone.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ._support import (
    EXAMPLE,
    EXAMPLE_TENSOR_CONFIG,
    MODEL_ID,
    Peer,
    Result,
    files_of,
)

MODEL_HEADERS = ["MODEL ID", "NAME", "VERSIONS", "LATEST", "CREATED"]
VERSION_HEADERS = ["VERSION", "VERSION ID", "FORMAT", "TYPE", "SOURCE", "CREATED", "PATH"]
JOB_HEADERS = ["JOB ID", "MODEL VERSION ID", "TYPE", "STATUS", "ENDED/TASKS", "CREATED"]
TASK_HEADERS = ["TASK ID", "JOB ID", "FLAVOR", "PRECISION", "STATUS", "CREATED"]
SERVICE_HEADERS = ["SERVICE ID", "NAME", "STATUS", "REPLICAS", "MODEL VERSION ID", "ENDPOINT", "MESSAGE"]
RESOURCE_HEADERS = ["GROUP", "ID", "VCPU", "MEMORY", "GPUTYPE", "GPUNUM"]
PERF_TENSOR_CONFIG = {
    "Inputs": [
        {"TensorName": "features", "DType": "FLOAT", "Shape": {"MinShape": [1, 4], "MaxShape": [8, 4]}}
    ]
}
# rich's columns: "1.2/3.4 kB" (done/total) and the rate, "?" until rich has two samples to rate.
SIZE = re.compile(r"\d+(?:\.\d+)?/\d+(?:\.\d+)? (?:bytes|kB|MB|GB)")
RATE = re.compile(r"(?:\d+(?:\.\d+)? (?:bytes|kB|MB|GB)/s|\?)")


@dataclass
class Flow:
    peer: Peer
    prefix: str
    work: Path
    registered: Result  # the table output of registering the main model
    model_id: str
    alpha_id: str  # two more models, for list filters and paging
    beta_id: str
    beta_registered: Result  # registered with --progress on

    def run(self, *args: str, **kw: Any) -> Result:
        return self.peer.run(*args, **kw)


def _example_tensor_config() -> Any:
    return json.loads(EXAMPLE_TENSOR_CONFIG.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def flow(peer: Peer, tmp_path_factory: pytest.TempPathFactory) -> Flow:
    prefix = f"cli-{uuid.uuid4().hex[:8]}"
    work = tmp_path_factory.mktemp(f"flow-{peer.name}")
    # Relative paths, as a user types them in the repository (the subprocess runs there).
    registered = peer.run(
        "models", "register", "examples/iris-onnx",
        "--name", f"{prefix}-iris",
        "--format", "ONNX",
        "--type", "ONNX:1.23",
        "--tensor-config", "examples/iris-onnx/tensor_config.json",
        "--tag", "k=v",
        "--tag", "team=cli",
        "--description", "the example model",
    ).ok()  # fmt: skip
    model_id = registered.kv()["ModelID"]
    alpha = peer.run(
        "-o", "json", "models", "register", str(EXAMPLE / "model.onnx"),
        "--name", f"{prefix}-alpha", "--format", "ONNX", "--type", "ONNX:1.23",
    ).ok()  # fmt: skip
    beta = peer.run(
        "models", "register", str(EXAMPLE), "--name", f"{prefix}-beta",
        "--format", "ONNX", "--type", "ONNX:1.23", "--progress", "on",
    ).ok()  # fmt: skip
    alpha_id = alpha.envelope("CreateModel")["ModelID"]
    return Flow(peer, prefix, work, registered, model_id, alpha_id, beta.kv()["ModelID"], beta)


# ---- models ----------------------------------------------------------------------------------------


def test_register_prints_the_new_model_and_version(flow: Flow) -> None:
    kv = flow.registered.kv()
    assert set(kv) == {"ModelID", "VersionInfo"}, flow.registered
    assert MODEL_ID.match(kv["ModelID"]), flow.registered
    assert json.loads(kv["VersionInfo"]) == {"ModelVersionID": f"{flow.model_id}-1", "ModelVersion": 1}
    assert flow.registered.err == ""  # not a terminal: no progress bar by default


def test_register_json_is_the_create_model_envelope(flow: Flow) -> None:
    result = flow.run(
        "models", "register", str(EXAMPLE), "--model-id", flow.alpha_id, "-o", "json"
    ).ok().envelope("CreateModel")  # fmt: skip
    assert result["ModelID"] == flow.alpha_id
    assert result["VersionInfo"] == {"ModelVersionID": f"{flow.alpha_id}-2", "ModelVersion": 2}


def test_register_progress_on_shows_upload_progress(flow: Flow) -> None:
    err = flow.beta_registered.err
    assert "uploading" in err and "100%" in err, flow.beta_registered
    assert RATE.search(err), flow.beta_registered
    assert MODEL_ID.match(flow.beta_registered.kv()["ModelID"])  # stdout stays clean


def test_models_list_filters_sorting_and_paging(flow: Flow) -> None:
    p = flow.prefix
    by_name = ("--name-contains", p, "--sort-by", "ModelName", "--sort-order", "Ascend")
    everything, as_json, page1, page2, by_id, none = flow.peer.run_all(
        ("models", "list", "--name-contains", p),
        ("-o", "json", "models", "list", *by_name),
        ("models", "list", *by_name, "--limit", "2"),
        ("models", "list", *by_name, "--limit", "2", "--offset", "2"),
        ("models", "list", "--id-contains", flow.model_id, "-o", "json"),
        ("models", "list", "--name-contains", f"{p}-nothing-like-this"),
    )
    table = everything.ok().table()
    assert table.headers == MODEL_HEADERS, everything
    assert set(table.column("MODEL ID")) == {flow.model_id, flow.alpha_id, flow.beta_id}, everything
    assert (table.shown, table.total) == (3, 3), everything
    iris = next(r for r in table.rows if r["MODEL ID"] == flow.model_id)
    assert iris["NAME"] == f"{p}-iris" and iris["VERSIONS"] == "1" and iris["LATEST"] == "1", everything
    assert re.match(r"^\d{4}-\d\d-\d\dT", iris["CREATED"]), everything

    result = as_json.ok().envelope("ListModels")
    assert result["Total"] == 3
    names = [m["ModelName"] for m in result["List"]]
    assert names == sorted(names) == [f"{p}-alpha", f"{p}-beta", f"{p}-iris"], as_json

    first, second = page1.ok().table(), page2.ok().table()
    assert (first.shown, first.total, second.shown, second.total) == (2, 3, 1, 3), (page1, page2)
    assert first.column("NAME") + second.column("NAME") == names, (page1, page2)

    found = by_id.ok().envelope("ListModels")
    assert found["Total"] == 1 and [m["ModelID"] for m in found["List"]] == [flow.model_id], by_id

    empty = none.ok().table()
    assert empty.headers == MODEL_HEADERS and empty.rows == [] and (empty.shown, empty.total) == (0, 0)


def test_models_show(flow: Flow) -> None:
    table, as_json = flow.peer.run_all(
        ("models", "show", flow.model_id),
        ("-o", "json", "models", "show", flow.model_id),
    )
    kv = table.ok().kv()
    assert kv["ModelID"] == flow.model_id, table
    assert kv["ModelName"] == f"{flow.prefix}-iris", table
    assert kv["ModelVersionsCount"] == "1" and kv["LatestVersion"] == "1", table
    result = as_json.ok().envelope("GetModel")
    assert result["ModelID"] == flow.model_id and result["ModelName"] == f"{flow.prefix}-iris"


def test_models_rename(flow: Flow) -> None:
    new_name = f"{flow.prefix}-gamma"
    renamed = flow.run("models", "rename", flow.beta_id, new_name).ok()
    assert renamed.kv() == {"ModelID": flow.beta_id}, renamed
    shown, listed = flow.peer.run_all(
        ("models", "show", flow.beta_id, "-o", "json"),
        ("models", "list", "--name-contains", new_name),
    )
    assert shown.ok().envelope("GetModel")["ModelName"] == new_name
    table = listed.ok().table()
    assert table.column("MODEL ID") == [flow.beta_id] and table.column("NAME") == [new_name], listed
    renamed_json = flow.run("models", "rename", flow.beta_id, f"{flow.prefix}-beta", "-o", "json").ok()
    assert renamed_json.envelope("UpdateModel")["ModelID"] == flow.beta_id


# ---- versions ----------------------------------------------------------------------------------------


def test_versions_show(flow: Flow) -> None:
    table, as_json = flow.peer.run_all(
        ("versions", "show", flow.model_id, "1"),
        ("versions", "show", flow.model_id, "1", "-o", "json"),
    )
    kv = table.ok().kv()
    assert kv["ModelVersionID"] == f"{flow.model_id}-1", table
    assert (kv["ModelVersion"], kv["ModelFormat"], kv["ModelType"]) == ("1", "ONNX", "ONNX:1.23"), table
    assert kv["Path"].startswith("tos://") and kv["Path"].endswith("/iris-onnx/"), table
    assert json.loads(kv["TensorConfig"]) == _example_tensor_config(), table

    result = as_json.ok().envelope("GetModelVersion")
    assert result["ModelVersionID"] == f"{flow.model_id}-1"
    assert result["TensorConfig"] == _example_tensor_config()
    assert result["Description"] == "the example model"
    assert {"Key": "k", "Value": "v"} in result["ModelTags"]
    assert {"Key": "team", "Value": "cli"} in result["ModelTags"]


def test_versions_update_from_files_then_read_back(flow: Flow, tmp_path: Path) -> None:
    tensor_config = _example_tensor_config()
    tensor_config["Outputs"][0]["TensorName"] = "scores"
    tensor_config["Inputs"][0]["Shape"] = [-1, 4]
    config_file = tmp_path / "new tensor config.json"  # a space in the path, too
    config_file.write_text(json.dumps(tensor_config), encoding="utf-8")
    metrics = [{"MetricsType": "TabularClassification", "Params": "{}", "MetricsData": '{"accuracy":0.9}'}]
    updated = flow.run(
        "versions", "update", flow.model_id, "1",
        "--description", "updated by the cli test",
        "--tensor-config", str(config_file),
        "--metrics", json.dumps(metrics),
    ).ok()  # fmt: skip
    assert updated.kv().get("ModelVersionID") == f"{flow.model_id}-1", updated
    result = flow.run("versions", "show", flow.model_id, "1", "-o", "json").ok().envelope("GetModelVersion")
    assert result["Description"] == "updated by the cli test"
    assert result["TensorConfig"] == tensor_config
    # and back, with -o json and the @file spelling
    config_file.write_text(EXAMPLE_TENSOR_CONFIG.read_text(encoding="utf-8"), encoding="utf-8")
    again = flow.run(
        "-o", "json", "versions", "update", flow.model_id, "1",
        "--description", "the example model", "--tensor-config", f"@{config_file}",
    ).ok()  # fmt: skip
    assert again.envelope("UpdateModelVersion")["ModelVersionID"] == f"{flow.model_id}-1"
    result = flow.run("versions", "show", flow.model_id, "1", "-o", "json").ok().envelope("GetModelVersion")
    assert result["TensorConfig"] == _example_tensor_config()


def test_second_version_list_and_delete(flow: Flow) -> None:
    added = flow.run("models", "register", str(EXAMPLE), "--model-id", flow.model_id, "-o", "json").ok()
    assert added.envelope("CreateModel")["VersionInfo"]["ModelVersion"] == 2

    newest_first = ("--sort-by", "ModelVersion", "--sort-order", "Descend")
    oldest_first = ("--sort-by", "ModelVersion", "--sort-order", "Ascend")
    listed, only_2, paged, as_json = flow.peer.run_all(
        ("versions", "list", flow.model_id, *newest_first),
        ("versions", "list", flow.model_id, "--version", "2"),
        ("versions", "list", flow.model_id, *newest_first, "--limit", "1", "--offset", "1"),
        ("versions", "list", flow.model_id, "-o", "json", *oldest_first),
    )
    table = listed.ok().table()
    assert table.headers == VERSION_HEADERS, listed
    assert table.column("VERSION") == ["2", "1"], listed
    assert table.column("VERSION ID") == [f"{flow.model_id}-2", f"{flow.model_id}-1"], listed
    assert set(table.column("FORMAT")) == {"ONNX"} and set(table.column("TYPE")) == {"ONNX:1.23"}, listed
    assert (table.shown, table.total) == (2, 2), listed
    assert only_2.ok().table().column("VERSION ID") == [f"{flow.model_id}-2"], only_2
    page = paged.ok().table()
    assert page.column("VERSION") == ["1"] and (page.shown, page.total) == (1, 2), paged
    result = as_json.ok().envelope("ListModelVersions")
    assert result["Total"] == 2 and [v["ModelVersion"] for v in result["List"]] == [1, 2]

    deleted = flow.run("versions", "delete", flow.model_id, "2").ok()
    assert deleted.kv() == {"ModelVersionID": f"{flow.model_id}-2"}, deleted
    after, gone = flow.peer.run_all(
        ("versions", "list", flow.model_id),
        ("versions", "show", flow.model_id, "2"),
    )
    table = after.ok().table()
    assert table.column("VERSION") == ["1"] and (table.shown, table.total) == (1, 1), after
    gone.fails(1)
    assert "NotFound" in gone.err and "RequestId" in gone.err, gone


def test_versions_download(flow: Flow) -> None:
    table_dest, json_dest, progress_dest = (flow.work / f"download-{i}" for i in range(3))
    as_table, as_json, with_progress = flow.peer.run_all(
        ("versions", "download", flow.model_id, "1", str(table_dest)),
        ("-o", "json", "versions", "download", flow.model_id, "1", str(json_dest)),
        ("versions", "download", flow.model_id, "1", str(progress_dest), "--progress", "on"),
    )
    original = files_of(EXAMPLE)
    total = sum(len(b) for b in original.values())
    assert as_table.ok().out == f"downloaded {len(original)} file(s), {total} bytes, to {table_dest}\n", (
        as_table
    )
    assert files_of(table_dest) == original
    # Not a terminal (stderr is a pipe): no progress unless asked for.
    assert as_table.err == "", as_table

    data = as_json.ok().json()
    # ModelVersion is an integer, as in the API's results
    assert data["ModelID"] == flow.model_id and data["ModelVersion"] == 1, as_json
    assert data["LocalPath"] == str(json_dest), as_json
    assert sorted(Path(f).relative_to(json_dest).as_posix() for f in data["Files"]) == sorted(original)
    assert files_of(json_dest) == original
    assert as_json.err == "", as_json
    assert (data["Downloaded"], data["AlreadyPresent"], data["DownloadedBytes"]) == (len(original), 0, total)

    # Again, then with one file missing: the message says what moved and what was already there.
    again = flow.run("versions", "download", flow.model_id, "1", str(table_dest)).ok()
    assert again.out == (
        f"nothing to download: all {len(original)} file(s) of the version are already in {table_dest}\n"
    ), again
    (table_dest / "model.onnx").unlink()
    partly = flow.run("-o", "json", "versions", "download", flow.model_id, "1", str(table_dest)).ok().json()
    moved = len(original["model.onnx"])
    assert (partly["Downloaded"], partly["AlreadyPresent"], partly["DownloadedBytes"]) == (
        1,
        len(original) - 1,
        moved,
    ), partly
    assert files_of(table_dest) == original

    assert files_of(progress_dest) == original
    assert with_progress.ok().out == as_table.out.replace(str(table_dest), str(progress_dest))
    err = with_progress.err
    assert "downloading" in err and "100%" in err, with_progress
    assert SIZE.search(err) and total > 0, with_progress  # the size
    assert RATE.search(err), with_progress  # and the rate
    assert f"{len(original)}/{len(original)} files" in err, with_progress
    assert re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", err).endswith("\n"), with_progress  # the last line ends


# ---- perf jobs and tasks -------------------------------------------------------------------------------


def test_perf_jobs_and_tasks(flow: Flow, tmp_path: Path) -> None:
    config = tmp_path / "perf_tensor_config.json"
    config.write_text(json.dumps(PERF_TENSOR_CONFIG), encoding="utf-8")
    created = flow.run(
        "perf", "create", flow.model_id, "1", "--tensor-config", str(config),
        "--flavor", "ml.c1i.large", "--flavor", "ml.g1e.large",
    ).ok()  # fmt: skip
    kv = created.kv()
    perf_job = kv["JobID"]
    assert perf_job.startswith("pj-"), created
    assert (kv["JobType"], kv["JobStatus"]) == ("PERF_ONLY", "Submitted"), created
    assert kv["ModelVersionID"] == f"{flow.model_id}-1", created
    assert json.loads(kv["JobParamsList"]) == [{"FlavorIDList": ["ml.c1i.large", "ml.g1e.large"]}]

    converted = flow.run(
        "perf", "create", flow.model_id, "1", "--tensor-config", json.dumps(PERF_TENSOR_CONFIG),
        "--job-type", "CONVERT_PERF", "--flavor", "ml.g1e.large", "--convert-type", "TensorRT",
        "--precision", "FP16", "--precision", "INT8", "-o", "json",
    ).ok().envelope("CreatePerfJob")  # fmt: skip
    convert_job = converted["JobID"]
    assert converted["JobType"] == "CONVERT_PERF" and converted["JobStatus"] == "Submitted"
    assert converted["JobParamsList"] == [
        {
            "FlavorIDList": ["ml.g1e.large"],
            "ConvertType": "TensorRT",
            "ConvertPrecisionList": ["FP16", "INT8"],
        }
    ]

    jobs, one_job, tasks, convert_tasks = flow.peer.run_all(
        ("perf", "list", "--model-id", flow.model_id, "--version", "1"),
        ("perf", "list", "--job-id", perf_job, "-o", "json"),
        ("perf", "tasks", "--job-id", perf_job),
        ("perf", "tasks", "--job-id", convert_job, "-o", "json"),
    )
    table = jobs.ok().table()
    assert table.headers == JOB_HEADERS, jobs
    assert set(table.column("JOB ID")) == {perf_job, convert_job}, jobs
    assert (table.shown, table.total) == (2, 2), jobs
    row = {r["JOB ID"]: r for r in table.rows}
    assert row[perf_job]["TYPE"] == "PERF_ONLY" and row[perf_job]["ENDED/TASKS"] == "0/2", jobs
    assert row[convert_job]["TYPE"] == "CONVERT_PERF" and row[convert_job]["STATUS"] == "Submitted", jobs
    result = one_job.ok().envelope("ListPerfJobs")
    assert result["Total"] == 1 and result["List"][0]["JobID"] == perf_job

    # two --flavor: two tasks, one per flavor
    task_table = tasks.ok().table()
    assert task_table.headers == TASK_HEADERS, tasks
    assert (task_table.shown, task_table.total) == (2, 2), tasks
    assert sorted(task_table.column("FLAVOR")) == ["ml.c1i.large", "ml.g1e.large"], tasks
    assert set(task_table.column("JOB ID")) == {perf_job} and set(task_table.column("STATUS")) == {
        "Submitted"
    }, tasks
    # CONVERT_PERF with two precisions: two tasks, one per precision
    result = convert_tasks.ok().envelope("ListPerfTasks")
    assert result["Total"] == 2
    assert sorted(t["TaskArgs"]["ConvertPrecision"] for t in result["List"]) == ["FP16", "INT8"]

    queued_task, cancelled_task = (r["TASK ID"] for r in task_table.rows)
    queued = flow.run("perf", "update-task", queued_task, "Queued").ok()
    assert queued.kv() == {"TaskID": queued_task}, queued
    refused = flow.run("perf", "update-task", cancelled_task, "Success").fails(1)
    assert "InvalidStateTransition" in refused.err and "RequestId" in refused.err, refused
    assert "Submitted" in refused.err and "Success" in refused.err, refused
    cancelled = flow.run("perf", "cancel-task", cancelled_task, "-o", "json").ok()
    assert cancelled.envelope("CancelPerfTask")["TaskID"] == cancelled_task

    after_q, after_c = flow.peer.run_all(
        ("perf", "tasks", "--task-id", queued_task, "-o", "json"),
        ("perf", "tasks", "--task-id", cancelled_task),
    )
    assert [t["TaskStatus"] for t in after_q.ok().envelope("ListPerfTasks")["List"]] == ["Queued"]
    row_c = after_c.ok().table()
    assert row_c.column("TASK ID") == [cancelled_task] and row_c.column("STATUS") == ["Cancelled"], after_c
    assert (row_c.shown, row_c.total) == (1, 1), after_c

    cancel_job = flow.run("perf", "cancel", convert_job).ok()
    assert cancel_job.kv().get("JobID") == convert_job, cancel_job
    job_after, tasks_after = flow.peer.run_all(
        ("perf", "list", "--job-id", convert_job, "-o", "json"),
        ("perf", "tasks", "--job-id", convert_job),
    )
    assert job_after.ok().envelope("ListPerfJobs")["List"][0]["JobStatus"] == "Cancelled", job_after
    assert set(tasks_after.ok().table().column("STATUS")) == {"Cancelled"}, tasks_after


# ---- deploy and services --------------------------------------------------------------------------------


def test_deploy_and_services(flow: Flow) -> None:
    name = f"{flow.prefix}-svc"
    deployed = flow.run("deploy", flow.model_id, "1", name, "--env", "A=1", "--replicas", "2").ok()
    kv = deployed.kv()
    service_id = kv["ServiceID"]
    assert service_id.startswith("s-") and kv["ServiceName"] == name, deployed
    deployment = json.loads(kv["ServiceDeployment"])
    assert deployment["Replicas"] == 2 and deployment["Envs"] == [{"Name": "A", "Value": "1"}], deployed
    assert deployment["Model"]["ModelVersionID"] == f"{flow.model_id}-1", deployed

    listed, listed_json, shown, shown_json = flow.peer.run_all(
        ("services", "list", "--name-contains", flow.prefix),
        ("services", "list", "--name-contains", flow.prefix, "-o", "json"),
        ("services", "show", service_id),
        ("-o", "json", "services", "show", service_id),
    )
    table = listed.ok().table()
    assert table.headers == SERVICE_HEADERS, listed
    assert table.column("SERVICE ID") == [service_id] and table.column("NAME") == [name], listed
    assert table.column("REPLICAS") == ["2"], listed
    assert table.column("MODEL VERSION ID") == [f"{flow.model_id}-1"], listed
    assert (table.shown, table.total) == (1, 1), listed
    result = listed_json.ok().envelope("ListServices")
    assert result["Total"] == 1 and result["List"][0]["ServiceID"] == service_id
    assert shown.ok().kv()["ServiceID"] == service_id, shown
    result = shown_json.ok().envelope("GetService")
    assert result["ServiceName"] == name
    assert result["ServiceDeployment"]["Envs"] == [{"Name": "A", "Value": "1"}]
    assert result["ServiceDeployment"]["Replicas"] == 2

    def status() -> dict[str, Any]:
        shown = flow.run("services", "show", service_id, "-o", "json").ok()
        deployment: dict[str, Any] = shown.envelope("GetService")["ServiceDeployment"]
        return deployment

    scaled = flow.run("services", "scale", service_id, "3").ok()
    assert scaled.kv() == {"ServiceID": service_id}, scaled
    assert status()["Replicas"] == 3
    stopped = flow.run("services", "stop", service_id, "-o", "json").ok()
    assert stopped.envelope("StopService")["ServiceID"] == service_id
    deadline = time.monotonic() + 30
    while (now := status()["Status"]) == "Stopping" and time.monotonic() < deadline:
        time.sleep(0.1)  # the supervisor stops the replicas, then the service is Stopped
    assert now == "Stopped"
    started = flow.run("services", "start", service_id).ok()
    assert started.kv() == {"ServiceID": service_id}, started
    assert status()["Status"] in {"Pending", "Deploying", "Running", "Failed"}
    deleted = flow.run("services", "delete", service_id, "-o", "json").ok()
    assert deleted.envelope("DeleteService")["ServiceID"] == service_id

    after, gone = flow.peer.run_all(
        ("services", "list", "--name-contains", flow.prefix),
        ("services", "show", service_id),
    )
    table = after.ok().table()
    assert table.rows == [] and (table.shown, table.total) == (0, 0), after
    gone.fails(1)
    assert "NotFound" in gone.err and "RequestId" in gone.err, gone


def test_resources_list(peer: Peer) -> None:
    as_table, filtered, as_json = peer.run_all(
        ("resources", "list"),
        ("resources", "list", "--name-contains", "g1e"),
        ("resources", "list", "-o", "json"),
    )
    table = as_table.ok().table()
    assert table.headers == RESOURCE_HEADERS, as_table
    ids = table.column("ID")
    assert {"ml.c1i.large", "ml.g1e.large"} <= set(ids), as_table
    rows = {r["ID"]: r for r in table.rows}
    assert rows["ml.c1i.large"]["GROUP"] == "CPU" and rows["ml.g1e.large"]["GROUP"] == "GPU", as_table
    assert rows["ml.c1i.large"]["VCPU"].isdigit() and rows["ml.c1i.large"]["MEMORY"].isdigit(), as_table
    gpu_only = filtered.ok().table().column("ID")
    assert gpu_only and all("g1e" in i for i in gpu_only), filtered
    result = as_json.ok().envelope("ListResource")
    listed = {f["Id"] for flavors in result["List"].values() for f in flavors}
    assert listed == set(ids)


# ---- deleting (last: it removes the flow's models) ----------------------------------------------------


def test_models_delete(flow: Flow) -> None:
    deleted = flow.run("models", "delete", flow.alpha_id).ok()
    assert deleted.kv() == {"ModelID": flow.alpha_id}, deleted
    deleted_json = flow.run("-o", "json", "models", "delete", flow.model_id).ok()
    assert deleted_json.envelope("DeleteModel")["ModelID"] == flow.model_id
    listed, shown, versions = flow.peer.run_all(
        ("models", "list", "--name-contains", flow.prefix),
        ("models", "show", flow.alpha_id),
        ("versions", "list", flow.model_id),
    )
    table = listed.ok().table()
    assert table.column("MODEL ID") == [flow.beta_id] and (table.shown, table.total) == (1, 1), listed
    for gone in (shown, versions):
        gone.fails(1)
        assert "NotFound" in gone.err and "RequestId" in gone.err, gone
