"""Hooks for ``st run openapi/ml_platform-2021-07-01.yaml --url http://127.0.0.1:PORT`` against a local
platform (``mlp serve``); ``schemathesis.toml`` loads this module. It knows only the document and a
request signer, as an outside user's contract test would: no project code is imported.

Credentials come from the environment: ``VOLC_ACCESSKEY`` / ``VOLC_SECRETKEY`` (administrator keys of the
platform, e.g. the default account's from ``<data dir>/credentials.json``), ``VOLC_REGION`` (default
``cn-beijing``), and for the inner door the account and user its tokens act for, ``VOLC_ACCOUNT_ID``
(default 2100000001, the platform's default account) and ``VOLC_USER_ID`` (default 1); with an
S3-compatible store, ``VOLC_TOS_REGION`` (default ``VOLC_REGION``) is the region its uploads are signed for.

- Open door: each request is signed with the official ``volcengine`` package's SignerV4, over the exact
  body bytes sent, service ``ml_platform``.
- Inner door: the ``Token`` query parameter becomes a real secure token from AdminGetSecureToken.
- Both through a schemathesis auth provider: schemathesis leaves out the cases whose credentials are
  meant to be invalid, and its "ignored auth" probes strip these credentials, so those reach the server
  unsigned (or with a bad token) and must be refused.
- Valid bodies follow ``x-required-without-ModelID`` (see ``map_case``), and a perf job's shape ranges
  are ranges (MinShape at most MaxShape, the same length), as PerfTensorShape's description says.
- ``format: json-string`` (the document's strings holding JSON, ``x-content-media-type:
  application/json``) gets a strategy of valid JSON text.
- Live objects: a valid CreateModel / InnerCreateModel registers a real upload (``before_call``:
  GetTOSUploadPath, then one small file put where its ``Endpoint`` says, see ``upload_model``); a
  valid CreatePerfJob names flavors the platform has (ListResource); a valid CreateService deploys the
  latest version made, with one replica (``_real_service``); and every id a valid case names (a
  ModelID, ModelVersionID, JobID, TaskID, ServiceID, InnerCreateModel's SourceId and
  BaseModelVersionID, AdminGetSecureToken's AccountId) becomes the latest live object of its kind the
  run made (``FED``: the tasks of each perf job made are asked with ListPerfTasks), unless the run
  made it (the stateful phase's links, schemathesis's reuse of ids it was answered) or the case is a
  coverage case about that very field (its boundary values name nothing: 404). So the valid cases of
  every phase reach objects that exist, and the stateful phase's links (``$response.body#/Result/
  ModelID`` ...) lead to them. A Path schemathesis reuses from an earlier case is sent as it is: a
  resend (the same version), or the Path of a deleted version (404).
- A valid case is one whose every part is valid, sent as a POST of JSON (the coverage phase's probes of
  other methods and content types, answered 405/415, change nothing here).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import threading
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qsl, urlsplit
from urllib.request import url2pathname

import requests
import schemathesis
from hypothesis import strategies as st
from schemathesis.core.parameters import ParameterLocation
from volcengine.auth.SignerV4 import SignerV4  # type: ignore[import-untyped]
from volcengine.base.Request import Request  # type: ignore[import-untyped]
from volcengine.Credentials import Credentials  # type: ignore[import-untyped]

SERVICE = "ml_platform"


def _env(name: str, default: str | None = None) -> str:
    value = os.environ.get(name, default)
    if not value:
        raise RuntimeError(f"schemathesis_hooks: set {name} (the platform's administrator keys)")
    return value


def _json_text() -> st.SearchStrategy[str]:
    scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False)
    values = st.recursive(
        scalars | st.text(max_size=8),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
        max_leaves=6,
    )
    return values.map(lambda value: json.dumps(value, ensure_ascii=False))


schemathesis.openapi.format("json-string", _json_text())


def _credentials() -> Credentials:
    return Credentials(
        _env("VOLC_ACCESSKEY"), _env("VOLC_SECRETKEY"), SERVICE, os.environ.get("VOLC_REGION") or "cn-beijing"
    )


def sign(prepared: requests.PreparedRequest) -> None:
    """Sign a prepared request in place with SignerV4, as the Volcengine SDK signs its calls."""
    assert prepared.url is not None and prepared.method is not None
    parts = urlsplit(prepared.url)
    raw: Any = prepared.body or b""
    request = Request()
    request.set_method(prepared.method)
    request.set_host(parts.netloc)
    request.set_path(parts.path or "/")
    request.set_query(dict(parse_qsl(parts.query, keep_blank_values=True)))
    headers = {name: value for name, value in prepared.headers.items() if name.lower() != "authorization"}
    headers["Host"] = parts.netloc
    request.set_headers(headers)
    request.set_body(raw if isinstance(raw, bytes) else str(raw).encode("utf-8"))
    SignerV4.sign(request, _credentials())
    prepared.headers.update(request.headers)


_tokens: dict[str, str] = {}


def token_for(origin: str) -> str:
    """A secure token for the inner door of ``origin`` (scheme://host:port), issued once per run."""
    if origin not in _tokens:
        body = {
            "TimeToLive": 43200,
            "AccountId": int(os.environ.get("VOLC_ACCOUNT_ID") or 2100000001),
            "UserId": int(os.environ.get("VOLC_USER_ID") or 1),
        }
        _tokens[origin] = open_door(origin, "AdminGetSecureToken", body)["Token"]
    return _tokens[origin]


_session = requests.Session()


def _result(prepared: requests.PreparedRequest, action: str) -> dict[str, Any]:
    response = _session.send(prepared, timeout=30)
    if response.status_code != 200:
        raise RuntimeError(f"schemathesis_hooks: {action} failed ({response.status_code}): {response.text}")
    result: dict[str, Any] = response.json()["Result"]
    return result


def open_door(origin: str, action: str, body: dict[str, Any]) -> dict[str, Any]:
    """The ``Result`` of one signed open-door call (any answer but 200 raises)."""
    prepared = requests.Request(
        "POST",
        f"{origin}/?Action={action}&Version=2021-07-01",
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    ).prepare()
    sign(prepared)
    return _result(prepared, action)


def inner_door(origin: str, action: str, body: dict[str, Any]) -> dict[str, Any]:
    """The ``Result`` of one inner-door call with this run's secure token (any answer but 200 raises)."""
    region = os.environ.get("VOLC_REGION") or "cn-beijing"
    prepared = requests.Request(
        "POST",
        f"{origin}/ml-platform/{region}/api/{action}",
        params={"Token": token_for(origin)},
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json"},
    ).prepare()
    return _result(prepared, action)


MODEL_FILE = "model.onnx"
MODEL_BYTES = b"schemathesis st run: a model file\n"
_uploads: set[str] = set()


def upload_model(origin: str, *, inner: bool) -> str | None:
    """A fresh upload Path holding one small file, made as a client makes one before CreateModel:
    GetTOSUploadPath (InnerGetTOSUploadPath on the inner door), then the file put at
    ``{Bucket}/{KeyPrefix}model.onnx`` in the store the answer's ``Endpoint`` names. A local platform's
    folder store (``file://``) is written directly on disk, as the document says its clients do; an
    S3-compatible store gets a plain boto3 PUT with the account's GetSTSToken credentials. None when
    the answer names no store (the real service): the case then keeps its generated Path."""
    door = inner_door if inner else open_door
    action = "InnerGetTOSUploadPath" if inner else "GetTOSUploadPath"
    where = door(origin, action, {"ServiceName": "modelrepo"})
    bucket, prefix, endpoint = where["Bucket"], where["KeyPrefix"], where.get("Endpoint") or ""
    key = f"{prefix}{MODEL_FILE}"
    if endpoint.startswith("file://"):
        target = Path(url2pathname(urlsplit(endpoint).path), bucket, key)
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("xb") as file:  # a fresh prefix: never someone else's file
            file.write(MODEL_BYTES)
    elif endpoint.startswith(("http://", "https://")):
        import boto3
        from botocore.config import Config

        keys = door(origin, "GetSTSToken", {"Duration": 900})
        s3 = boto3.client(
            "s3",
            endpoint_url=keys.get("Endpoint") or endpoint,
            aws_access_key_id=keys["AccessKeyId"],
            aws_secret_access_key=keys["SecretAccessKey"],
            aws_session_token=keys.get("SessionToken") or None,
            region_name=os.environ.get("VOLC_TOS_REGION") or os.environ.get("VOLC_REGION") or "cn-beijing",
            config=Config(s3={"addressing_style": "path"}),
        )
        s3.put_object(Bucket=bucket, Key=key, Body=MODEL_BYTES)
    else:
        return None
    path = f"tos://{bucket}/{prefix}"
    _uploads.add(path)
    return path


SIGN_AT_SEND = "SignerV4 (signed when sent)"


def _origin(case: schemathesis.Case[Any]) -> str:
    parts = urlsplit(case.operation.base_url or "")
    return f"{parts.scheme}://{parts.netloc}"


def _inner(case: schemathesis.Case[Any]) -> bool:
    return str(case.operation.path).startswith("/ml-platform/")


def _served_region(case: schemathesis.Case[Any]) -> None:
    """The inner door's region is the one the platform serves (``VOLC_REGION``, default ``cn-beijing``):
    any other, schema-valid or not, is refused naming it. Left alone where the path is the invalid part."""
    meta = case.meta
    if "region" in (case.path_parameters or {}) and not (
        meta and meta.is_negative_at(ParameterLocation.PATH)
    ):
        case.path_parameters["region"] = os.environ.get("VOLC_REGION") or "cn-beijing"


@schemathesis.auth(refresh_interval=None)  # the door decides: never reuse one door's credential on the other
class VolcCredentials:
    """Real credentials: a token in the inner door's Token, a marker in the open door's Authorization
    that ``before_call`` turns into a signature."""

    def get(self, case: schemathesis.Case[Any], context: Any) -> str:
        # Schemathesis itself leaves out cases whose credentials are the part meant to be invalid.
        return token_for(_origin(case)) if _inner(case) else SIGN_AT_SEND

    def set(self, case: schemathesis.Case[Any], data: str, context: Any) -> None:
        if _inner(case):
            case.query = {**(case.query or {}), "Token": data}
            _served_region(case)
        else:
            case.headers["Authorization"] = data


class _SignAtSend(requests.auth.AuthBase):
    def __call__(self, prepared: requests.PreparedRequest) -> requests.PreparedRequest:
        if prepared.headers.get("Authorization") == SIGN_AT_SEND:
            sign(prepared)
        return prepared


@schemathesis.hook
def before_call(context: Any, case: schemathesis.Case[Any], kwargs: dict[str, Any]) -> None:
    # The signature covers the exact body bytes, so it is made on the prepared request.
    kwargs["auth"] = _SignAtSend()
    _real_upload(case)
    _real_flavors(case)
    with _state:
        _real_service(case)
        _feed_live_ids(case)
        _nothing_to_inherit(case)


_state = threading.Lock()  # guards the run's live objects below (`st run --workers N` calls from N threads)
_made: dict[str, str] = {}  # ModelVersionID -> ModelID: the versions this run registered and did not delete
_models: dict[str, None] = {}  # the models this run made and did not delete
_jobs: dict[str, None] = {}  # the perf jobs this run made, in order
_tasks: dict[str, tuple[str, str]] = {}  # TaskID -> (JobID, ModelVersionID): the perf tasks of those jobs
_touched: set[str] = set()  # the tasks a call may have moved (UpdatePerfTask, CancelPerfTask, CancelPerfJob)
_live_services: dict[str, None] = {}  # the services this run made and did not delete, in order
_ever: set[str] = set()  # every id above the run made, deleted or not
# The phases whose valid CreateService deploys one of them, how many the coverage phase deploys (its
# first valid cases: so that its service actions reach a live one), and how many services the run
# deploys at most: each replica is a process of the platform's machine.
SERVICE_PHASES = ("coverage", "fuzzing", "stateful")
COVERAGE_SERVICES = 2
MAX_SERVICES = 10
# The fields of a valid case that name an object, and the kind of object the run made that they get.
# Every phase but a case the run's own answers filled in (the stateful phase's links: an id the run
# made, live or deleted, is sent as it is) and a coverage case about that very field (its boundary
# values, which name nothing: 404).
FED: dict[str, tuple[tuple[str, str], ...]] = {
    **{a: (("ModelID", "model"),) for a in ("GetModel", "UpdateModel", "ListModelVersions", "DeleteModel")},
    "GetModelNextVersion": (("ModelID", "model"),),
    **{
        a: (("ModelVersionID", "version"),)
        for a in ("GetModelVersion", "UpdateModelVersion", "CreatePerfJob", "DeleteModelVersion")
    },
    **{a: (("ModelVersionID", "version"),) for a in ("InnerGetModelVersion", "InnerUpdateModelVersion")},
    "CreateModel": (("ModelID", "model"),),
    # SourceId: one of the run's perf tasks, of a live version; BaseModelVersionID: that task's version
    # (the document: the source must be a task of the base), else the latest version.
    "InnerCreateModel": (
        ("ModelID", "model"),
        ("VersionInfo.SourceId", "task"),
        ("VersionInfo.BaseModelVersionID", "version"),
    ),
    "ListPerfTasks": (("JobID", "job"),),
    "CancelPerfJob": (("JobID", "fresh job"),),
    **{a: (("TaskID", "fresh task"),) for a in ("UpdatePerfTask", "CancelPerfTask")},
    **{
        a: (("ServiceID", "service"),) for a in ("GetService", "StartService", "StopService", "UpdateService")
    },
    "DeleteService": (("ServiceID", "spare service"),),
    "AdminGetSecureToken": (("AccountId", "account"),),
}
# Optional fields the fuzzing phase's valid cases get even when they leave them out, so that it names
# real objects there too (the coverage phase's cases leave them out; elsewhere null means absent).
FUZZING_FILLS = {
    "ListPerfTasks": ("JobID",),
    "GetModelNextVersion": ("ModelID",),
    "InnerCreateModel": ("VersionInfo.SourceId", "VersionInfo.BaseModelVersionID"),
}
# A fed UpdateService scales to at most this many replicas (processes, as for MAX_SERVICES).
MAX_SCALE = 2


def _account_id() -> int:
    return int(os.environ.get("VOLC_ACCOUNT_ID") or 2100000001)


def _fresh_tasks() -> list[str]:
    return [task for task, (job, _) in _tasks.items() if task not in _touched and job in _jobs]


def _latest(kind: str, source: str | None = None) -> str | int | None:
    """The latest live object of ``kind`` the run made, None when there is none. A "fresh" task or job
    is one no call has moved yet (each fed state change takes a new one, so that its valid cases test
    the transitions from Submitted, not from wherever an earlier case left it)."""
    if kind == "account":
        return _account_id()
    if kind == "version" and source is not None:
        return _tasks[source][1] if source in _tasks else None
    if kind in ("model", "version") and _made:
        version_id = next(reversed(_made))
        return _made[version_id] if kind == "model" else version_id
    if kind == "task":  # of a live version when there is one: it can be a BaseModelVersionID too
        of_live = [task for task, (_, version) in _tasks.items() if version in _made]
        return of_live[-1] if of_live else next(reversed(_tasks), None)
    if kind == "fresh task":
        fresh = _fresh_tasks()
        return fresh[-1] if fresh else next(reversed(_tasks), None)
    if kind == "fresh job":
        spent = {_tasks[task][0] for task in _touched if task in _tasks}
        return next((job for job in reversed(_jobs) if job not in spent), next(reversed(_jobs), None))
    if kind == "spare service":  # never the last one: the service actions after it need one
        return next(reversed(_live_services)) if len(_live_services) > 1 else None
    live = {"job": _jobs, "service": _live_services}.get(kind)
    return next(reversed(live)) if live else None


def _varied(case: schemathesis.Case[Any]) -> str | None:
    """The body field a coverage case is about (``VersionInfo.SourceId``), from its description
    ("Object with valid 'VersionInfo' value: Object with valid 'SourceId' value: Minimum length
    string"); None for other phases."""
    meta = case.meta
    if meta is None or meta.phase.name != "coverage":
        return None
    names = re.findall(r"valid '([^']+)' value", getattr(meta.phase.data, "description", None) or "")
    return ".".join(names) or None


def _feed_live_ids(case: schemathesis.Case[Any]) -> None:
    body = cast(Any, case.body)
    operation = case.operation.definition.raw.get("operationId", "")
    fed = FED.get(operation)
    if fed is None or not _positive(case) or not isinstance(body, dict):
        return
    varied = _varied(case)
    phase = case.meta.phase.name if case.meta is not None else None
    source: str | None = None
    for dotted, kind in fed:
        *parents, name = dotted.split(".")
        container = body.get(parents[0]) if parents else body
        if not isinstance(container, dict):
            continue
        value = container.get(name)
        if value is None and phase == "fuzzing" and dotted in FUZZING_FILLS.get(operation, ()):
            value = ""  # fed below
        if not isinstance(value, (str, int)) or value in _ever or value == _account_id() or dotted == varied:
            if name == "SourceId" and isinstance(value, str) and value in _tasks:
                source = value
            continue  # absent (null means absent), the run's own, or the value the case is about
        fresh = _latest(kind, source if name == "BaseModelVersionID" else None)
        if fresh is None:
            continue
        container[name] = fresh
        if kind in ("fresh task", "fresh job"):
            _touch(cast(str, fresh), job=kind == "fresh job")
        if name == "SourceId":
            source = cast(str, fresh)
    replicas, service = body.get("Replicas"), body.get("ServiceID")
    live_service = isinstance(service, str) and service in _ever
    if operation == "UpdateService" and isinstance(replicas, int) and live_service:
        body["Replicas"] = min(replicas, MAX_SCALE)


def _touch(task_or_job: str, *, job: bool = False) -> None:
    if job:
        _touched.update(task for task, (of, _) in _tasks.items() if of == task_or_job)
    else:
        _touched.add(task_or_job)


@schemathesis.hook
def after_call(context: Any, case: schemathesis.Case[Any], response: Any) -> None:
    """Keeps the run's live objects up to date from the answers: what was made, what was deleted, and
    the tasks of each perf job made (asked with ListPerfTasks: CreatePerfJob answers only the job)."""
    body: Any = case.body
    operation = case.operation.definition.raw.get("operationId")
    if response.status_code != 200 or not isinstance(body, dict):
        return
    tasks: list[dict[str, Any]] = []
    if operation == "CreatePerfJob":
        tasks = tasks_of(_origin(case), response.json()["Result"]["JobID"])
    with _state:
        _record(operation, body, response)
        for task in tasks:
            _tasks[task["TaskID"]] = (task["JobID"], task["ModelVersionID"])
            _ever.add(task["TaskID"])


def tasks_of(origin: str, job_id: str) -> list[dict[str, Any]]:
    """Every task of a perf job (ListPerfTasks, page by page)."""
    tasks: list[dict[str, Any]] = []
    while True:
        page = open_door(origin, "ListPerfTasks", {"JobID": job_id, "Offset": len(tasks), "Limit": 100})
        tasks += page["List"]
        if not page["List"] or len(tasks) >= page["Total"]:
            return tasks


def _record(operation: Any, body: dict[str, Any], response: Any) -> None:
    if operation in ("CreateModel", "InnerCreateModel"):
        result = response.json()["Result"]
        _made[result["VersionInfo"]["ModelVersionID"]] = result["ModelID"]
        _models[result["ModelID"]] = None
        _ever.update((result["VersionInfo"]["ModelVersionID"], result["ModelID"]))
    elif operation == "DeleteModelVersion":
        _made.pop(body["ModelVersionID"], None)
    elif operation == "DeleteModel":
        _models.pop(body["ModelID"], None)
        for version_id in [v for v, m in _made.items() if m == body["ModelID"]]:
            del _made[version_id]
    elif operation == "CreatePerfJob":
        _jobs[response.json()["Result"]["JobID"]] = None
        _ever.add(response.json()["Result"]["JobID"])
    elif operation in ("UpdatePerfTask", "CancelPerfTask"):
        _touch(body["TaskID"])
    elif operation == "CancelPerfJob":
        _touch(body["JobID"], job=True)
    elif operation == "CreateService":
        _live_services[response.json()["Result"]["ServiceID"]] = None
        _ever.add(response.json()["Result"]["ServiceID"])
    elif operation == "DeleteService":
        _live_services.pop(body["ServiceID"], None)


def _nothing_to_inherit(case: schemathesis.Case[Any]) -> None:
    """A valid new version of a model whose versions were all deleted names its ModelFormat and
    ModelType: the document requires them then (there is no latest version to inherit them from, 400
    otherwise), which a schema cannot say. Known for the models this run made."""
    if case.operation.definition.raw.get("operationId") not in ("CreateModel", "InnerCreateModel"):
        return
    body = cast(Any, case.body)
    info = body.get("VersionInfo") if isinstance(body, dict) else None
    model_id = body.get("ModelID") if isinstance(body, dict) else None
    if not _positive(case) or not isinstance(info, dict) or not isinstance(model_id, str):
        return
    if model_id in _models and model_id not in _made.values():
        for name, default in (("ModelFormat", "ONNX"), ("ModelType", "ONNX:1.8")):
            if info.get(name) is None:
                info[name] = default


_services: list[str] = []
_RUN = secrets.token_hex(4)  # this run's services are named apart from an earlier run's on the platform


def _real_service(case: schemathesis.Case[Any]) -> None:
    """A valid CreateService deploys the latest version this run registered and did not delete (the
    document has no link into CreateService), under a fresh name, on a flavor the platform has, with one
    replica (a local platform runs each replica as a process: the run must not hold more of the machine
    than that), :data:`MAX_SERVICES` at most, :data:`COVERAGE_SERVICES` of them in the coverage phase
    (whose other valid CreateService cases keep their generated, unknown version: 404). Its links then
    lead to a live service, and the service actions' valid cases name one."""
    meta, body = case.meta, cast(Any, case.body)
    if case.operation.definition.raw.get("operationId") != "CreateService" or not _positive(case):
        return
    deployment = body.get("ServiceDeployment") if isinstance(body, dict) else None
    if meta is None or meta.phase.name not in SERVICE_PHASES or not isinstance(deployment, dict) or not _made:
        return
    if len(_services) >= MAX_SERVICES or (
        meta.phase.name == "coverage" and len(_services) >= COVERAGE_SERVICES
    ):
        return
    version_id = next(reversed(_made))  # the latest made
    deployment["Model"] = {"ModelID": _made[version_id], "ModelVersionID": version_id}
    body["ServiceName"] = f"st-run-{_RUN}-{len(_services)}"  # generated names repeat (409: name taken)
    _services.append(version_id)
    deployment["FlavorID"] = flavors_of(_origin(case))[0]
    deployment["Replicas"] = 1


_flavors: dict[str, list[str]] = {}


def flavors_of(origin: str) -> list[str]:
    """The flavor ids the platform offers (ListResource), asked once per run."""
    if origin not in _flavors:
        groups = open_door(origin, "ListResource", {"Limit": 100})["List"]
        _flavors[origin] = [flavor["Id"] for group in groups.values() for flavor in group]
    return _flavors[origin]


def _real_flavors(case: schemathesis.Case[Any]) -> None:
    """A valid CreatePerfJob names flavors the platform has (like a ModelVersionID, a flavor is a
    reference: an unknown one is 404), so that a perf job on a real version (from the links) is made
    and the links from it reach its tasks."""
    if case.operation.definition.raw.get("operationId") != "CreatePerfJob" or not _positive(case):
        return
    body: Any = case.body
    params = body.get("JobParamsList") if isinstance(body, dict) else None
    known = flavors_of(_origin(case))
    for index, entry in enumerate(params if isinstance(params, list) else []):
        names = entry.get("FlavorIDList") if isinstance(entry, dict) else None
        if isinstance(entry, dict) and isinstance(names, list):
            entry["FlavorIDList"] = [
                n if n in known else known[(index + i) % len(known)] for i, n in enumerate(names)
            ]


def _positive(case: schemathesis.Case[Any]) -> bool:
    """A valid case: every part of it generated valid, and sent as the document says (the coverage
    phase's probes of other methods and content types are valid otherwise, and answered 405/415)."""
    meta = case.meta
    if str(case.method).upper() != str(case.operation.method).upper():
        return False
    if case.media_type not in (None, "application/json"):
        return False
    return meta is None or not any(component.mode.is_negative for component in meta.components.values())


def _real_upload(case: schemathesis.Case[Any]) -> None:
    """A valid CreateModel / InnerCreateModel registers files really uploaded: its generated
    ``VersionInfo.Path`` (which holds nothing: 404) becomes a fresh upload made just before the call, so
    models and versions really exist and the document's links lead to them."""
    if case.operation.definition.raw.get("operationId") not in ("CreateModel", "InnerCreateModel"):
        return
    version = case.body.get("VersionInfo") if isinstance(case.body, dict) else None
    if not isinstance(version, dict) or not _positive(case) or version.get("Path") in _uploads:
        return
    path = upload_model(_origin(case), inner=_inner(case))
    if path is not None:
        version["Path"] = path


@schemathesis.hook
def map_case(context: Any, case: schemathesis.Case[Any]) -> schemathesis.Case[Any]:
    """Valid cases follow the document's ``x-required-without-ModelID`` (a new model needs a name, a
    format and a type), which OpenAPI 3.0 cannot express as a schema."""
    _served_region(case)
    meta = case.meta
    if meta is None or meta.is_negative_at(ParameterLocation.BODY) or not isinstance(case.body, dict):
        return case
    body: dict[str, Any] = case.body
    operation: dict[str, Any] = case.operation.definition.raw
    schema_ref = _request_schema_ref(case, operation)
    rule = case.operation.schema.raw_schema["components"]["schemas"].get(schema_ref, {})
    needed = rule.get("x-required-without-ModelID", [])
    if needed and body.get("ModelID") is None and isinstance(body.get("VersionInfo"), dict):
        defaults = {"ModelName": "st-run", "ModelFormat": "ONNX", "ModelType": "ONNX:1.8"}
        for dotted in needed:
            *parents, name = dotted.split(".")
            container = body["VersionInfo"] if parents else body
            if container.get(name) is None:
                container[name] = defaults[name]
    tensor_config = body.get("TensorConfig")
    if schema_ref == "CreatePerfJobRequest" and isinstance(tensor_config, dict):
        for tensor in [*(tensor_config.get("Inputs") or []), *(tensor_config.get("Outputs") or [])]:
            _measurable_range(tensor)
    return case


def _measurable_range(tensor: Any) -> None:
    """A perf tensor's MinShape/MaxShape as a range a job can measure (the same length, MinShape at
    most MaxShape in each dimension: PerfTensorShape's description, which a schema cannot say)."""
    shape: Any = tensor.get("Shape") if isinstance(tensor, dict) else None
    low, high = (shape.get("MinShape"), shape.get("MaxShape")) if isinstance(shape, dict) else (None, None)
    if isinstance(low, list) and isinstance(high, list) and all(isinstance(d, int) for d in low + high):
        shape["MaxShape"] = [max(lo, hi) for lo, hi in zip(low, high, strict=False)] + low[len(high) :]


def _request_schema_ref(case: schemathesis.Case[Any], operation: dict[str, Any]) -> str:
    raw = case.operation.schema.raw_schema
    body = operation.get("requestBody", {})
    if "$ref" in body:
        body = raw["components"]["requestBodies"][body["$ref"].rsplit("/", 1)[-1]]
    ref: str = body["content"]["application/json"]["schema"].get("$ref", "")
    return ref.rsplit("/", 1)[-1]
