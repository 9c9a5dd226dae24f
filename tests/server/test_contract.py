"""The local server against its contract: schemathesis over every operation of the document, in-process.

Generated requests, valid and invalid, go to the real ASGI app through schemathesis' in-process ASGI
transport. Every response must be free of server errors and conform to the document (status code, content
type, body schema); valid data must be accepted, invalid data rejected with a 4xx, and authentication must
be enforced (the "ignored auth" probes).

Credentials (``ContractPlatform.auth_for``): a ``requests`` auth object, so that it sees the exact
serialized body. It signs open-door requests with the default account's keys (``signing.sign``, SignerV4
over the body bytes, the query and the Host/Content-Type/X-* headers) and puts a real secure token, issued
by AdminGetSecureToken for the same account, into the inner door's ``Token``. It only replaces credentials
that schemathesis generated as valid: a case whose headers (query) are its invalid part, or that lacks
``Authorization`` (``Token``) on purpose, is sent as generated; and schemathesis sends its "ignored auth"
probes without the auth object, so they reach the server unsigned or with a bogus token and must be refused.

Valid data the document cannot express comes from a ``map_case`` hook (and ``before_add_examples`` for the
document's examples), applied only to cases whose body is meant to be valid: VersionInfo.Path points at
objects the fixture uploaded into the caller's bucket, a new model gets a name, format and type, flavors
come from the local catalogue, and ids point at seed objects (a model, version, perf job and task, service)
so that valid cases reach real data and their responses get checked; operations that delete keep random
ids. ``json-string`` has a strategy of its own (valid JSON text).

Stateful sequences follow the document's OpenAPI links (``schema.as_state_machine().TestCase``), positive
data only, from new models (links bring their ids, never a seed).

A broken signer fails the suite: positive cases must be answered 2xx (or 404/409: an id that does not
exist, a state that conflicts), never 401/403 (``test_a_broken_signer_fails_the_suite`` keeps proving it).
"""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit, urlunsplit

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import Case
from schemathesis.config import SchemathesisConfig
from schemathesis.core.failures import FailureGroup
from schemathesis.core.parameters import ParameterLocation
from schemathesis.core.result import Ok
from schemathesis.generation.meta import TestPhase
from schemathesis.openapi.checks import RejectedPositiveData
from starlette.applications import Starlette

from mlp_server.platform import DEFAULT_ACCOUNT_ID, build_app
from mlp_server.settings import ServerSettings
from mlp_testing import REGION, Keys, bucket_for, read_default_keys
from volcengine_ml_platform import schema as document_schema
from volcengine_ml_platform.embedded import EmbeddedTransport
from volcengine_ml_platform.signing import parse_wire_query, sign

from .helpers import CPU_FLAVORS, GPU_FLAVORS, Api, perf_job_body, service_body, upload

SPEC = Path(__file__).resolve().parents[2] / "openapi" / "ml_platform-2021-07-01.yaml"
SEED = 20210701
MAX_EXAMPLES = 25
STATEFUL_EXAMPLES = 50
STATEFUL_STEPS = 10
MODEL_PREFIX = "modelrepo/from-sdk-repo/contract/1"
# Known before any fixture runs (the coverage and example cases are built at collection time).
MODEL_PATH = f"tos://{bucket_for(DEFAULT_ACCOUNT_ID)}/{MODEL_PREFIX}/"
FLAVORS = (*CPU_FLAVORS, *GPU_FLAVORS)

CONFIG = SchemathesisConfig.from_dict(
    {
        "seed": SEED,
        # No NUL in generated strings: the document's body rules refuse it (400 naming the field).
        "generation": {
            "mode": "all",
            "max-examples": MAX_EXAMPLES,
            "deterministic": True,
            "allow-x00": False,
        },
        "checks": {
            # 401/403 are no acceptance: a valid, signed request refused for its credentials means the
            # signer (or the token) is broken, which must fail the suite rather than pass it.
            "positive_data_acceptance": {"expected-statuses": ["2xx", "404", "409"]},
        },
        "phases": {
            # Sequences are about state: valid requests along the links (invalid data is covered per
            # operation, where every operation also gets negative cases).
            "stateful": {"generation": {"mode": "positive"}},
        },
        "warnings": {"fail-on": True},
    }
)


