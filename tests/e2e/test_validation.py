"""Bad input is refused before any I/O, with a message naming the argument and the allowed values;
a registration the platform refuses after the upload leaves no uploaded object behind."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlp_server.platform import DEFAULT_ACCOUNT_ID
from volcengine_ml_platform.async_session import AsyncSession
from volcengine_ml_platform.config import resolve_settings
from volcengine_ml_platform.errors import InvalidParameterError, NotFoundError, UploadWarning, ValidationError
from volcengine_ml_platform.models import validation
from volcengine_ml_platform.models.inference_service import AsyncInferenceService, InferenceService

from .helpers import MISSING_MODEL, MODEL_TENSOR_CONFIG, Peer, make_tree

FORMATS = "SavedModel, GraphDef, TorchScript, PTX, CaffeModel, NetDef, MXNetParams, Scikit_Learn, XGBoost, TensorRT, ONNX, Custom"  # noqa: E501
FRAMEWORKS = "TensorFlow, PyTorch, ONNX, Caffe, Caffe2, MXNet, TensorRT, Scikit_Learn, XGBoost, LightGBM"
CATEGORIES = "TextClassification, TabularClassification, TabularRegression, ImageClassification"
SOURCES = "TOS, Local, AutoML, Perf"
METRICS_TYPES = (
    "ImageClassification, TextClassification, TabularClassification, TabularRegression, TextEntity, Perf"
)
DTYPES = "FLOAT16, FLOAT, DOUBLE, INT8, INT16, INT32, INT64, UINT8, UINT16, UINT32, UINT64"


def tensor(shape: Any, dtype: str = "FLOAT") -> dict[str, Any]:
    return {"Inputs": [{"TensorName": "x:0", "Shape": shape, "DType": dtype}]}


def metric(**overrides: Any) -> list[dict[str, Any]]:
    item = {"MetricsType": "Perf", "Params": "{}", "MetricsData": '{"qps": 1}'}
    item.update(overrides)
    return [{k: v for k, v in item.items() if v is not None}]


PERF_SHAPE = {"MinShape": [1, 3], "MaxShape": [8, 3]}
PERF = tensor(PERF_SHAPE)

# (function, bad value, argument named, fragments the message must hold)
BAD_INPUTS: list[tuple[Any, Any, str, list[str]]] = [
    (validation.validate_local_path, None, "local_path", ["local_path is required"]),
    (validation.validate_local_path, "", "local_path", ["local_path is required"]),
    (validation.validate_local_path, 42, "local_path", ["local_path", "expected a path"]),
    (validation.validate_local_path, "/no/such/model/dir", "local_path", ["local_path", "does not exist"]),
    (validation.validate_local_path, "/dev/null", "local_path",
     ["local_path: '/dev/null' is not a regular file or a folder"]),
    (validation.validate_metrics, [], "model_metrics", ["model_metrics", "at least 1"]),
    (validation.validate_metrics, "accuracy", "model_metrics", ["model_metrics", "expected array"]),
    (validation.validate_metrics, metric(MetricsType="BLEU"), "model_metrics",
     ["model_metrics[0].MetricsType", "'BLEU'", f"allowed values: {METRICS_TYPES}"]),
    (validation.validate_metrics, metric(Params="{not json"), "model_metrics",
     ["model_metrics[0].Params", "valid JSON"]),
    (validation.validate_metrics, metric(MetricsData={"qps": 1}), "model_metrics",
     ["model_metrics[0].MetricsData"]),
    (validation.validate_metrics, metric(MetricsData=None), "model_metrics",
     ["model_metrics[0].MetricsData is required"]),
    (validation.validate_model_category, "ObjectDetection", "model_category",
     ["model_category", "'ObjectDetection'", f"allowed values: {CATEGORIES}"]),
    (validation.validate_model_tensor_config, {}, "tensor_config", ["tensor_config.Inputs is required"]),
    (validation.validate_model_tensor_config, tensor([1], "FP32"), "tensor_config",
     ["tensor_config.Inputs[0].DType", "'FP32'", f"allowed values: {DTYPES}, STRING, BOOL"]),
    (validation.validate_model_tensor_config, tensor([]), "tensor_config",
     ["tensor_config.Inputs[0].Shape", "at least 1"]),
    (validation.validate_model_tensor_config, tensor(PERF_SHAPE), "tensor_config",
     ["tensor_config.Inputs[0].Shape", "expected array"]),
    (validation.validate_perf_job_tensor_config, tensor(PERF_SHAPE, "STRING"), "tensor_config",
     ["tensor_config.Inputs[0].DType", "'STRING'", f"allowed values: {DTYPES}"]),
    (validation.validate_perf_job_tensor_config, tensor([1, 3]), "tensor_config",
     ["tensor_config.Inputs[0].Shape", "expected object"]),
    (validation.validate_perf_job_tensor_config, tensor({"MinShape": [1, 3]}), "tensor_config",
     ["tensor_config.Inputs[0].Shape.MaxShape is required"]),
    (validation.validate_perf_job_tensor_config, tensor({"MinShape": [-1, 3], "MaxShape": [8, 3]}),
     "tensor_config", ["tensor_config.Inputs[0].Shape.MinShape[0]", "-1", "minimum of 0"]),
    (validation.validate_perf_job_tensor_config, tensor({"MinShape": [8, 3], "MaxShape": [1, 3]}),
     "tensor_config", ["tensor_config.Inputs[0].Shape.MinShape: [8, 3] exceeds MaxShape [1, 3]",
                       "in dimension 0", "must be at most MaxShape's"]),
    (validation.validate_perf_job_tensor_config, tensor({"MinShape": [1], "MaxShape": [8, 3, 3]}),
     "tensor_config", ["tensor_config.Inputs[0].Shape.MinShape: [1] has 1 dimension(s)",
                       "MaxShape [8, 3, 3] has 3", "both must give every dimension"]),
    (validation.validate_source_type, "S3", "source_type",
     ["source_type", "'S3'", f"allowed values: {SOURCES}"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("check", "value", "argument", "fragments"),
    BAD_INPUTS,
    ids=[f"{c.__name__}-{i}" for i, (c, *_) in enumerate(BAD_INPUTS)],
)
def test_validation_function_names_argument_and_allowed_values(
    check: Any, value: Any, argument: str, fragments: list[str]
) -> None:
    with pytest.raises(ValidationError) as info:
        check(value)
    assert info.value.field == argument
    assert info.value.code == "InvalidParameter"
    assert isinstance(info.value, ValueError)
    for fragment in fragments:
        assert fragment in info.value.message


def test_validation_functions_accept_good_input(tmp_path: Path) -> None:
    validation.validate_local_path(str(tmp_path))
    validation.validate_local_path(tmp_path)
    validation.validate_metrics(metric())
    validation.validate_model_category(None)
    validation.validate_model_category("TabularRegression")
    validation.validate_model_tensor_config(MODEL_TENSOR_CONFIG)
    validation.validate_perf_job_tensor_config(tensor(PERF_SHAPE, "INT8"))
    validation.validate_source_type(None)
    validation.validate_source_type("AutoML")


@pytest.mark.parametrize(
    ("text", "expected"),
    [('{"a": [1, 2]}', True), ("[]", True), ("3.5", True), (b"{}", True), ("{bad", False), ("", False),
     ("NaN", False), (3, False), (None, False), ({"a": 1}, False)],
)  # fmt: skip
def test_valid_json(text: Any, expected: bool) -> None:
    assert validation.valid_json(text) is expected


def test_enum_arguments_name_allowed_values() -> None:
    for name, value, argument, allowed in [
        ("ModelFormat", "Keras", "model_format", f"allowed values: {FORMATS}"),
        ("ModelType", "Keras:2", "model_type", f"framework one of {FRAMEWORKS}"),
        ("JobType", "BENCH", "job_type", "allowed values: PERF_ONLY, CONVERT_PERF"),
        (
            "TaskStatus",
            "Done",
            "task_status",
            "Submitted, Queued, Running, Stopping, Success, Failed, Cancelled",
        ),
    ]:
        with pytest.raises(ValidationError) as info:
            validation.validate_argument(name, value, argument)
        assert info.value.field == argument
        assert info.value.message.startswith(f"{argument}: {value!r}")
        assert allowed in info.value.message


# ---- register: refused before any I/O -------------------------------------------------------------


GOOD: dict[str, Any] = {"model_name": "m", "model_format": "ONNX", "model_type": "ONNX:1.10"}
BAD_REGISTRATIONS: list[tuple[dict[str, Any], str, list[str]]] = [
    ({}, "model_name", ["model_name", "model_format", "model_type"]),
    ({"model_name": "m"}, "model_format", ["model_format, model_type"]),
    ({**GOOD, "model_format": "Keras"}, "model_format", ["'Keras'", "allowed values"]),
    ({**GOOD, "model_type": "ONNX"}, "model_type", ["'ONNX'", "<framework>:<version>"]),
    ({**GOOD, "tensor_config": tensor([1], "FP32")}, "tensor_config", ["'FP32'"]),
    ({**GOOD, "model_metrics": metric(Params="nope")}, "model_metrics", ["valid JSON"]),
    ({**GOOD, "model_category": "Cats"}, "model_category", ["'Cats'"]),
    ({**GOOD, "source_type": "FTP"}, "source_type", ["'FTP'"]),
    # Fields of the CreateModel body are named by the arguments they come from, not the wire's
    # VersionInfo.ModelTags / DatasetID / VersionInfo.Description.
    ({**GOOD, "model_tags": [{"Key": "team"}]}, "model_tags[0]", ["model_tags[0].Value is required"]),
    ({**GOOD, "model_tags": {"team": "a"}}, "model_tags", ["model_tags: expected array, got dict"]),
    ({**GOOD, "dataset_id": 7}, "dataset_id", ["dataset_id: expected string, got int"]),
    ({**GOOD, "description": 5}, "description", ["description: expected string, got int"]),
]


@pytest.mark.parametrize(
    ("arguments", "field", "fragments"), BAD_REGISTRATIONS, ids=[b[1] for b in BAD_REGISTRATIONS]
)
def test_register_refuses_bad_input_before_any_io(
    peer: Peer, tmp_path: Path, arguments: dict[str, Any], field: str, fragments: list[str]
) -> None:
    source = tmp_path / "model"
    make_tree(source, small=3)
    model, wire = peer.recording_model()
    objects_before = peer.snapshot()

    with pytest.raises(ValidationError) as info:
        model.register(str(source), **arguments)

    assert info.value.field == field
    for fragment in fragments:
        assert fragment in info.value.message
    assert wire.actions == []  # no GetTOSUploadPath, nothing at all
    assert peer.snapshot() == objects_before  # not one new file in the platform's objects folder


def test_register_new_model_names_every_missing_argument(peer: Peer, tmp_path: Path) -> None:
    model, wire = peer.recording_model()
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "w.bin").write_bytes(b"w")

    with pytest.raises(ValidationError) as info:
        model.register(str(tmp_path / "m"), model_name="only-a-name", model_type="")

    assert "needs model_format, model_type" in info.value.message
    assert wire.actions == []


def test_register_missing_local_path_touches_nothing(peer: Peer, tmp_path: Path) -> None:
    model, wire = peer.recording_model()
    with pytest.raises(ValidationError) as info:
        model.register(str(tmp_path / "absent"), **GOOD)
    assert info.value.field == "local_path" and "does not exist" in info.value.message
    assert wire.actions == []


@pytest.mark.parametrize("bad", [None, 123, ""], ids=["None", "int", "empty"])
def test_a_local_path_that_is_no_path_is_refused_before_anything_is_sent(
    peer: Peer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, bad: Any
) -> None:
    """``register`` and ``download`` name ``local_path`` (not a TypeError from ``Path(None)``); a download
    to ``""`` would have written into the current directory."""
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    model, wire = peer.recording_model()
    for call in (
        lambda: model.register(bad, **GOOD),
        lambda: model.download(MISSING_MODEL, "1", bad),
        lambda: model.download(MISSING_MODEL, "latest", bad, overwrite=True),
    ):
        with pytest.raises(ValidationError) as info:
            call()
        assert info.value.field == "local_path", info.value
    assert wire.actions == []
    assert list(cwd.iterdir()) == []


def only_checkpoints(root: Path) -> None:
    (root / "w.ckpt").write_bytes(b"w")


def only_git(root: Path) -> None:
    (root / ".git").mkdir()
    (root / ".git" / "config").write_bytes(b"[core]")
    (root / "__pycache__").mkdir()
    (root / "__pycache__" / "m.pyc").write_bytes(b"pyc")


def only_ignored(root: Path) -> None:
    only_checkpoints(root)
    (root / ".mlpignore").write_bytes(b"*.ckpt\n")


def only_a_self_link(root: Path) -> None:
    (root / "loop").symlink_to("loop")  # lists as a file name; stat fails with ELOOP


# (folder content, register arguments, fragments of the message): a folder of which no file is kept
EMPTY_SELECTIONS: dict[str, tuple[Callable[[Path], None], dict[str, Any], list[str]]] = {
    "ignore-patterns": (only_checkpoints, {"ignore_patterns": ["*.ckpt"]}, ["ignore_patterns=['*.ckpt']"]),
    "allow-patterns": (only_checkpoints, {"allow_patterns": ["*.onnx"]}, ["allow_patterns=['*.onnx']"]),
    "mlpignore": (only_ignored, {}, ["the patterns of", ".mlpignore"]),
    "git-and-pycache": (only_git, {}, ["always left out: .git/, __pycache__/, .DS_Store"]),
    "self-link": (only_a_self_link, {}, []),
}


@pytest.mark.parametrize("case", EMPTY_SELECTIONS)
def test_a_folder_the_selection_leaves_no_file_of_is_refused_before_any_request(
    peer: Peer, tmp_path: Path, case: str
) -> None:
    make, arguments, fragments = EMPTY_SELECTIONS[case]
    source = tmp_path / "model"
    source.mkdir()
    make(source)
    model, wire = peer.recording_model()
    objects_before = peer.snapshot()

    said = pytest.warns(UploadWarning, match="loop") if case == "self-link" else contextlib.nullcontext()
    with said, pytest.raises(ValidationError) as info:  # a link that leads nowhere: skipped, with a warning
        model.register(str(source), **GOOD, if_exists="new_version", **arguments)

    assert info.value.field == "local_path"
    assert info.value.message.startswith(f"local_path: {str(source)!r}: no file to register"), info.value
    for fragment in fragments:
        assert fragment in info.value.message, info.value
    assert wire.actions == []  # not even the lookup of the name
    assert peer.snapshot() == objects_before


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"# caf\xe9\n*.ckpt\n", "not UTF-8 text (byte 5)"),
        (b"*.ckpt\n!\n", "line 2: '!' is not a valid pattern"),
    ],
    ids=["not-utf8", "invalid-pattern"],
)
def test_a_bad_mlpignore_is_refused_naming_it_before_any_request(
    peer: Peer, tmp_path: Path, content: bytes, fragment: str
) -> None:
    source = tmp_path / "model"
    make_tree(source, small=2)
    (source / ".mlpignore").write_bytes(content)
    model, wire = peer.recording_model()

    with pytest.raises(ValidationError) as info:
        model.register(str(source), **GOOD)

    assert info.value.field == "ignore_patterns"
    assert info.value.message.startswith(f"{source / '.mlpignore'}"), info.value
    assert fragment in info.value.message, info.value
    assert wire.actions == []


def test_other_methods_refuse_bad_input_before_sending(peer: Peer) -> None:
    model, wire = peer.recording_model()
    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: model.update_model_version(MISSING_MODEL, "1", tensor_config=tensor([1], "BOOL8")),
         "tensor_config"),
        (lambda: model.update_model_version(MISSING_MODEL, "1", model_metrics=[]), "model_metrics"),
        (lambda: model.create_perf_job(MISSING_MODEL, "1", tensor([1, 3]), "PERF_ONLY", []), "tensor_config"),
        (lambda: model.create_perf_job(MISSING_MODEL, "1", tensor(PERF_SHAPE), "BENCH", []), "job_type"),
        (lambda: model.update_perf_task("pf-20200101000000-zzzzz", "Done"), "task_status"),
        (lambda: model.get_model_versions(MISSING_MODEL, model_version="newest"), "model_version"),
        (lambda: model.deploy(MISSING_MODEL, "1", "svc", envs=["A=1"]), "envs"),  # type: ignore[arg-type]
    ]  # fmt: skip
    for call, field in cases:
        with pytest.raises(ValidationError) as info:
            call()
        assert info.value.field == field, info.value
    assert wire.actions == []


def test_bad_arguments_are_named_as_the_caller_wrote_them_before_anything_is_sent(peer: Peer) -> None:
    """Not as the wire's field (``ServiceDeployment.Replicas``, ``ModelVersionID``): the argument, and
    for ``deploy`` before its ListResource."""
    model, wire = peer.recording_model()
    cases: list[tuple[Callable[[], object], str, str]] = [
        (lambda: model.deploy(MISSING_MODEL, "1", "svc", flavor="ml.c1i.large", replica=0), "replica",
         "replica: 0 is less than the minimum of 1"),
        (lambda: model.deploy(MISSING_MODEL, "1", "svc", replica="2"), "replica",  # type: ignore[arg-type]
         "replica: expected integer, got str"),
        (lambda: model.deploy(MISSING_MODEL, "1", ""), "service_name", "service_name: '' should be"),
        (lambda: model.deploy(MISSING_MODEL, "1", "svc", image_id=""), "image_id", "image_id: '' should be"),
        (lambda: model.update_model_version(MISSING_MODEL, "1", description=5), "description",  # type: ignore[arg-type]
         "description: expected string, got int"),
        (lambda: model.update_model(MISSING_MODEL, model_name=""), "model_name", "model_name: '' should be"),
        (lambda: model.get_model("m-1"), "model_id",
         "model_id: 'm-1' is not valid; expected a model ID: m-{yyyymmddHHMMSS}-{5 lowercase letters"),
        # IDs say what a valid one looks like, not the pattern's regex
        (lambda: model.list_perf_tasks(job_id="pj-1"), "job_id",
         "job_id: 'pj-1' is not valid; expected a perf job ID: pj-{yyyymmddHHMMSS}-"),
        (lambda: model.cancel_perf_task("pf-1"), "task_id",
         "task_id: 'pf-1' is not valid; expected a perf task ID"),
        (lambda: model.list_perf_jobs(job_id="x"), "job_id",
         "job_id: 'x' is not valid; expected a perf job ID"),
        (lambda: model.get_service("s 1"), "service_id",
         "service_id: 's 1' is not valid; expected a service ID"),
        (lambda: model.get_model_version("m-1", "2"), "model_id", "model_id: 'm-1' is not valid"),
        (lambda: model.unregister_all_versions("abc"), "model_id", "model_id: 'abc' is not valid"),
        (lambda: model.get_model_versions("bad"), "model_id", "model_id: 'bad' is not valid"),
        (lambda: model.iter_model_versions("bad").__next__(), "model_id", "model_id: 'bad' is not valid"),
        (lambda: model.list_perf_jobs(model_id=MISSING_MODEL, model_version="abc"), "model_version",
         "model_version: 'abc' is not a version"),
        (lambda: model.list_models(model_name_contains=5), "model_name_contains",  # type: ignore[arg-type]
         "model_name_contains: expected string, got int"),
        (lambda: model.list_models(id_contains=5), "id_contains",  # type: ignore[arg-type]
         "id_contains: expected string, got int"),
        (lambda: model.find_models(5), "model_name", "model_name: expected a model name"),  # type: ignore[arg-type]
        (lambda: model.create_perf_job(MISSING_MODEL, "1", PERF, "PERF_ONLY", [{}]), "job_params[0]",
         "job_params[0].FlavorIDList is required"),
        (lambda: model.create_perf_job(MISSING_MODEL, "1", PERF, "PERF_ONLY", "x"), "job_params",  # type: ignore[arg-type]
         "job_params: expected array, got str"),
        (lambda: model.list_resources(name_contains=5), "name_contains",  # type: ignore[arg-type]
         "name_contains: expected string, got int"),
        (lambda: model.list_services(service_name_contains=5), "service_name_contains",  # type: ignore[arg-type]
         "service_name_contains: expected string, got int"),
        (lambda: model.update_model_version(MISSING_MODEL, "1", model_metrics="x"), "model_metrics",  # type: ignore[arg-type]
         "model_metrics: expected array"),
    ]  # fmt: skip
    for call, field, message in cases:
        with pytest.raises(ValidationError) as info:
            call()
        assert info.value.field == field and info.value.message.startswith(message), info.value
        assert "[0-9]" not in info.value.message, info.value
    assert wire.actions == []


# ---- a registration refused after the upload -------------------------------------------------------


def test_failed_create_model_removes_what_was_uploaded(any_peer: Peer, tmp_path: Path) -> None:
    source = tmp_path / "orphan"
    make_tree(source, small=20)
    model, wire = any_peer.recording_model()
    # A model whose only version is gone: a new version without ModelFormat/ModelType has nothing to
    # inherit them from, which only the platform knows (the client checks that the model exists).
    (tmp_path / "first").mkdir()
    (tmp_path / "first" / "w.bin").write_bytes(b"w")
    empty = model.register(str(tmp_path / "first"), **GOOD).result.model_id
    model.unregister(empty, "1")
    wire.actions.clear()
    objects_before = any_peer.object_keys()
    everything_before = [name for name in any_peer.snapshot() if "/.locks/" not in f"/{name}"]

    with pytest.raises(InvalidParameterError) as info:
        model.register(str(source), model_id=empty, description="nothing to inherit the format from")

    assert info.value.code == "InvalidParameter" and "ModelFormat" in info.value.message
    # It checked the model, uploaded (the store's scoped credentials, on S3, were fetched by the first
    # registration and are still fresh), then CreateModel failed.
    assert wire.actions == ["GetModel", "GetTOSUploadPath", "CreateModel"]
    assert any_peer.object_keys() == objects_before
    # No object, sidecar or temporary file either (lock files stay: they are the store's own).
    assert [name for name in any_peer.snapshot() if "/.locks/" not in f"/{name}"] == everything_before


# ---- text the wire cannot carry; None where an ID is required ---------------------------------------

# (register arguments, argument named): a NUL character or a lone surrogate cannot be stored by the
# platform (NUL) or encoded as UTF-8 at all (surrogate); both are refused before the upload, not by a
# 400 (NUL) or a UnicodeEncodeError (surrogate, which left the upload behind) after it.
UNSENDABLE_REGISTRATIONS: list[tuple[dict[str, Any], str]] = [
    ({**GOOD, "description": "a\x00b"}, "description"),
    ({**GOOD, "description": "a\ud800b"}, "description"),
    ({**GOOD, "model_name": "m\udcff"}, "model_name"),
    ({**GOOD, "model_tags": [{"Key": "team", "Value": "\x00"}]}, "model_tags[0].Value"),
    ({**GOOD, "model_tags": [{"Key": "t\ud83d", "Value": "a"}]}, "model_tags[0].Key"),
    ({**GOOD, "dataset_id": "d\ud800"}, "dataset_id"),
]


def test_text_the_wire_cannot_carry_is_refused_before_any_io(peer: Peer, tmp_path: Path) -> None:
    source = tmp_path / "model"
    make_tree(source, small=3)
    model, wire = peer.recording_model()
    objects_before = peer.snapshot()
    cases: list[tuple[Callable[[], object], str]] = [
        *((lambda a=arguments: model.register(str(source), **a), field)
          for arguments, field in UNSENDABLE_REGISTRATIONS),
        (lambda: model.update_model(MISSING_MODEL, model_name="n\ud800"), "model_name"),
        (lambda: model.update_model_version(MISSING_MODEL, "1", description="\x00"), "description"),
        (lambda: model.list_models(model_name_contains="\ud800"), "model_name_contains"),
        (lambda: model.deploy(MISSING_MODEL, "1", "svc", description="d\ud800"), "description"),
    ]  # fmt: skip
    for call, field in cases:
        with pytest.raises(ValidationError) as info:
            call()
        assert info.value.field == field, info.value
        assert info.value.message.startswith(f"{field}: "), info.value
        assert "NUL character" in info.value.message or "lone surrogate" in info.value.message
    assert wire.actions == []  # no GetTOSUploadPath, no upload, nothing at all
    assert peer.snapshot() == objects_before


def test_inner_register_refuses_text_the_wire_cannot_carry_before_any_io(peer: Peer, tmp_path: Path) -> None:
    source = tmp_path / "model"
    make_tree(source, small=2)
    objects_before = peer.snapshot()
    inner = peer.inner(DEFAULT_ACCOUNT_ID, 1)
    with pytest.raises(ValidationError) as info:
        inner.register(str(source), **GOOD, description="\udcff")
    assert info.value.field == "description", info.value
    assert peer.snapshot() == objects_before


def test_none_where_an_id_is_required_is_named_as_the_argument(peer: Peer, tmp_path: Path) -> None:
    """Not as the wire field it would have filled (``ModelID``, ``ModelVersionID: 'None-1'``,
    ``ServiceDeployment.Model.ModelID``, ``JobID``, ``TaskID``)."""
    model, wire = peer.recording_model()
    cases: list[tuple[Callable[[], object], str]] = [
        (lambda: model.get_model(None), "model_id"),  # type: ignore[arg-type]
        (lambda: model.get_model_version(None, "1"), "model_id"),  # type: ignore[arg-type]
        (lambda: model.get_model_versions(None), "model_id"),  # type: ignore[arg-type]
        (lambda: model.unregister(None, "1"), "model_id"),  # type: ignore[arg-type]
        (lambda: model.unregister_all_versions(None), "model_id"),  # type: ignore[arg-type]
        (lambda: model.update_model(None, "x"), "model_id"),  # type: ignore[arg-type]
        (lambda: model.update_model_version(None, "1"), "model_id"),  # type: ignore[arg-type]
        (lambda: model.download(None, "1", str(tmp_path / "d")), "model_id"),  # type: ignore[arg-type]
        (lambda: model.deploy(None, "1", "svc"), "model_id"),  # type: ignore[arg-type]
        (lambda: model.create_perf_job(None, "1", PERF, "PERF_ONLY", []), "model_id"),  # type: ignore[arg-type]
        (lambda: model.cancel_perf_job(None), "job_id"),  # type: ignore[arg-type]
        (lambda: model.calcel_perf_task(None), "task_id"),  # type: ignore[arg-type]
        (lambda: model.update_perf_task(None, "Running"), "task_id"),  # type: ignore[arg-type]
        (lambda: model.get_service(None), "service_id"),  # type: ignore[arg-type]
        # It listed every job, waited for the newest one and returned the tasks of all jobs.
        (lambda: model.wait_perf_job(None), "job_id"),  # type: ignore[arg-type]
    ]  # fmt: skip
    for call, field in cases:
        with pytest.raises(ValidationError) as info:
            call()
        assert info.value.field == field, info.value
        assert info.value.message.startswith(f"{field}: "), info.value
        assert "None" in info.value.message and "None-1" not in info.value.message, info.value
    assert wire.actions == []
    assert not (tmp_path / "d").exists()
    inner = peer.inner(DEFAULT_ACCOUNT_ID, 1)
    with pytest.raises(ValidationError) as info:
        inner.get_model_version(None, "1")  # type: ignore[arg-type]
    assert info.value.field == "model_id", info.value


def test_a_local_path_that_is_no_file_or_folder_is_refused_by_name_before_any_request(
    peer: Peer, tmp_path: Path
) -> None:
    """A FIFO (or a device, a socket) exists but cannot be uploaded: a ValidationError naming
    ``local_path``, not a TransferError saying it does not exist."""
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    model, wire = peer.recording_model()
    inner = peer.inner(DEFAULT_ACCOUNT_ID, 1)
    for call in (
        lambda: model.register(str(fifo), **GOOD),
        lambda: inner.register(str(fifo), **GOOD),
        lambda: inner.upload_tos(str(fifo)),
    ):
        with pytest.raises(ValidationError) as info:
            call()
        assert info.value.field == "local_path", info.value
        assert "is not a regular file or a folder" in info.value.message, info.value
    assert wire.actions == []


# ---- InferenceService.wait_for: what to wait for ----------------------------------------------------

MISSING_SERVICE = "s-20200101000000-zzzzz"
SERVICE_STATUSES = "Pending, Deploying, Running, Stopping, Stopped, Failed"
# (statuses, keyword arguments, argument named, fragment): each of these waited the whole timeout
# (300 s by default: a status that never matches) or polled without pause, instead of being refused.
BAD_WAITS: list[tuple[tuple[Any, ...], dict[str, Any], str, str]] = [
    (("running",), {}, "statuses", f"'running' is not allowed; allowed values: {SERVICE_STATUSES}"),
    (("Ready",), {}, "statuses", f"allowed values: {SERVICE_STATUSES}"),
    ((["Running", "Failed"],), {}, "statuses", "expected string, got list"),
    ((), {}, "statuses", f"name at least one status to wait for: {SERVICE_STATUSES}"),
    (("Running",), {"interval": 0}, "interval", "interval: 0 is not a number of seconds above 0"),
    (("Running",), {"timeout": -1}, "timeout", "timeout: -1 is not a number of seconds of at least 0"),
    (("Running",), {"timeout": "60"}, "timeout", "timeout: '60' is not a number of seconds"),
]


@pytest.mark.parametrize(("statuses", "kwargs", "field", "fragment"), BAD_WAITS)
def test_wait_for_refuses_what_can_never_be_waited_for_before_any_request(
    embedded_peer: Peer, statuses: tuple[Any, ...], kwargs: dict[str, Any], field: str, fragment: str
) -> None:
    """Checked before the first GetService: the service need not exist (it does not here)."""
    model, wire = embedded_peer.recording_model()
    service = InferenceService(model.session, MISSING_SERVICE)
    with pytest.raises(ValidationError) as info:
        service.wait_for(*statuses, **kwargs)
    assert info.value.field == field, info.value
    assert fragment in info.value.message, info.value

    async def wait_async() -> None:
        session = AsyncSession(resolve_settings(data_dir=embedded_peer.data_dir))
        try:
            await AsyncInferenceService(session, MISSING_SERVICE).wait_for(*statuses, **kwargs)
        finally:
            await session.aclose()

    with pytest.raises(ValidationError) as info:
        asyncio.run(wait_async())
    assert info.value.field == field, info.value
    assert wire.actions == []


@pytest.mark.parametrize(
    ("kwargs", "field", "fragment"),
    [
        ({"timeout": -1}, "timeout", "timeout: -1 is not a number of seconds of at least 0"),
        ({"timeout": float("nan")}, "timeout", "timeout: nan is not a number of seconds"),  # waited forever
        ({"timeout": "60"}, "timeout", "timeout: '60' is not a number of seconds"),
        ({"poll_interval": 0}, "poll_interval", "poll_interval: 0 is not a number of seconds above 0"),
    ],
)
def test_wait_perf_job_names_the_bad_duration_before_any_request(
    embedded_peer: Peer, kwargs: dict[str, Any], field: str, fragment: str
) -> None:
    model, wire = embedded_peer.recording_model()
    with pytest.raises(ValidationError) as info:
        model.wait_perf_job("pj-20200101000000-zzzzz", **kwargs)
    assert info.value.field == field, info.value
    assert fragment in info.value.message, info.value
    assert wire.actions == []


def test_numpy_durations_are_seconds_too(embedded_peer: Peer) -> None:
    """A timeout or interval computed with numpy (an integer or float scalar) is a number of seconds,
    as it was before durations were checked: the wait asks the platform, whose answer is NotFound."""
    model, wire = embedded_peer.recording_model()
    with pytest.raises(NotFoundError):
        model.wait_perf_job("pj-20200101000000-zzzzz", timeout=np.int64(60), poll_interval=np.float32(0.5))
    with pytest.raises(NotFoundError):
        InferenceService(model.session, MISSING_SERVICE).wait_for(
            "Running", timeout=np.int32(60), interval=np.int64(1)
        )
    assert wire.actions == ["ListPerfJobs", "GetService"]
    with pytest.raises(ValidationError) as info:
        model.wait_perf_job("pj-20200101000000-zzzzz", timeout=np.bool_(True))
    assert info.value.field == "timeout"


def test_numpy_integers_are_integer_arguments_too(embedded_peer: Peer) -> None:
    """An offset or page size computed with numpy (``np.int64``, as ML code has them) is that integer,
    as the SDK's ``int`` fields took it (it was refused: "expected integer, got int64"); a numpy bool
    or float is not an integer, and is refused by the argument's name before any request."""
    model, wire = embedded_peer.recording_model()
    plain = model.list_models(offset=0, page_size=3).result
    computed = model.list_models(offset=np.int64(0), page_size=np.int32(3)).result
    assert (computed.total, computed.list_) == (plain.total, plain.list_)
    services = model.list_services(offset=np.int64(0), page_size=np.int16(5)).result
    assert services.total == model.list_services(offset=0, page_size=5).result.total
    assert wire.actions == ["ListModels", "ListModels", "ListServices", "ListServices"]
    for argument, value in (("offset", np.bool_(False)), ("page_size", np.float64(3.0))):
        with pytest.raises(ValidationError) as info:
            model.list_models(**{argument: value})
        assert info.value.field == argument
    assert len(wire.actions) == 4
