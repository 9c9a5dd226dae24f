"""Property: arbitrary JSON in any place of any action's body never makes the platform fail (no 5xx),
and whatever it accepts can be read back.

Each action starts from a valid body (about real objects of a module-wide platform over real HTTP).
Hypothesis puts an arbitrary JSON value (NaN, Infinity, deep nesting, lone surrogates in values and
keys included) either under a new key of any object of that body, or in place of any of its values.
A 2xx answer is then followed by every read of the account, which must all answer 200 with JSON.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlp_server.operations import operations

from .helpers import API_VERSION, Api, LiveServer, perf_job_body, service_body, version_info

MISSING_MODEL = "m-20210812150750-w54j6"
MISSING_VERSION = MISSING_MODEL + "-1"


class Deep:
    """Stands for ``depth`` nested arrays, spliced in after dumping (json.dumps would recurse)."""

    def __init__(self, depth: int) -> None:
        self.depth = depth


def _reject_constant(name: str) -> object:
    raise ValueError(f"{name} in an answer")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    with LiveServer(tmp_path_factory.mktemp("property") / "platform") as server:
        api = Api(server.url, server.default_keys())
        path = server.upload(api.account_id, "property/m1")
        created = api.register(path, name="prop", TensorConfig={"Inputs": []})
        model_id, version_id = created["ModelID"], created["VersionInfo"]["ModelVersionID"]
        job = api.ok("CreatePerfJob", perf_job_body(version_id))
        task_id = api.ok("ListPerfTasks", {"JobID": job["JobID"]})["List"][0]["TaskID"]
        service_id = api.ok("CreateService", service_body(model_id, version_id))["ServiceID"]
        token = api.token_for(api.account_id)
        yield {
            "api": api,
            "server": server,
            "path": path,
            "model": model_id,
            "version": version_id,
            "job": job["JobID"],
            "task": task_id,
            "service": service_id,
            "token": token,
        }
        api.close()


def base_bodies(w: dict[str, Any]) -> dict[str, dict[str, Any]]:
    version, model, path = w["version"], w["model"], w["path"]
    info = version_info(path, TensorConfig={"Inputs": []}, ModelTags=[{"Key": "k", "Value": "v"}])
    return {
        "CreateModel": {"ModelName": "p", "ModelID": model, "VersionInfo": info},
        "GetModel": {"ModelID": model},
        "ListModels": {"Limit": 100},
        "UpdateModel": {"ModelID": model, "ModelName": "prop"},
        "DeleteModel": {"ModelID": MISSING_MODEL},
        "GetModelNextVersion": {"ModelID": model},
        "ListModelVersions": {"ModelID": model, "Limit": 100},
        "GetModelVersion": {"ModelVersionID": version},
        "UpdateModelVersion": {"ModelVersionID": version, "Description": "d", "TensorConfig": {"Inputs": []}},
        "DeleteModelVersion": {"ModelVersionID": MISSING_VERSION},
        "GetTOSUploadPath": {"ServiceName": "modelrepo", "Path": ["prop"]},
        "CreatePerfJob": perf_job_body(version),
        "ListPerfJobs": {"Limit": 100},
        "CancelPerfJob": {"JobID": w["job"]},
        "ListPerfTasks": {"Limit": 100},
        "UpdatePerfTask": {"TaskID": w["task"]},
        "CancelPerfTask": {"TaskID": w["task"]},
        "AdminGetSecureToken": {"TimeToLive": 600, "AccountId": w["api"].account_id, "UserId": 1},
        "ListResource": {"Limit": 10},
        "CreateService": service_body(model, version, name="prop-svc"),
        "GetService": {"ServiceID": w["service"]},
        "StartService": {"ServiceID": w["service"]},
        "StopService": {"ServiceID": w["service"]},
        "DeleteService": {"ServiceID": "s-20210812150750-w54j6"},
        "UpdateService": {"ServiceID": w["service"], "Replicas": 1, "ChangeType": "ScalingService"},
        "ListServices": {"Limit": 100},
        "InnerCreateModel": {"ModelName": "p", "ModelID": model, "VersionInfo": info},
        "InnerGetModelVersion": {"ModelVersionID": version},
        "InnerUpdateModelVersion": {"ModelVersionID": version, "Description": "i"},
        "InnerGetTOSUploadPath": {"ServiceName": "modelrepo"},
        "GetSTSToken": {},
    }


def test_every_action_has_a_base_body(world: dict[str, Any]) -> None:
    assert {action for _, action in operations()} == set(base_bodies(world))


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=20),
    st.text(alphabet=st.characters(categories=["Cs", "Ll", "Nd"]), max_size=4),  # lone surrogates
    st.integers(min_value=30, max_value=3000).map(Deep),
)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.text(alphabet=st.characters(categories=["Cs", "Lu"]), max_size=4), inner, max_size=4
        )
    ),
    max_leaves=12,
)


def _places(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """(path, node) of every node of a body."""
    yield path, value
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _places(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _places(child, (*path, index))


def mutate(body: dict[str, Any], choice: int, key: str, value: Any, replace: bool) -> dict[str, Any]:
    body = json.loads(json.dumps(body))
    places = list(_places(body))
    path, node = places[choice % len(places)]
    if replace and path:
        parent = body
        for part in path[:-1]:
            parent = parent[part]
        parent[path[-1]] = value
    elif isinstance(node, dict):
        node[key] = value
    else:
        body[key] = value
    return body


def dump(body: dict[str, Any]) -> bytes:
    deep: list[int] = []

    def default(obj: object) -> str:
        assert isinstance(obj, Deep)
        deep.append(obj.depth)
        return f"__deep_{len(deep) - 1}__"

    text = json.dumps(body, allow_nan=True, default=default)  # NaN/Infinity and \ud800 escapes as sent
    for index, depth in enumerate(deep):
        text = text.replace(f'"__deep_{index}__"', "[" * depth + "]" * depth)
    return text.encode("ascii")


def send(w: dict[str, Any], action: str, content: bytes) -> httpx.Response:
    api: Api = w["api"]
    headers = {"Content-Type": "application/json"}
    if action.startswith("Inner") or action == "GetSTSToken":
        url = f"/ml-platform/cn-beijing/api/{action}"
        return api.http.post(url, params={"Token": w["token"]}, content=content, headers=headers)
    url = f"/?Action={action}&Version={API_VERSION}"
    return api.http.post(url, content=content, headers=headers, auth=api.auth)


def read_back(w: dict[str, Any], result: Any) -> None:
    api: Api = w["api"]
    reads: list[tuple[str, dict[str, Any]]] = [
        ("ListModels", {"Limit": 100}),
        ("ListModelVersions", {"ModelID": w["model"], "Limit": 100}),
        ("GetModelVersion", {"ModelVersionID": w["version"]}),
        ("ListPerfJobs", {"Limit": 100}),
        ("ListPerfTasks", {"Limit": 100}),
        ("ListServices", {"Limit": 100}),
        ("GetService", {"ServiceID": w["service"]}),
    ]
    if isinstance(result, dict):
        if isinstance(result.get("ModelID"), str):
            reads.append(("GetModel", {"ModelID": result["ModelID"]}))
        version_id = (result.get("VersionInfo") or {}).get("ModelVersionID")
        if isinstance(version_id, str):
            reads.append(("GetModelVersion", {"ModelVersionID": version_id}))
        if isinstance(result.get("ServiceID"), str) and result["ServiceID"] != "s-20210812150750-w54j6":
            reads.append(("GetService", {"ServiceID": result["ServiceID"]}))
    for action, body in reads:
        response = api.call(action, body)
        assert response.status_code == 200, (action, response.text)
        json.loads(response.text, parse_constant=_reject_constant)


ACTIONS = sorted(action for _, action in operations())


@pytest.mark.parametrize("action", ACTIONS)
@settings(
    max_examples=10,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    choice=st.integers(min_value=0, max_value=1000),
    key=st.text(alphabet=st.characters(categories=["Cs", "Lu", "Ll"]), min_size=1, max_size=6),
    value=json_values,
    replace=st.booleans(),
)
def test_arbitrary_json_anywhere_never_fails_the_platform(
    world: dict[str, Any], action: str, choice: int, key: str, value: Any, replace: bool
) -> None:
    body = mutate(base_bodies(world)[action], choice, key, value, replace)
    response = send(world, action, dump(body))
    assert response.status_code < 500, (action, response.status_code, response.text)
    envelope = json.loads(response.text, parse_constant=_reject_constant)
    assert "ResponseMetadata" in envelope
    if response.status_code == 200:
        read_back(world, envelope.get("Result"))
    elif isinstance(value, float) and not math.isfinite(value):
        assert response.status_code == 400
