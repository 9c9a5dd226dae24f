"""Every List action against a reference computed here in plain Python over the created data, on
SQLite and on PostgreSQL (whose test cluster sorts by ICU's en-US locale by default): both must give
exactly the reference answer. Text sorts by code point; Contains ignores the case of ASCII letters only.

Times come from a fake clock with deliberate ties, so the tie-breakers are exercised too:
models, perf jobs, tasks and services tie-break on their id (models sorted by name: on their
create time, then id), versions on their number.
"""

from __future__ import annotations

import itertools
import random
import string
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from mlp_server.errors import ApiError
from mlp_server.store import Store, sqlite_url

from .helpers import (
    ACCOUNT,
    BASE_TIME,
    OTHER_ACCOUNT,
    FakeClock,
    perf_job,
    register,
    service_body,
    version_info,
)

# Ten distinct instants, many objects per instant.
TIMES = [BASE_TIME + timedelta(seconds=61 * k, microseconds=k) for k in range(10)]
MODEL_NAMES = [
    "alpha", "Alpha", "ALPHA-2", "beta", "a%b", "a_b", "ab", "axb", "aXb", "100%", "%", "_", "x_y", "a/b",
    "dup", "dup", "dup", "gamma", "Gamma ray", "delta", "zeta", "eta", "theta", "iota", "kappa",
    "Émile", "émile", "straße", "STRASSE", "b-2", "b1", "b 3",
]  # fmt: skip
SERVICE_NAMES = [
    "svc-a", "svc_b", "svcxb", "a%b", "a_b", "axb", "prod", "Prod-2", "%", "staging", "Ünit", "ünit",
]  # fmt: skip
PAGES = [(None, None), (0, 3), (2, 4), (5, 100), (50, 10), (0, 0)]
ORDERS = [None, "Ascend", "Descend"]

Item = dict[str, Any]
_ASCII_FOLD = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def has_part(needle: str, text: str) -> bool:
    """The documented Contains rule: a substring, ignoring the case of ASCII letters only."""
    return needle.translate(_ASCII_FOLD) in text.translate(_ASCII_FOLD)


def wire(moment: datetime) -> str:
    return moment.replace(microsecond=0).isoformat()


def stamp(moment: datetime) -> str:
    return f"{moment:%Y%m%d%H%M%S}"


@dataclass
class Dataset:
    # object id -> (its create time, its expected list item)
    models: dict[str, tuple[datetime, Item]] = field(default_factory=dict)
    versions: dict[int, tuple[datetime, Item]] = field(default_factory=dict)
    jobs: dict[str, tuple[datetime, Item]] = field(default_factory=dict)
    tasks: dict[str, tuple[datetime, Item]] = field(default_factory=dict)
    services: dict[str, tuple[datetime, Item]] = field(default_factory=dict)
    versioned_model: str = ""


