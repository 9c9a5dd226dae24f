"""Every documented method of ``volcengine_ml_platform.models.model.Model``, end to end, on both peers.

Each test checks what the method returns, in the documented dict shape (``resp["Result"][...]``) and
typed (``resp.result...``), and what the platform holds afterwards (read back by another documented
call, the platform's database or its object store).
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from mlp_server.platform import DEFAULT_ACCOUNT_ID
from mlp_testing import bucket_for
from volcengine_ml_platform.errors import ConflictError, InvalidParameterError, NotFoundError, ValidationError
from volcengine_ml_platform.models.inference_service import AsyncInferenceService, InferenceService
from volcengine_ml_platform.models.model import Model

from .helpers import (
    CPU_FLAVORS,
    EXAMPLE,
    GPU_FLAVORS,
    METRICS,
    MODEL_TENSOR_CONFIG,
    PERF_TENSOR_CONFIG,
    REQUEST_ID,
    UPLOAD_PREFIX,
    Api,
    Peer,
    make_tree,
    read_tree,
    split_tos,
    unwrapped,
)


def unique(prefix: str = "e2e") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def check_meta(resp: Any, action: str) -> None:
    meta = resp["ResponseMetadata"]
    assert meta["Action"] == action
    assert meta["Version"] == "2021-07-01"
    assert meta["Service"] == "ml_platform"
    assert meta["Region"] == "cn-beijing"
    assert REQUEST_ID.match(meta["RequestId"])
    assert resp.response_metadata.request_id == meta["RequestId"]


def tiny_model(tmp_path: Path, name: str = "tiny") -> Path:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "model.onnx").write_bytes(b"\x08\x07onnx")
    return folder


def new_model(model: Model, tmp_path: Path, name: str | None = None, **kwargs: Any) -> tuple[str, Any]:
    folder = tiny_model(tmp_path, unique("dir"))
    resp = model.register(
        str(folder),
        model_name=name or unique(),
        model_format="ONNX",
        model_type="ONNX:1.10",
        **kwargs,
    )
    return resp.result.model_id, resp


@pytest.fixture
def model(peer: Peer) -> Model:
    return peer.model()


# ---- register, download, versions -------------------------------------------------------------------


def test_register_folder_then_download_every_byte(peer: Peer, model: Model, tmp_path: Path) -> None:
    source = tmp_path / "resnet"
    files = make_tree(source)
    assert len(files) > 300 and files["empty.txt"] == b""
    name = unique("resnet")

    resp = model.register(
        str(source),
        model_name=name,
        model_format="SavedModel",
        model_type="TensorFlow:2.4",
        description="first version",
        tensor_config=MODEL_TENSOR_CONFIG,
        model_metrics=METRICS,
        model_category="ImageClassification",
        dataset_id="d-20210101000000-abcde",
        model_tags=[{"Key": "team", "Value": "vision"}],
    )

    check_meta(resp, "CreateModel")
    model_id = resp["Result"]["ModelID"]
    assert model_id == resp.result.model_id
    assert model_id.startswith("m-") and len(model_id.split("-")[2]) == 5
    info = resp["Result"]["VersionInfo"]
    assert info == {"ModelVersionID": f"{model_id}-1", "ModelVersion": 1}
    assert resp.result.version_info.model_version_id == f"{model_id}-1"
    assert resp.result.version_info.model_version == 1

    # The platform holds the version, with every field given.
    version = model.get_model_version(model_id, "1")
    check_meta(version, "GetModelVersion")
    stored = version["Result"]
    assert stored["ModelFormat"] == "SavedModel" and version.result.model_format == "SavedModel"
    assert stored["ModelType"] == "TensorFlow:2.4" and version.result.model_type == "TensorFlow:2.4"
    assert stored["Description"] == "first version" == version.result.description
    assert stored["SourceType"] == "TOS" == version.result.source_type
    assert stored["TensorConfig"] == MODEL_TENSOR_CONFIG
    assert version.result.tensor_config.inputs[0].tensor_name == "serving_default_input:0"
    assert stored["MetricsList"] == METRICS
    assert version.result.metrics_list[0].metrics_type == "ImageClassification"
    assert stored["ModelTags"] == [{"Key": "team", "Value": "vision"}]
    assert version.result.model_tags[0].value == "vision"

    # ... at the documented layout: tos://{bucket}/modelrepo/from-sdk-repo/{ms}/{basename}/
    bucket, prefix = split_tos(stored["Path"])
    assert bucket == bucket_for(DEFAULT_ACCOUNT_ID)
    assert prefix.endswith("/resnet/")
    assert UPLOAD_PREFIX.match(prefix.removesuffix("resnet/"))
    assert peer.object_keys(prefix=prefix) == {prefix + rel for rel in files}
    assert peer.read_object(DEFAULT_ACCOUNT_ID, prefix + "saved_model.pb") == files["saved_model.pb"]

    listed = model.list_models(model_name_contains=name)
    assert listed["Result"]["Total"] == 1
    summary = listed.result.list_[0]
    assert (summary.model_id, summary.model_name) == (model_id, name)
    assert summary.model_category == "ImageClassification"
    assert summary.model_versions_count == 1 and summary.latest_version == "1"

    # Download elsewhere: every file, byte for byte, the empty one too.
    dest = tmp_path / "elsewhere" / "copy"
    written = model.download(model_id, "1", str(dest))
    assert sorted(p.relative_to(dest).as_posix() for p in written) == sorted(files)
    assert read_tree(dest) == files
    assert (dest / "empty.txt").stat().st_size == 0
    assert not [p for p in dest.rglob("*") if p.name.endswith(".incomplete")]


def test_second_version_inherits_format_and_type(peer: Peer, model: Model, tmp_path: Path) -> None:
    model_id, _ = new_model(model, tmp_path)
    single = tmp_path / "weights.bin"
    single.write_bytes(b"\x00\x01version two\xff")

    resp = model.register(str(single), model_id=model_id, description="v2")

    check_meta(resp, "CreateModel")
    assert resp["Result"]["ModelID"] == model_id
    assert resp["Result"]["VersionInfo"] == {"ModelVersionID": f"{model_id}-2", "ModelVersion": 2}
    assert resp.result.version_info.model_version == 2

    v2 = model.get_model_version(model_id, "2").result
    assert (v2.model_format, v2.model_type, v2.description) == ("ONNX", "ONNX:1.10", "v2")
    # A single file goes to {KeyPrefix}{file name}; Path is the prefix.
    bucket, prefix = split_tos(v2.path)
    assert bucket == bucket_for(DEFAULT_ACCOUNT_ID) and UPLOAD_PREFIX.match(prefix)
    assert peer.object_keys(prefix=prefix) == {prefix + "weights.bin"}
    # The model's name is the first registration's.
    assert model.list_models(id_contains=model_id).result.list_[0].model_versions_count == 2

    dest = tmp_path / "v2"
    assert model.download(model_id, "2", str(dest)) == [dest / "weights.bin"]
    assert read_tree(dest) == {"weights.bin": single.read_bytes()}


def test_get_model_versions_filter_sort_and_paging(model: Model, tmp_path: Path) -> None:
    model_id, _ = new_model(model, tmp_path, description="v1")
    for n in (2, 3):
        model.register(str(tiny_model(tmp_path, f"v{n}")), model_id=model_id, description=f"v{n}")

    everything = model.get_model_versions(model_id)
    check_meta(everything, "ListModelVersions")
    assert everything["Result"]["Total"] == 3
    # Default: CreateTime, Descend -> newest first.
    assert [v["ModelVersion"] for v in everything["Result"]["List"]] == [3, 2, 1]

    one = model.get_model_versions(model_id, model_version="2")
    assert one.result.total == 1
    assert one.result.list_[0].model_version_id == f"{model_id}-2"
    assert one.result.list_[0].description == "v2"

    ascending = model.get_model_versions(model_id, sort_by="ModelVersion", sort_order="Ascend")
    assert [v.model_version for v in ascending.result.list_] == [1, 2, 3]

    page = model.get_model_versions(
        model_id, offset=1, page_size=1, sort_by="ModelVersion", sort_order="Ascend"
    )
    assert page["Result"]["Total"] == 3
    assert [v["ModelVersion"] for v in page["Result"]["List"]] == [2]

    missing = model.get_model_versions(model_id, model_version="9")
    assert missing["Result"] == {"Total": 0, "List": []}


def test_list_models_filters_sort_and_paging(model: Model, tmp_path: Path) -> None:
    token = uuid.uuid4().hex[:8]
    ids = {}
    for letter in ("b", "a", "c"):  # created in this order
        ids[letter], _ = new_model(model, tmp_path, name=f"Zoo-{token}-{letter}")

    by_name = model.list_models(model_name_contains=f"zoo-{token}".upper())  # case-insensitive
    check_meta(by_name, "ListModels")
    assert by_name["Result"]["Total"] == 3
    # Default: CreateTime, Descend.
    assert [m["ModelName"] for m in by_name["Result"]["List"]] == [f"Zoo-{token}-{x}" for x in "cab"]
    for item in by_name.result.list_:
        assert item.model_versions_count == 1 and item.latest_version == "1"
        assert item.create_time

    ascend = model.list_models(model_name_contains=token, sort_by="ModelName", sort_order="Ascend")
    assert [m.model_name.rsplit("-", 1)[1] for m in ascend.result.list_] == ["a", "b", "c"]
    descend = model.list_models(model_name_contains=token, sort_by="ModelName", sort_order="Descend")
    assert [m.model_name.rsplit("-", 1)[1] for m in descend.result.list_] == ["c", "b", "a"]

    page = model.list_models(
        model_name_contains=token, offset=1, page_size=1, sort_by="ModelName", sort_order="Ascend"
    )
    assert page.result.total == 3
    assert [m.model_id for m in page.result.list_] == [ids["b"]]
    beyond = model.list_models(model_name_contains=token, offset=3, page_size=2)
    assert beyond.result.total == 3 and beyond.result.list_ == []

    by_id = model.list_models(id_contains=ids["a"][-5:].upper())
    assert ids["a"] in [m.model_id for m in by_id.result.list_]
    assert model.list_models(model_name_contains=token, id_contains=ids["c"]).result.total == 1
    assert model.list_models(model_name_contains=f"{token}-nothing")["Result"] == {"Total": 0, "List": []}


def test_update_model_renames(model: Model, tmp_path: Path) -> None:
    model_id, _ = new_model(model, tmp_path)
    new_name = unique("renamed")

    resp = model.update_model(model_id, model_name=new_name)

    check_meta(resp, "UpdateModel")
    assert resp["Result"] == {"ModelID": model_id} and resp.result.model_id == model_id
    listed = model.list_models(model_name_contains=new_name).result
    assert [(m.model_id, m.model_name) for m in listed.list_] == [(model_id, new_name)]
    # No name: nothing changes.
    model.update_model(model_id)
    assert model.list_models(id_contains=model_id).result.list_[0].model_name == new_name


def test_update_model_version_then_read_back(model: Model, tmp_path: Path) -> None:
    model_id, _ = new_model(model, tmp_path, description="before")
    metrics = [{"MetricsType": "Perf", "Params": '{"batch": 8}', "MetricsData": '{"qps": 1234.5}'}]

    resp = model.update_model_version(
        model_id, "1", description="after", tensor_config=MODEL_TENSOR_CONFIG, model_metrics=metrics
    )

    check_meta(resp, "UpdateModelVersion")
    assert resp["Result"] == {"ModelVersionID": f"{model_id}-1"}
    assert resp.result.model_version_id == f"{model_id}-1"
    stored = model.get_model_version(model_id, "1")["Result"]
    assert stored["Description"] == "after"
    assert stored["TensorConfig"] == MODEL_TENSOR_CONFIG
    assert stored["MetricsList"] == metrics
    listed = model.get_model_versions(model_id, model_version="1").result.list_[0]
    assert listed.description == "after" and listed.metrics_list[0].metrics_data == '{"qps": 1234.5}'

    # Only what is given changes.
    model.update_model_version(model_id, "1", description="again")
    again = model.get_model_version(model_id, "1")["Result"]
    assert again["Description"] == "again"
    assert again["TensorConfig"] == MODEL_TENSOR_CONFIG and again["MetricsList"] == metrics


def test_unregister_and_unregister_all_versions(peer: Peer, model: Model, tmp_path: Path) -> None:
    model_id, _ = new_model(model, tmp_path)
    model.register(str(tiny_model(tmp_path, "two")), model_id=model_id)

    resp = model.unregister(model_id, "1")

    check_meta(resp, "DeleteModelVersion")
    assert (
        resp["Result"] == {"ModelVersionID": f"{model_id}-1"}
        and resp.result.model_version_id == f"{model_id}-1"
    )
    with pytest.raises(NotFoundError):
        model.get_model_version(model_id, "1")
    assert [v.model_version for v in model.get_model_versions(model_id).result.list_] == [2]
    # A version number is never given again.
    again = model.register(str(tiny_model(tmp_path, "three")), model_id=model_id)
    assert again.result.version_info.model_version == 3

    resp = model.unregister_all_versions(model_id)

    check_meta(resp, "DeleteModel")
    assert resp["Result"] == {"ModelID": model_id} and resp.result.model_id == model_id
    assert model.list_models(id_contains=model_id).result.total == 0
    with pytest.raises(NotFoundError):
        model.get_model_versions(model_id)
    with pytest.raises(NotFoundError):
        model.get_model_version(model_id, "3")
    with pytest.raises(NotFoundError):
        model.unregister_all_versions(model_id)


# ---- perf jobs and tasks ------------------------------------------------------------------------------


def test_perf_jobs_and_tasks(model: Model, tmp_path: Path) -> None:
    model_id, _ = new_model(model, tmp_path)

    perf = model.create_perf_job(
        model_id, "1", PERF_TENSOR_CONFIG, "PERF_ONLY", [{"FlavorIDList": ["ml.c1i.large", "ml.g1e.large"]}]
    )

    check_meta(perf, "CreatePerfJob")
    job = perf["Result"]
    assert job["JobID"].startswith("pj-") and job["JobID"] == perf.result.job_id
    assert job["ModelVersionID"] == f"{model_id}-1"
    assert job["JobType"] == "PERF_ONLY" and job["JobStatus"] == "Submitted"
    assert job["TensorConfig"] == PERF_TENSOR_CONFIG
    assert job["TensorConfigID"].startswith("t-")
    assert job["JobParamsList"] == [{"FlavorIDList": ["ml.c1i.large", "ml.g1e.large"]}]

    convert = model.create_perf_job(
        model_id,
        "1",
        PERF_TENSOR_CONFIG,
        "CONVERT_PERF",
        [
            {
                "FlavorIDList": ["ml.c1i.large", "ml.g1e.xlarge"],
                "ConvertType": "TensorRT",
                "ConvertPrecisionList": ["FP16", "INT8"],
            }
        ],
    )
    convert_id = convert.result.job_id

    # Fan-out: PERF_ONLY one task per flavor; CONVERT_PERF one per flavor and precision.
    perf_tasks = model.list_perf_tasks(job_id=perf.result.job_id, page_size=100)
    check_meta(perf_tasks, "ListPerfTasks")
    assert perf_tasks["Result"]["Total"] == 2
    assert sorted(
        (t.task_args.flavor_id, t.task_args.convert_type, t.task_args.convert_precision)
        for t in perf_tasks.result.list_
    ) == [("ml.c1i.large", "base", "base"), ("ml.g1e.large", "base", "base")]
    convert_tasks = model.list_perf_tasks(job_id=convert_id, page_size=100).result
    assert convert_tasks.total == 4
    fanned_out = sorted((t.task_args.flavor_id, t.task_args.convert_precision) for t in convert_tasks.list_)
    assert fanned_out == [
        (flavor, precision) for flavor in ("ml.c1i.large", "ml.g1e.xlarge") for precision in ("FP16", "INT8")
    ]
    assert {(t.task_args.task_type, t.task_args.convert_type) for t in convert_tasks.list_} == {
        ("CONVERT_PERF", "TensorRT")
    }
    assert all(t.task_status == "Submitted" and t.job_id == convert_id for t in convert_tasks.list_)

    # ListPerfJobs by version, and by job id.
    by_version = model.list_perf_jobs(model_id=model_id, model_version="1")
    check_meta(by_version, "ListPerfJobs")
    assert by_version["Result"]["Total"] == 2
    assert {j["JobID"]: j["TaskCount"] for j in by_version["Result"]["List"]} == {
        perf.result.job_id: 2,
        convert_id: 4,
    }
    by_id = model.list_perf_jobs(job_id=convert_id).result
    assert by_id.total == 1 and by_id.list_[0].job_type == "CONVERT_PERF"
    assert by_id.list_[0].ended_task_count == 0 and by_id.list_[0].job_status == "Submitted"
    with pytest.raises(ValidationError, match="model_id and model_version go together"):
        model.list_perf_jobs(model_id=model_id)

    # UpdatePerfTask: a valid transition, then an invalid one.
    first, second, third, fourth = (t.task_id for t in convert_tasks.list_)
    resp = model.update_perf_task(first, "Running")
    check_meta(resp, "UpdatePerfTask")
    assert resp["Result"] == {"TaskID": first} and resp.result.task_id == first
    only = model.list_perf_tasks(task_id=first)
    assert only.result.total == 1 and only.result.list_[0].task_status == "Running"
    with pytest.raises(ConflictError) as info:
        model.update_perf_task(first, "Queued")
    assert info.value.code == "InvalidStateTransition" and info.value.status_code == 409
    assert "Running" in info.value.message and "Queued" in info.value.message
    assert model.list_perf_tasks(task_id=first).result.list_[0].task_status == "Running"

    # Cancelling: the documented spelling and the corrected one are the same call.
    resp = model.calcel_perf_task(second)
    check_meta(resp, "CancelPerfTask")
    assert resp["Result"] == {"TaskID": second} and resp.result.task_id == second
    assert model.cancel_perf_task(third).result.task_id == third
    statuses = {t.task_id: t.task_status for t in model.list_perf_tasks(job_id=convert_id).result.list_}
    assert statuses == {first: "Running", second: "Cancelled", third: "Cancelled", fourth: "Submitted"}
    job_now = model.list_perf_jobs(job_id=convert_id).result.list_[0]
    assert (job_now.job_status, job_now.task_count, job_now.ended_task_count) == ("Running", 4, 2)
    with pytest.raises(ConflictError) as info:
        model.cancel_perf_task(second)  # already ended
    assert info.value.code == "InvalidStateTransition"

    # CancelPerfJob: every unfinished task; a running one is asked to stop.
    resp = model.cancel_perf_job(convert_id)
    check_meta(resp, "CancelPerfJob")
    assert resp["Result"] == {"JobID": convert_id} and resp.result.job_id == convert_id
    statuses = {t.task_id: t.task_status for t in model.list_perf_tasks(job_id=convert_id).result.list_}
    assert statuses == {first: "Stopping", second: "Cancelled", third: "Cancelled", fourth: "Cancelled"}

    model.cancel_perf_job(perf.result.job_id)
    ended = model.list_perf_jobs(job_id=perf.result.job_id).result.list_[0]
    assert (ended.job_status, ended.ended_task_count) == ("Cancelled", 2)
    with pytest.raises(ConflictError):
        model.cancel_perf_job(perf.result.job_id)  # nothing left to cancel
    with pytest.raises(NotFoundError):
        model.cancel_perf_job("pj-20200101000000-zzzzz")


# ---- deploy and the InferenceService ---------------------------------------------------------------


def test_deploy_then_control_the_service(peer: Peer, model: Model, tmp_path: Path) -> None:
    model_id, _ = new_model(model, tmp_path)
    name = unique("svc")

    service = model.deploy(
        model_id,
        "1",
        name,
        flavor="ml.c1i.xlarge",
        image_id="machinelearning/onnxruntime:1.10",
        envs={"LOG_LEVEL": "debug", "WORKERS": 2},  # type: ignore[dict-item]  # values become strings
        replica=2,
        description="an e2e service",
    )

    assert type(unwrapped(service)) is (InferenceService if peer.api == "sync" else AsyncInferenceService)
    assert service.service_id.startswith("s-") and service.service_name == name
    got = service.refresh()
    check_meta(got, "GetService")
    assert got is service.last
    result = got["Result"]
    assert result["ServiceID"] == service.service_id and result["ServiceName"] == name
    deployment = result["ServiceDeployment"]
    assert deployment["FlavorID"] == "ml.c1i.xlarge"  # the Id ListResource gave for the name
    assert deployment["ImageID"] == "machinelearning/onnxruntime:1.10"
    assert deployment["Envs"] == [{"Name": "LOG_LEVEL", "Value": "debug"}, {"Name": "WORKERS", "Value": "2"}]
    assert deployment["Description"] == "an e2e service"
    assert deployment["Model"]["ModelID"] == model_id
    assert deployment["Model"]["ModelVersionID"] == f"{model_id}-1"
    assert deployment["Model"]["Version"] == "1"
    assert got.result.service_deployment.model.type_ == "ONNX:1.10"
    # Its model.onnx is not a model: the supervisor fails the service, saying why.
    assert service.status in ("Pending", "Deploying", "Failed") and service.replicas == 2

    resp = service.scale(5)
    check_meta(resp, "UpdateService")
    assert resp["Result"] == {"ServiceID": service.service_id}
    assert service.refresh().result.service_deployment.replicas == 5 and service.replicas == 5

    assert service.stop().result.service_id == service.service_id
    assert service.wait_for("Stopped", timeout=30, interval=0.05) == "Stopped"
    assert service.start()["Result"]["ServiceID"] == service.service_id
    assert service.wait_for("Failed", timeout=30, interval=0.05) == "Failed"
    assert "cannot load model.onnx" in service.last.result.service_deployment.status_message
    assert service.endpoint_url is None  # a Failed service has no endpoint

    resp = service.delete()
    check_meta(resp, "DeleteService")
    with pytest.raises(NotFoundError) as info:
        service.refresh()
    assert info.value.code == "NotFound" and info.value.status_code == 404


def test_deploy_defaults_and_unknown_flavor(peer: Peer, model: Model, tmp_path: Path) -> None:
    model_id, _ = new_model(model, tmp_path)
    services_before = peer.store.list_services(DEFAULT_ACCOUNT_ID, {"Limit": 100})["Total"]

    recording, wire = peer.recording_model()
    with pytest.raises(ValidationError) as info:
        recording.deploy(model_id, "1", unique("svc"), flavor="ml.x9.huge")

    assert info.value.field == "flavor"
    assert "ml.x9.huge" in info.value.message
    for flavor in CPU_FLAVORS + GPU_FLAVORS:
        assert flavor in info.value.message
    assert "CreateService" not in wire.actions and set(wire.actions) == {"ListResource"}
    assert peer.store.list_services(DEFAULT_ACCOUNT_ID, {"Limit": 100})["Total"] == services_before

    # The documented defaults: ml.g1e.large, the tfserving image, one replica, no envs.
    wire.actions.clear()
    service = recording.deploy(model_id, "1", unique("svc"))
    assert wire.actions == ["ListResource", "CreateService"]  # the flavor name is resolved first
    deployment = service.refresh()["Result"]["ServiceDeployment"]
    assert deployment["FlavorID"] == "ml.g1e.large"
    assert deployment["ImageID"] == "machinelearning/tfserving:tf-cuda10.1"
    assert deployment["Replicas"] == 1 and deployment["Envs"] == []
    service.delete()


def test_a_deployed_example_predicts(embedded_peer: Peer, api: Api) -> None:
    """``predict`` on a service that really serves (the example ONNX classifier, replicas run by the
    embedded platform's supervisor), with each API: the async service reads its endpoint on the event
    loop and runs the KServe v2 call in a worker thread."""
    import numpy as np
    import onnxruntime as ort

    peer = embedded_peer.using(api)
    model = peer.model()
    model_id = model.register(str(EXAMPLE), model_name=unique("iris"), model_format="ONNX",
                              model_type="ONNX:1.23").result.model_id  # fmt: skip
    service = model.deploy(model_id, "1", unique("iris-svc"), flavor="ml.c1i.large")
    try:
        status = service.wait_for("Running", "Failed", timeout=60, interval=0.1)
        assert status == "Running", service.last.result.service_deployment.status_message
        assert service.endpoint_url and service.replicas == 1
        features = np.array([[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]], dtype=np.float32)
        session = ort.InferenceSession(str(EXAMPLE / "model.onnx"), providers=["CPUExecutionProvider"])
        (expected,) = session.run(["probabilities"], {"features": features})

        got = service.predict({"features": features.tolist()})  # lists go uncast, as the declared FP32

        np.testing.assert_allclose(got["probabilities"], expected, rtol=1e-6)
        with pytest.raises(InvalidParameterError, match="features"):
            service.predict({"features": features.astype(np.float64)})
    finally:
        service.delete()
    with pytest.raises(NotFoundError):
        model.get_service(service.service_id)