def json_text() -> st.SearchStrategy[str]:
    """Valid JSON text, as the ``json-string`` format (Metrics' Params and MetricsData) requires."""
    scalars = (
        st.none()
        | st.booleans()
        | st.integers()
        | st.floats(allow_nan=False, allow_infinity=False)
        | st.text()
    )
    values = st.recursive(
        scalars,
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
        max_leaves=8,
    )
    return values.map(lambda value: json.dumps(value, ensure_ascii=False))


schemathesis.openapi.format("json-string", json_text())
schema = schemathesis.openapi.from_path(SPEC, config=CONFIG)


def operation_id(case: Case[Any]) -> str:
    return str(case.operation.definition.raw["operationId"])


# ---------------------------------------------------------------------------------------------------
# Credentials


class VolcRequestsSigner(requests.auth.AuthBase):
    """Signs a prepared ``requests`` request with Volcengine's SignerV4 over the exact body bytes (open
    door), or puts the secure token into its ``Token`` query parameter (inner door)."""

    def __init__(
        self,
        keys: Keys,
        token: str,
        *,
        sign_open: bool = True,
        set_token: bool = True,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.keys = keys
        self.token = token
        self.sign_open = sign_open
        self.set_token = set_token
        self.clock = clock

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        assert request.url is not None and request.method is not None
        parts = urlsplit(request.url)
        if parts.path.startswith("/ml-platform/"):
            if self.set_token:
                query = [(k, self.token if k == "Token" else v) for k, v in parse_qsl(parts.query, True)]
                request.url = urlunsplit(parts._replace(query=urlencode(query)))
            return request
        if not self.sign_open:
            return request
        raw: Any = request.body or b""
        body: bytes = raw.encode("utf-8") if isinstance(raw, str) else bytes(raw)
        request.headers["Host"] = parts.netloc  # signed, as the SDK signs the Host it sends
        headers = [
            (str(name), value.decode("latin-1") if isinstance(value, bytes) else str(value))
            for name, value in request.headers.items()
        ]
        signed = sign(
            request.method,
            unquote(parts.path),
            parse_wire_query(parts.query),
            headers,
            body,
            access_key=self.keys.ak,
            secret_key=self.keys.sk,
            region=REGION,
            service="ml_platform",
            x_date=self.clock(),
        )
        request.headers.update(signed.headers)
        return request


class BoundApp:
    """The ASGI app schemathesis calls, for generated cases and for its own probes. ``schema.app`` is read
    when the tests are collected, before any fixture runs, so it forwards to the module's platform."""

    def __init__(self) -> None:
        self.target: Starlette | None = None
        self.platform: ContractPlatform | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if self.target is None:
            raise RuntimeError("no platform is bound: use the `contract` fixture")
        await self.target(scope, receive, send)


APP = BoundApp()
schema.app = APP


@dataclass
class ContractPlatform:
    app: Starlette
    keys: Keys
    token: str
    seeds: dict[str, str]  # "model", "version", "job", "task", "service": objects that exist

    def auth_for(self, case: Case[Any]) -> VolcRequestsSigner:
        """Valid credentials where schemathesis generated valid ones, and nowhere else."""
        meta = case.meta
        headers_negative = meta is not None and meta.is_negative_at(ParameterLocation.HEADER)
        query_negative = meta is not None and meta.is_negative_at(ParameterLocation.QUERY)
        return VolcRequestsSigner(
            self.keys,
            self.token,
            sign_open="Authorization" in (case.headers or {}) and not headers_negative,
            set_token="Token" in (case.query or {}) and not query_negative,
        )

    def call_kwargs(self, case: Case[Any]) -> dict[str, Any]:
        return {"auth": self.auth_for(case)}


@pytest.fixture(scope="module")
def contract(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ContractPlatform]:
    data_dir = tmp_path_factory.mktemp("contract") / "platform"
    app = build_app(ServerSettings(data_dir=data_dir))
    platform = app.state.platform
    assert upload(platform, DEFAULT_ACCOUNT_ID, MODEL_PREFIX) == MODEL_PATH
    keys = read_default_keys(data_dir)
    with Api("http://testserver", keys, transport=EmbeddedTransport(app)) as api:
        token = api.token_for(DEFAULT_ACCOUNT_ID, ttl=43200)
        seeds = create_seeds(api)
    bound = ContractPlatform(app, keys, token, seeds)
    APP.target, APP.platform = app, bound
    yield bound
    APP.target, APP.platform = None, None
    platform.store.close()


def create_seeds(api: Api) -> dict[str, str]:
    """Objects for valid cases to refer to, so that they reach real data (and its responses get checked)."""
    created = api.register(
        MODEL_PATH, name="contract-seed", Description="seed", ModelTags=[{"Key": "k", "Value": "v"}]
    )
    version = created["VersionInfo"]["ModelVersionID"]
    job = api.ok(
        "CreatePerfJob",
        perf_job_body(
            version,
            "CONVERT_PERF",
            {"FlavorIDList": list(CPU_FLAVORS[:2]), "ConvertPrecisionList": ["FP16", "INT8"]},
        ),
    )
    task = api.list_all("ListPerfTasks", JobID=job["JobID"])[0]["TaskID"]
    service = api.ok("CreateService", service_body(created["ModelID"], version, name="contract-seed"))[
        "ServiceID"
    ]
    return {
        "model": created["ModelID"],
        "version": version,
        "job": job["JobID"],
        "task": task,
        "service": service,
    }


# ---------------------------------------------------------------------------------------------------
# Valid data the document cannot express (only for cases whose body is meant to be valid)

# Body fields (dotted paths) that must name an existing object -> the seed that does. Operations that
# delete are left out: they get random ids (and answer 404), so that the seeds stay.
SEED_REFERENCES: dict[str, tuple[tuple[str, str], ...]] = {
    "CreateModel": (("ModelID", "model"),),
    "InnerCreateModel": (("ModelID", "model"),),
    "GetModel": (("ModelID", "model"),),
    "UpdateModel": (("ModelID", "model"),),
    "GetModelNextVersion": (("ModelID", "model"),),
    "ListModelVersions": (("ModelID", "model"),),
    "GetModelVersion": (("ModelVersionID", "version"),),
    "InnerGetModelVersion": (("ModelVersionID", "version"),),
    "UpdateModelVersion": (("ModelVersionID", "version"),),
    "InnerUpdateModelVersion": (("ModelVersionID", "version"),),
    "CreatePerfJob": (("ModelVersionID", "version"),),
    "ListPerfJobs": (("ModelVersionID", "version"), ("JobID", "job")),
    "ListPerfTasks": (("JobID", "job"), ("TaskID", "task")),
    "CancelPerfJob": (("JobID", "job"),),
    "UpdatePerfTask": (("TaskID", "task"),),
    "CancelPerfTask": (("TaskID", "task"),),
    "CreateService": (
        ("ServiceDeployment.Model.ModelID", "model"),
        ("ServiceDeployment.Model.ModelVersionID", "version"),
    ),
    "GetService": (("ServiceID", "service"),),
    "StartService": (("ServiceID", "service"),),
    "StopService": (("ServiceID", "service"),),
    "UpdateService": (("ServiceID", "service"),),
}
# Operations that stateful links lead to: their ids come from the link there, never from a seed.
LINK_TARGETS = frozenset(
    link["operationId"]
    for item in document_schema.document()["paths"].values()
    for response in item["post"]["responses"].values()
    for link in response.get("links", {}).values()
)


SERVICE_NAMES = itertools.count(1)


def refer_to_seeds(case: Case[Any], body: dict[str, Any], seeds: dict[str, str]) -> None:
    operation = operation_id(case)
    stateful = case.meta is not None and case.meta.phase.name == TestPhase.STATEFUL
    if stateful and operation == "CreateModel":
        body.pop("ModelID", None)  # sequences start from a new model, which they may then delete
        return
    if stateful and operation == "CreateService":
        # A name of its own, so that a sequence replayed by Hypothesis gets the same answer (not Conflict),
        # and one replica, so that the account's replica budget lasts the run (a generated count takes
        # it whole at once, and every later sequence's CreateService is a Conflict).
        if isinstance(body.get("ServiceName"), str):
            body["ServiceName"] = f"{body['ServiceName'][:100]}-{next(SERVICE_NAMES)}"
        if isinstance(body.get("ServiceDeployment"), dict):
            body["ServiceDeployment"]["Replicas"] = 1
    if stateful and operation in LINK_TARGETS:
        return
    for dotted, seed in SEED_REFERENCES.get(operation, ()):
        *parents, name = dotted.split(".")
        container: Any = body
        for parent in parents:
            container = container.get(parent) if isinstance(container, dict) else None
        if isinstance(container, dict) and name in container:
            container[name] = seeds[seed]


def measurable_ranges(tensor_config: Any) -> None:
    """A generated MinShape/MaxShape pair as a range a job can measure (the same length, MinShape at
    most MaxShape), which the schemas cannot say; a pair the schema refuses is left as it is."""
    tensors = tensor_config.get("Inputs") if isinstance(tensor_config, dict) else None
    outputs = tensor_config.get("Outputs") if isinstance(tensor_config, dict) else None
    for tensor in [*(tensors or []), *(outputs or [])]:
        shape = tensor.get("Shape") if isinstance(tensor, dict) else None
        if not isinstance(shape, dict):
            continue
        low, high = shape.get("MinShape"), shape.get("MaxShape")
        if isinstance(low, list) and isinstance(high, list) and all(isinstance(d, int) for d in low + high):
            shape["MaxShape"] = [max(lo, hi) for lo, hi in zip(low, high, strict=False)] + low[len(high) :]


def make_valid(case: Case[Any]) -> Case[Any]:
    meta = case.meta
    if "region" in case.path_parameters and not (
        meta is not None and meta.is_negative_at(ParameterLocation.PATH)
    ):
        # The platform serves one region; any other (schema-valid) one is refused, naming it.
        case.path_parameters["region"] = REGION
    if meta is None or meta.is_negative_at(ParameterLocation.BODY) or not isinstance(case.body, dict):
        return case
    body: dict[str, Any] = case.body
    operation = operation_id(case)
    if APP.platform is not None:  # not at collection time, when the coverage and example cases are built
        refer_to_seeds(case, body, APP.platform.seeds)
    if operation in ("CreateModel", "InnerCreateModel") and isinstance(body.get("VersionInfo"), dict):
        # Objects the fixture uploaded into the caller's bucket (the token acts for that same account).
        body["VersionInfo"]["Path"] = MODEL_PATH
        if body.get("ModelID") is None:
            # A new model needs a name, format and type (x-required-without-ModelID); null means absent.
            info = body["VersionInfo"]
            for container, name, value in (
                (body, "ModelName", "generated"),
                (info, "ModelFormat", "SavedModel"),
                (info, "ModelType", "TensorFlow:2.4"),
            ):
                if container.get(name) is None:
                    container[name] = value
    elif operation == "CreatePerfJob":
        measurable_ranges(body.get("TensorConfig"))
        for params in body.get("JobParamsList") or []:
            if isinstance(params, dict) and isinstance(params.get("FlavorIDList"), list):
                count = len(params["FlavorIDList"])
                params["FlavorIDList"] = [FLAVORS[i % len(FLAVORS)] for i in range(count)]
    elif operation == "CreateService" and isinstance(body.get("ServiceDeployment"), dict):
        body["ServiceDeployment"]["FlavorID"] = FLAVORS[0]
    return case


@schema.hook
def map_case(context: schemathesis.HookContext, case: Case[Any]) -> Case[Any]:
    return make_valid(case)


@schema.hook
def before_add_examples(context: schemathesis.HookContext, examples: list[Case[Any]]) -> None:
    for example in examples:
        make_valid(example)


# ---------------------------------------------------------------------------------------------------
# Every operation, positive and negative


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_operation_conforms(case: Case[Any], contract: ContractPlatform) -> None:
    case.call_and_validate(**contract.call_kwargs(case))


def test_every_operation_is_covered() -> None:
    results = list(schema.get_all_operations())
    assert all(isinstance(result, Ok) for result in results), results
    ids = {result.ok().definition.raw["operationId"] for result in results if isinstance(result, Ok)}
    assert len(ids) == len(document_schema.document()["paths"])


@pytest.mark.parametrize(
    ("label", "breakage"),
    [
        ("POST /?Action=ListModels&Version=2021-07-01", "wrong secret key"),
        ("POST /ml-platform/{region}/api/GetSTSToken", "no real token"),
    ],
)
def test_a_broken_signer_fails_the_suite(contract: ContractPlatform, label: str, breakage: str) -> None:
    """Valid requests with broken credentials are failures of the suite, not passes."""
    keys, token = contract.keys, contract.token
    if breakage == "wrong secret key":
        keys = Keys(keys.ak, keys.sk + "x", keys.account_id)
    else:
        token = "v1.bm90.YSB0b2tlbg"
    auth = VolcRequestsSigner(keys, token)
    operation = schema.find_operation_by_label(label)
    assert operation is not None, label

    @given(case=operation.as_strategy())
    @settings(
        max_examples=3,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Case[Any]) -> None:
        with pytest.raises(FailureGroup) as failures:
            case.call_and_validate(auth=auth)
        rejected = [f for f in failures.value.exceptions if isinstance(f, RejectedPositiveData)]
        assert rejected and rejected[0].status_code == 401, failures.value.exceptions

    check()


# ---------------------------------------------------------------------------------------------------
# Stateful: sequences along the document's links


STATEFUL_CALLS: Counter[tuple[str, int]] = Counter()


class ModelLifecycle(schema.as_state_machine()):  # type: ignore[misc]
    """CreateModel -> Get/List/Update/Delete the model and its versions; GetModelVersion -> CreatePerfJob
    -> List/Cancel; CreateService -> Get/Stop/Delete. Checks include use-after-free (a deleted model is
    404) and resource availability (a created one is there)."""

    def get_call_kwargs(self, case: Case[Any]) -> dict[str, Any]:
        assert APP.platform is not None, "no platform is bound: use the `contract` fixture"
        return APP.platform.call_kwargs(case)

    def after_call(self, response: Any, case: Case[Any]) -> None:
        super().after_call(response, case)
        STATEFUL_CALLS[(operation_id(case), response.status_code)] += 1


@pytest.mark.usefixtures("contract")
class TestModelLifecycle(ModelLifecycle.TestCase):  # type: ignore[misc, name-defined]
    settings = settings(
        max_examples=STATEFUL_EXAMPLES,
        stateful_step_count=STATEFUL_STEPS,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )

    def runTest(self) -> None:
        STATEFUL_CALLS.clear()
        super().runTest()
        # The sequences really followed the links, with accepted credentials and no server error.
        answered = {operation for operation, status in STATEFUL_CALLS if status == 200}
        calls = sorted(STATEFUL_CALLS.items())
        assert "CreateModel" in answered, calls
        assert len(answered & LINK_TARGETS) >= 6, calls
        assert not [key for key in STATEFUL_CALLS if key[1] in (401, 403) or key[1] >= 500], calls
