"""Issue 14 walked through again as a new user (fresh clone, empty HOME), each finding pinned through
the real ``mlp`` entry point in a subprocess."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

from mlp_testing import MlpServe

from ._support import EXAMPLE, Peer, clean_env, parse_table, run_mlp

REGISTER = ("--format", "ONNX", "--type", "ONNX:1.23")


def _fresh_peer(tmp_path: Path) -> Peer:
    """The embedded platform of a user with an empty HOME: the default data folder under it."""
    env = clean_env(tmp_path, MLP_PERF_WORKERS="0")
    del env["VOLC_ML_PLATFORM_DATA_DIR"]
    return Peer("embedded", env, Path(env["HOME"]) / ".volc" / "ml_platform")


def _services(peer: Peer) -> dict[str, dict[str, str]]:
    """Every service as a fresh process reads it (an `mlp` command: it serves nothing itself)."""
    listing = peer.run("services", "list", "-o", "json").ok().envelope("ListServices")
    return {
        s["ServiceName"]: {"ServiceID": s["ServiceID"], **s["ServiceDeployment"]} for s in listing["List"]
    }


# A Python program on the embedded platform: deploys, serves until Running, then exits (or waits).
DEPLOY = """
import sys, time
from volcengine_ml_platform.models.model import Model
m = Model()
service = m.deploy(m.get_model_by_name("iris").model_id, "latest", sys.argv[1], flavor="ml.c1i.large")
service.wait_for("Running", timeout=90)
print("RUNNING", service.endpoint_url, flush=True)
if sys.argv[2] == "wait":
    time.sleep(600)