def _build(store: Store, clock: FakeClock) -> Dataset:
    rng = random.Random(20210812)
    data = Dataset()
    # Another tenant with look-alike data, which must never show up.
    for name in MODEL_NAMES[:6]:
        other_id, _ = register(store, OTHER_ACCOUNT, name=name)
        store.create_perf_job(
            OTHER_ACCOUNT,
            {
                "ModelVersionID": f"{other_id}-1",
                "TensorConfig": {"Inputs": []},
                "JobType": "PERF_ONLY",
                "JobParamsList": [{"FlavorIDList": ["ml.c1i.large"]}],
            },
        )
    store.create_service(OTHER_ACCOUNT, service_body(other_id, 1, name="a%b"))

    for name in MODEL_NAMES:
        created = rng.choice(TIMES)
        clock.set(created)
        model_id, _ = register(store, name=name)
        versions = rng.randint(1, 4)
        for _ in range(versions - 1):
            clock.set(rng.choice(TIMES))
            register(store, model_id=model_id)
        existing = set(range(1, versions + 1))
        for number in sorted(existing):
            if rng.random() < 0.3:  # deletes include latest ones and, sometimes, all of them
                store.delete_model_version(ACCOUNT, {"ModelVersionID": f"{model_id}-{number}"})
                existing.discard(number)
        item: Item = {"ModelID": model_id, "ModelName": name, "CreateTime": wire(created)}
        item["ModelVersionsCount"] = len(existing)
        if existing:
            item["LatestVersion"] = str(max(existing))
        data.models[model_id] = (created, item)

    # One model with many versions whose times disagree with their numbers.
    clock.set(TIMES[0])
    model_id, _ = register(store, name="versioned", Description="v1", Path="tos://b/v/1/")
    data.versioned_model = model_id
    data.versions[1] = (TIMES[0], _version_item(model_id, 1, TIMES[0], {}))
    for number in range(2, 16):
        created = rng.choice(TIMES)
        clock.set(created)
        extra: Item = {}
        if number % 3 == 0:
            extra["MetricsList"] = [{"MetricsType": "Perf", "Params": "{}", "MetricsData": str(number)}]
        if number % 4 == 0:
            extra["ModelTags"] = [{"Key": "n", "Value": str(number)}]
        register(store, model_id=model_id, Description=f"v{number}", Path=f"tos://b/v/{number}/", **extra)
        data.versions[number] = (created, _version_item(model_id, number, created, extra))
    for number in (4, 9, 15):
        store.delete_model_version(ACCOUNT, {"ModelVersionID": f"{model_id}-{number}"})
        del data.versions[number]
    clock.set(TIMES[5])
    register(store, model_id=model_id, Description="v16", Path="tos://b/v/16/")
    data.versions[16] = (TIMES[5], _version_item(model_id, 16, TIMES[5], {}))
    data.models[model_id] = (
        TIMES[0],
        {
            "ModelID": model_id,
            "ModelName": "versioned",
            "CreateTime": wire(TIMES[0]),
            "ModelVersionsCount": len(data.versions),
            "LatestVersion": "16",
        },
    )

    # Perf jobs over two versions; one job cancelled as a whole.
    version_ids = [f"{model_id}-1", f"{model_id}-2"]
    for k in range(9):
        created = rng.choice(TIMES[:4])
        clock.set(created)
        flavors = ["ml.c1i.large", "ml.g1e.large"][: 1 + k % 2]
        job = perf_job(store, version_ids[k % 2], flavors)
        status, ended = "Submitted", 0
        if k == 4:
            store.cancel_perf_job(ACCOUNT, {"JobID": job["JobID"]})
            status, ended = "Cancelled", len(flavors)
        item = {**job, "JobStatus": status, "TaskCount": len(flavors), "EndedTaskCount": ended}
        data.jobs[job["JobID"]] = (created, item)
        for task in store.list_perf_tasks(ACCOUNT, {"JobID": job["JobID"]})["List"]:
            data.tasks[task["TaskID"]] = (created, task)

    for name in SERVICE_NAMES:
        created = rng.choice(TIMES)
        clock.set(created)
        service_id = store.create_service(ACCOUNT, service_body(model_id, 2, name=name))["ServiceID"]
        data.services[service_id] = (created, store.get_service(ACCOUNT, {"ServiceID": service_id}))
    return data


def _version_item(model_id: str, number: int, created: datetime, extra: Item) -> Item:
    return {
        "ModelVersionID": f"{model_id}-{number}",
        "ModelVersion": number,
        **version_info(Description=f"v{number}", Path=f"tos://b/v/{number}/"),
        "Description": f"v{number}",
        "SourceType": "TOS",
        "CreateTime": wire(created),
        "TensorConfig": {"Inputs": []},
        **extra,
    }


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def world(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Store, Dataset]]:
    clock = FakeClock()
    if request.param == "sqlite":
        url = sqlite_url(Path(tmp_path_factory.mktemp("listing")) / "db.sqlite")
    else:
        url = request.getfixturevalue("pg_cluster").database("listing")
    store = Store(url, clock=clock)
    yield store, _build(store, clock)
    store.close()


def expect(
    rows: dict[Any, tuple[datetime, Item]],
    keep: Callable[[Item], bool],
    sort_key: Callable[[Any, datetime, Item], tuple[Any, ...]],
    body: dict[str, Any],
) -> dict[str, Any]:
    """The reference answer: filter, sort (Descend reverses), then Offset/Limit."""
    matches = [(sort_key(key, created, item), item) for key, (created, item) in rows.items() if keep(item)]
    matches.sort(key=lambda pair: pair[0], reverse=body.get("SortOrder", "Descend") == "Descend")
    offset = body.get("Offset", 0)
    limit = body.get("Limit", 10)
    return {"Total": len(matches), "List": [item for _, item in matches[offset : offset + limit]]}


def cases(filters: list[Any], sorts: list[str | None]) -> list[Any]:
    return [
        pytest.param(f, sort_by, order, page, id=f"{f}-{sort_by}-{order}-{page}")
        for f in filters
        for sort_by, order, page in itertools.product(sorts, ORDERS, PAGES)
    ]


def make_body(
    filters: dict[str, Any], sort_by: str | None, order: str | None, page: tuple[Any, Any]
) -> dict[str, Any]:
    body = dict(filters)
    for key, value in (("SortBy", sort_by), ("SortOrder", order), ("Offset", page[0]), ("Limit", page[1])):
        if value is not None:
            body[key] = value
    return body


# --- ListModels ---

MODEL_FILTERS: list[dict[str, Any]] = [
    {},
    {"ModelName": "dup"},
    {"ModelName": "a%b"},
    {"ModelName": "alpha"},
    {"ModelName": "missing"},
    {"ModelNameContains": "a"},
    {"ModelNameContains": "ALPHA"},
    {"ModelNameContains": "%"},
    {"ModelNameContains": "_"},
    {"ModelNameContains": "a%b"},
    {"ModelNameContains": "a_b"},
    {"ModelNameContains": "0%"},
    {"ModelNameContains": "/"},
    {"ModelNameContains": "a/b"},
    {"ModelNameContains": "É"},
    {"ModelNameContains": "émile"},
    {"ModelNameContains": "SS"},
    {"ModelNameContains": "ß"},
    {"ModelNameContains": "b-"},
    {"IdContains": stamp(TIMES[3])},
    {"IdContains": "m-2021"},
    {"IdContains": "%"},
    {"IdContains": "_"},
    {"ModelNameContains": "a", "IdContains": stamp(TIMES[2])},
    {"ModelName": "dup", "ModelNameContains": "u", "IdContains": "-"},
]


def model_matches(filters: dict[str, Any]) -> Callable[[Item], bool]:
    def keep(item: Item) -> bool:
        name, model_id = item["ModelName"], item["ModelID"]
        return (
            ("ModelName" not in filters or name == filters["ModelName"])
            and ("ModelNameContains" not in filters or has_part(filters["ModelNameContains"], name))
            and ("IdContains" not in filters or has_part(filters["IdContains"], model_id))
        )

    return keep


@pytest.mark.parametrize(
    ("filters", "sort_by", "order", "page"), cases(MODEL_FILTERS, [None, "CreateTime", "ModelName"])
)
def test_list_models(
    world: tuple[Store, Dataset],
    filters: dict[str, Any],
    sort_by: str | None,
    order: str | None,
    page: tuple[Any, Any],
) -> None:
    store, data = world
    body = make_body(filters, sort_by, order, page)

    def key(model_id: str, created: datetime, item: Item) -> tuple[Any, ...]:
        return (item["ModelName"], created, model_id) if sort_by == "ModelName" else (created, model_id)

    assert store.list_models(ACCOUNT, body) == expect(data.models, model_matches(filters), key, body)


def test_the_model_filters_select_something(world: tuple[Store, Dataset]) -> None:
    # Guards the parametrized test against vacuous filters; `_`/`%` would match more if unescaped.
    _, data = world
    hits = {
        repr(f): expect(data.models, model_matches(f), lambda k, c, i: (c, k), {"Limit": 1000})["Total"]
        for f in MODEL_FILTERS
    }
    assert hits[repr({"ModelNameContains": "%"})] == 3
    assert hits[repr({"ModelNameContains": "_"})] == 3
    assert hits[repr({"ModelNameContains": "a_b"})] == 1
    assert hits[repr({"ModelNameContains": "a%b"})] == 1
    assert hits[repr({"ModelNameContains": "/"})] == 1
    assert hits[repr({"ModelName": "dup"})] == 3
    assert hits[repr({"IdContains": stamp(TIMES[3])})] > 1
    assert hits[repr({"IdContains": "%"})] == 0
    assert any(item["ModelVersionsCount"] == 0 for _, item in data.models.values())
    # ASCII case folds, other letters match exactly: É is not é, ß is not SS.
    assert hits[repr({"ModelNameContains": "É"})] == 1
    assert hits[repr({"ModelNameContains": "émile"})] == 1
    assert hits[repr({"ModelNameContains": "SS"})] == 1
    assert hits[repr({"ModelNameContains": "ß"})] == 1


# --- ListModelVersions ---

VERSION_FILTERS: list[dict[str, Any]] = [
    {},
    {"ModelVersion": 7},
    {"ModelVersion": "7"},
    {"ModelVersion": 16},
    {"ModelVersion": 4},  # deleted
    {"ModelVersion": 99},
]


@pytest.mark.parametrize(
    ("filters", "sort_by", "order", "page"), cases(VERSION_FILTERS, [None, "CreateTime", "ModelVersion"])
)
def test_list_model_versions(
    world: tuple[Store, Dataset],
    filters: dict[str, Any],
    sort_by: str | None,
    order: str | None,
    page: tuple[Any, Any],
) -> None:
    store, data = world
    body = {"ModelID": data.versioned_model, **make_body(filters, sort_by, order, page)}

    def keep(item: Item) -> bool:
        return "ModelVersion" not in filters or item["ModelVersion"] == int(filters["ModelVersion"])

    def key(number: int, created: datetime, item: Item) -> tuple[Any, ...]:
        return (number,) if sort_by == "ModelVersion" else (created, number)

    assert store.list_model_versions(ACCOUNT, body) == expect(data.versions, keep, key, body)