"""


def _unserved(service: dict[str, str], peer: Peer) -> bool:
    hint = f"no platform process is serving this service: run `mlp serve --data-dir {peer.data_dir}`"
    return (service["Status"], service["EndpointURL"]) == ("Pending", "") and service[
        "StatusMessage"
    ].startswith(hint)


def test_a_service_record_is_true_when_its_serving_process_is_gone(tmp_path: Path) -> None:
    """Embedded: ``mlp deploy`` only records (and says so); a Python program serves until it exits,
    normally or by SIGKILL; a fresh process then reads Pending with no endpoint and what serves it
    again; ``mlp serve`` on the folder takes the services over, predictions work, and when it stops
    they read unserved again."""
    peer = _fresh_peer(tmp_path)
    peer.run("models", "register", str(EXAMPLE), "--name", "iris", *REGISTER).ok()
    deployed = peer.run("deploy", "iris", "latest", "cli-svc", "--flavor", "ml.c1i.large").ok()
    assert "mlp serve --data-dir " + str(peer.data_dir) in deployed.err, deployed
    assert _unserved(json.loads(deployed.kv()["ServiceDeployment"]), peer), deployed

    ended = subprocess.run(
        [sys.executable, "-c", DEPLOY, "ended-svc", "exit"], env=peer.env, capture_output=True, text=True
    )
    assert ended.returncode == 0 and ended.stdout.startswith("RUNNING http://127.0.0.1:"), ended
    # It configured no logging, and is still told that its exit stopped what it served.
    assert "ServingStoppedWarning: stopped serving 2 service(s) of " in ended.stderr, ended  # and cli-svc
    assert f"`mlp serve --data-dir {peer.data_dir}`" in ended.stderr, ended
    killed = subprocess.Popen(
        [sys.executable, "-c", DEPLOY, "killed-svc", "wait"], env=peer.env, stdout=subprocess.PIPE, text=True
    )
    try:
        assert killed.stdout is not None and killed.stdout.readline().startswith("RUNNING http://")
        served = _services(peer)  # this program serves every service of the folder, until killed
        assert {s["Status"] for s in served.values()} <= {"Deploying", "Running"}, served
        assert served["killed-svc"]["Status"] == "Running" and served["killed-svc"]["EndpointURL"], served
    finally:
        killed.kill()
        killed.wait()
    after = _services(peer)
    assert all(_unserved(service, peer) for service in after.values()), after
    # Service commands take a service's name too (names are unique per account).
    shown, missing = peer.run_all(
        ("-o", "json", "services", "show", "killed-svc"), ("services", "show", "nope")
    )
    assert shown.ok().envelope("GetService")["ServiceID"] == after["killed-svc"]["ServiceID"], shown
    assert _unserved(shown.envelope("GetService")["ServiceDeployment"], peer), shown
    assert "[NotFound] no service has the ID or the name 'nope'" in missing.fails(1).err, missing
    predicted = peer.run("services", "predict", after["ended-svc"]["ServiceID"], "--input", "{}").fails(1)
    assert "it is Pending (no platform process is serving this service" in predicted.err, predicted

    server = MlpServe(peer.data_dir, env=peer.env, log_path=tmp_path / "serve.log").start()
    try:
        deadline = time.monotonic() + 90
        now = _services(peer)
        while {s["Status"] for s in now.values()} != {"Running"}:
            assert time.monotonic() < deadline, (now, server.log())
            time.sleep(0.5)
            now = _services(peer)
        assert all(
            "no platform process" not in s["StatusMessage"] and s["EndpointURL"] for s in now.values()
        ), now
        assert "mlp: serving 3 deployed service(s)" in server.log()  # it says what it took over
        # While `mlp serve` serves the folder, an embedded command neither warns nor serves itself.
        scaled = peer.run("services", "scale", now["cli-svc"]["ServiceID"], "1").ok()
        assert "note" not in scaled.err and "warning" not in scaled.err, scaled
        for name in ("ended-svc", "killed-svc"):
            predicted = peer.run(
                "services",
                "predict",
                name,
                "--input",
                '{"features": [[5.1, 3.5, 1.4, 0.2]]}',
            ).ok()
            assert "probabilities" in predicted.out, predicted
    finally:
        server.stop()
    stopped = _services(peer)
    assert all(_unserved(service, peer) for service in stopped.values()), stopped


def test_errors_name_the_argument_as_each_command_spells_it(embedded_peer: Peer, tmp_path: Path) -> None:
    """A bad value is reported against the argument the user typed: the destination folder of
    ``versions download`` (not ``register``'s ``path``), ``--job-id`` for the wire's ``JobID``."""
    name = f"args-{uuid.uuid4().hex[:8]}"
    embedded_peer.run("models", "register", str(EXAMPLE), "--name", name, *REGISTER).ok()
    dest = tmp_path / "copy"
    embedded_peer.run("versions", "download", name, "latest", str(dest)).ok()
    (dest / "model.onnx").write_bytes(b"edited")
    refused = embedded_peer.run("versions", "download", name, "latest", str(dest)).fails(2)
    assert refused.err.startswith("mlp: error: argument dest: local_path: 1 existing file(s) differ"), refused
    assert (dest / "model.onnx").read_bytes() == b"edited"

    unnamed = embedded_peer.run("models", "register", str(EXAMPLE), *REGISTER).fails(2)  # no --name
    assert unnamed.err.startswith("mlp: error: argument --name: "), unnamed
    # An ID's error says what a valid one looks like (the document's description, not its regex).
    listed = embedded_peer.run("perf", "tasks", "--job-id", "pj-...").fails(2)
    assert listed.err.startswith(
        "mlp: error: argument --job-id: job_id: 'pj-...' is not valid; expected a perf job ID: "
        "pj-{yyyymmddHHMMSS}-{5 lowercase letters or digits}, e.g. pj-20210914105554-nvh45"
    ), listed
    assert "[0-9]" not in listed.err, listed
    waited = embedded_peer.run("perf", "update-task", "pf-x", "Success").fails(2)
    assert waited.err.startswith(
        "mlp: error: argument task_id: task_id: 'pf-x' is not valid; expected a perf task ID: pf-"
    ), waited
    as_json = embedded_peer.run("-o", "json", "perf", "list", "--job-id", "nope").fails(2)
    error = json.loads(as_json.err)["ResponseMetadata"]["Error"]
    assert error["Field"] == "--job-id" and error["Message"].startswith("argument --job-id: job_id:"), as_json


def test_account_list_prints_a_table_with_a_header(embedded_peer: Peer) -> None:
    listed = embedded_peer.run("account", "list", "--data-dir", str(embedded_peer.data_dir)).ok()
    table = parse_table(listed.out)
    assert table.headers == ["AccountID", "UserID", "Admin", "Name"], listed
    assert {"AccountID": "2100000001", "UserID": "1", "Admin": "True", "Name": "default"} in table.rows


def test_json_argument_errors_point_at_what_to_change(embedded_peer: Peer) -> None:
    name = f"perf-args-{uuid.uuid4().hex[:8]}"
    embedded_peer.run("models", "register", str(EXAMPLE), "--name", name, *REGISTER).ok()
    perf = ("perf", "create", name, "latest")
    version_config = embedded_peer.run(
        *perf, "--tensor-config", str(EXAMPLE / "tensor_config.json"), "--flavor", "ml.c1i.large"
    ).fails(2)
    assert version_config.err.startswith("mlp: error: argument --tensor-config: "), version_config
    assert '{"MinShape": [1, 4], "MaxShape": [16, 4]}' in version_config.err, version_config
    assert "examples/iris-onnx/perf_tensor_config.json" in version_config.err, version_config

    config = ("--tensor-config", str(EXAMPLE / "perf_tensor_config.json"))
    by_flavor = embedded_peer.run(*perf, *config, "--flavor", "ml.nope").fails(2)
    assert by_flavor.err.startswith("mlp: error: argument --flavor: "), by_flavor
    by_params = embedded_peer.run(*perf, *config, "--job-params", '[{"FlavorIDList": ["ml.nope"]}]').fails(2)
    assert by_params.err.startswith("mlp: error: argument --job-params: "), by_params
    perf_config = embedded_peer.run(
        "models", "register", str(EXAMPLE), "--name", name, *REGISTER, "--tensor-config", config[1]
    ).fails(2)
    assert "a version's Shape is a list of dimensions, -1 for any" in perf_config.err, perf_config
    nested = '[{"MetricsType": "ImageClassification", "Params": {"top_k": 1}, "MetricsData": {"a": 0.9}}]'
    metrics = embedded_peer.run("versions", "update", name, "latest", "--metrics", nested).fails(2)
    assert metrics.err.startswith("mlp: error: argument --metrics: model_metrics[0]."), metrics
    assert "Params and MetricsData are JSON strings" in metrics.err, metrics
    zero = embedded_peer.run("models", "list", "--limit", "0").fails(2)
    assert zero.err.startswith("mlp: error: argument --limit: page_size: 0"), zero


def test_a_relative_data_dir_prints_absolute_paths(tmp_path: Path) -> None:
    """``--data-dir ./mlp-data``: the credentials file (and the CA file of ``mlp serve``) are printed as
    absolute paths, which work from any folder the user goes on to."""
    env = clean_env(tmp_path)
    added = run_mlp(
        ["-o", "json", "account", "add", "--account-id", "2100000050", "--data-dir", "./mlp-data"],
        env,
        cwd=tmp_path,
    ).ok()
    printed = Path(added.json()["CredentialsFile"])
    assert printed.is_absolute() and printed.parent == tmp_path / "mlp-data", added
    assert printed.is_file()
    # Letters and digits: `mlp configure --secret-key SK` never takes the secret for an option.
    pair = json.loads(printed.read_text(encoding="utf-8"))
    assert re.fullmatch(r"AKLT[A-Za-z0-9]{28}", pair["ak"]) and re.fullmatch(r"[A-Za-z0-9]{40}", pair["sk"])
    current = run_mlp(["db", "current", "--data-dir", "./mlp-data"], env, cwd=tmp_path).ok()
    assert str(tmp_path / "mlp-data" / "mlp.sqlite3") in current.out, current


def test_every_model_argument_takes_a_name_and_every_version_latest(embedded_peer: Peer) -> None:
    name = f"every-{uuid.uuid4().hex[:8]}"
    embedded_peer.run("models", "register", str(EXAMPLE), "--name", name, *REGISTER).ok()
    embedded_peer.run("models", "register", str(EXAMPLE), "--model-id", name).ok()  # version 2, by name
    listed, updated, jobs = embedded_peer.run_all(
        ("-o", "json", "versions", "list", name, "--version", "latest"),
        ("versions", "update", name, "latest", "--description", "the latest"),
        ("-o", "json", "perf", "list", "--model-id", name, "--version", "latest"),
    )
    assert [v["ModelVersion"] for v in listed.ok().envelope("ListModelVersions")["List"]] == [2], listed
    assert updated.ok().kv()["ModelVersionID"].endswith("-2"), updated
    assert jobs.ok().envelope("ListPerfJobs")["List"] == [], jobs
    shown = embedded_peer.run("-o", "json", "versions", "show", name, "2").ok().envelope("GetModelVersion")
    assert shown["Description"] == "the latest", shown
    embedded_peer.run("versions", "delete", name, "latest").ok()
    renamed = f"{name}-renamed"
    embedded_peer.run("models", "rename", name, renamed).ok()
    assert embedded_peer.run("models", "show", renamed).ok().kv()["LatestVersion"] == "1"
    embedded_peer.run("models", "delete", renamed).ok()
    gone = embedded_peer.run("models", "show", renamed).fails(1)
    assert f"no model is named {renamed!r}" in gone.err, gone