# --- ListPerfJobs / ListPerfTasks ---

JOB_FILTERS: list[Callable[[Dataset], dict[str, Any]]] = [
    lambda d: {},
    lambda d: {"ModelVersionID": f"{d.versioned_model}-1"},
    lambda d: {"ModelVersionID": f"{d.versioned_model}-2"},
    lambda d: {"ModelVersionID": "m-20210812150750-none0-1"},
    lambda d: {"JobID": sorted(d.jobs)[3]},
    lambda d: {"JobID": sorted(d.jobs)[3], "ModelVersionID": "m-20210812150750-none0-1"},
]


@pytest.mark.parametrize(
    ("index", "sort_by", "order", "page"), cases(list(range(len(JOB_FILTERS))), [None, "CreateTime"])
)
def test_list_perf_jobs(
    world: tuple[Store, Dataset], index: int, sort_by: str | None, order: str | None, page: tuple[Any, Any]
) -> None:
    store, data = world
    filters = JOB_FILTERS[index](data)
    body = make_body(filters, sort_by, order, page)

    def keep(item: Item) -> bool:
        return all(item[k] == v for k, v in filters.items())

    assert store.list_perf_jobs(ACCOUNT, body) == expect(data.jobs, keep, lambda k, c, i: (c, k), body)


TASK_FILTERS: list[Callable[[Dataset], dict[str, Any]]] = [
    lambda d: {},
    lambda d: {"JobID": sorted(d.jobs)[1]},
    lambda d: {"TaskID": sorted(d.tasks)[5]},
    lambda d: {"TaskID": sorted(d.tasks)[5], "JobID": d.tasks[sorted(d.tasks)[5]][1]["JobID"]},
    lambda d: {"TaskID": sorted(d.tasks)[5], "JobID": "pj-20210812150750-none0"},
]


@pytest.mark.parametrize(
    ("index", "sort_by", "order", "page"), cases(list(range(len(TASK_FILTERS))), [None, "CreateTime"])
)
def test_list_perf_tasks(
    world: tuple[Store, Dataset], index: int, sort_by: str | None, order: str | None, page: tuple[Any, Any]
) -> None:
    store, data = world
    filters = TASK_FILTERS[index](data)
    body = make_body(filters, sort_by, order, page)

    def keep(item: Item) -> bool:
        return all(item[k] == v for k, v in filters.items())

    assert store.list_perf_tasks(ACCOUNT, body) == expect(data.tasks, keep, lambda k, c, i: (c, k), body)


# --- ListServices ---

SERVICE_FILTERS: list[dict[str, Any]] = [
    {},
    {"ServiceName": "prod"},
    {"ServiceName": "a%b"},
    {"ServiceName": "nope"},
    {"ServiceNameContains": "svc"},
    {"ServiceNameContains": "PROD"},
    {"ServiceNameContains": "%"},
    {"ServiceNameContains": "_"},
    {"ServiceNameContains": "a_b"},
    {"ServiceNameContains": "Ü"},
    {"ServiceName": "prod", "ServiceNameContains": "ro"},
]


@pytest.mark.parametrize(
    ("filters", "sort_by", "order", "page"), cases(SERVICE_FILTERS, [None, "CreateTime"])
)
def test_list_services(
    world: tuple[Store, Dataset],
    filters: dict[str, Any],
    sort_by: str | None,
    order: str | None,
    page: tuple[Any, Any],
) -> None:
    store, data = world
    body = make_body(filters, sort_by, order, page)

    def keep(item: Item) -> bool:
        name = item["ServiceName"]
        return ("ServiceName" not in filters or name == filters["ServiceName"]) and (
            "ServiceNameContains" not in filters or has_part(filters["ServiceNameContains"], name)
        )

    assert store.list_services(ACCOUNT, body) == expect(data.services, keep, lambda k, c, i: (c, k), body)


@pytest.mark.parametrize(
    ("call", "body"),
    [
        ("list_models", {"SortBy": "ModelVersion"}),
        ("list_models", {"SortOrder": "Up"}),
        ("list_models", {"Offset": -1}),
        ("list_models", {"Limit": -5}),
        ("list_perf_jobs", {"SortBy": "JobType"}),
        ("list_services", {"SortBy": "ModelName"}),
    ],
)
def test_bad_pagination_is_invalid_parameter(
    world: tuple[Store, Dataset], call: str, body: dict[str, Any]
) -> None:
    store, _ = world
    with pytest.raises(ApiError) as caught:
        getattr(store, call)(ACCOUNT, body)
    assert caught.value.code == "InvalidParameter"
    assert next(iter(body)) in caught.value.message
