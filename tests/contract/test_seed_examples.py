"""Every response example of the seed (the document's 200 examples are the seed's real responses)
parses into the generated response model of its action, and gives back exactly the original JSON;
dict-style access agrees with typed access."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

import ml_platform_client.models as models
from volcengine_ml_platform import schema

from ._support import (
    SINGLE_RESULT_OF_LIST_ACTION,
    SeedExample,
    action_of,
    response_schema_name,
    seed_examples,
)

EXAMPLES = seed_examples()

# Operation -> action of its example. The seed documents each of these with a real response; the inner
# operations show the same responses as their open twins (inner_model.* in the seed).
EXPECTED = {
    "CreateModel": "CreateModel",
    "ListModels": "ListModels",
    "UpdateModel": "UpdateModel",
    "DeleteModel": "DeleteModel",
    "ListModelVersions": "ListModelVersions",
    "GetModelVersion": "GetModelVersion",
    "UpdateModelVersion": "UpdateModelVersion",
    "DeleteModelVersion": "DeleteModelVersion",
    "CreatePerfJob": "CreatePerfJob",
    "ListPerfJobs": "ListPerfJobs",
    "CancelPerfJob": "CancelPerfJob",
    "ListPerfTasks": "ListPerfTasks",
    "UpdatePerfTask": "UpdatePerfTask",
    "CancelPerfTask": "CancelPerfTask",
    "InnerCreateModel": "CreateModel",
    "InnerGetModelVersion": "GetModelVersion",
    "InnerUpdateModelVersion": "UpdateModelVersion",
}


def model_class(action: str) -> type[Any]:
    name = response_schema_name(action)
    cls: type[Any] = getattr(models, name)
    return cls


def by_id(example_id: str) -> SeedExample:
    (found,) = [e for e in EXAMPLES if e.id == example_id]
    return found


def test_every_seed_block_is_found_and_mapped() -> None:
    assert {e.id: action_of(e.data) for e in EXAMPLES} == EXPECTED
    assert len(EXAMPLES) == len(EXPECTED) == 17


def test_the_list_action_quirk_is_detected_by_the_result_shape() -> None:
    # The seed's get_model_version response says Action "ListModelVersions" but carries one version.
    quirky = [e for e in EXAMPLES if e.data["ResponseMetadata"]["Action"] != action_of(e.data)]
    assert [e.id for e in quirky] == ["GetModelVersion", "InnerGetModelVersion"]
    example = quirky[1]
    assert example.data["ResponseMetadata"]["Action"] == "ListModelVersions"
    assert set(SINGLE_RESULT_OF_LIST_ACTION) == {"ListModelVersions"}
    parsed = models.GetModelVersionResponse.from_dict(example.data)
    assert isinstance(parsed.result, models.ModelVersion)
    assert parsed.result.model_version_id == "m-20210812150750-w54j6-14"


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.id)
def test_example_parses_into_its_response_model_and_round_trips(example: SeedExample) -> None:
    cls = model_class(action_of(example.data))
    parsed = cls.from_dict(example.data)
    assert isinstance(parsed, cls)
    assert isinstance(parsed.response_metadata, models.ResponseMetadata)
    assert parsed.to_dict() == example.data
    # and again through the dict it gives back
    assert cls.from_dict(parsed.to_dict()).to_dict() == example.data


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.id)
def test_example_is_valid_against_the_document(example: SeedExample) -> None:
    assert schema.problems(response_schema_name(action_of(example.data)), example.data) == []


def _undeclared(value: Any, where: str) -> list[str]:
    """Fields the generated models kept in additional_properties, i.e. not declared by the document."""
    found: list[str] = []
    if attrs.has(type(value)):
        extra = getattr(value, "additional_properties", {})
        found += [f"{where}.{key}" for key in extra]
        for field in attrs.fields(type(value)):
            if field.name != "additional_properties":
                found += _undeclared(getattr(value, field.name), f"{where}.{field.name}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += _undeclared(item, f"{where}[{i}]")
    return found


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda e: e.id)
def test_every_field_the_seed_shows_is_declared(example: SeedExample) -> None:
    # wire-protocol section 2: "every field they show must be in the schema"
    parsed = model_class(action_of(example.data)).from_dict(example.data)
    assert _undeclared(parsed, "response") == []


ACCESS = [
    ("CreateModel", lambda r: (r["Result"]["ModelID"], r.result.model_id)),
    (
        "CreateModel",
        lambda r: (r["Result"]["VersionInfo"]["ModelVersion"], r.result.version_info.model_version),
    ),
    ("CreateModel", lambda r: (r["ResponseMetadata"]["RequestId"], r.response_metadata.request_id)),
    ("InnerGetModelVersion", lambda r: (r["Result"]["ModelFormat"], r.result.model_format)),
    (
        "InnerGetModelVersion",
        lambda r: (r["Result"]["TensorConfig"], r.result.tensor_config.to_dict()),
    ),
    ("ListModels", lambda r: (r["Result"]["Total"], r.result.total)),
    (
        "ListModels",
        lambda r: (r["Result"]["List"][1]["LatestVersion"], r.result.list_[1].latest_version),
    ),
    (
        "CreatePerfJob",
        lambda r: (
            r["Result"]["TensorConfig"]["Inputs"][0]["Shape"]["MaxShape"],
            r.result.tensor_config.inputs[0].shape.max_shape,
        ),
    ),
    (
        "ListPerfJobs",
        lambda r: (
            r["Result"]["List"][0]["JobParamsList"][0]["FlavorIDList"],
            r.result.list_[0].job_params_list[0].flavor_id_list,
        ),
    ),
    (
        "ListPerfTasks",
        lambda r: (r["Result"]["List"][0]["TaskStatus"], r.result.list_[0].task_status),
    ),
    ("UpdatePerfTask", lambda r: (r["Result"]["TaskID"], r.result.task_id)),
]


@pytest.mark.parametrize(("example_id", "pick"), ACCESS, ids=[f"{a[0]}-{i}" for i, a in enumerate(ACCESS)])
def test_dict_access_equals_typed_access(example_id: str, pick: Any) -> None:
    example = by_id(example_id)
    parsed = model_class(action_of(example.data)).from_dict(example.data)
    by_key, typed = pick(parsed)
    assert by_key == typed
    assert type(by_key) in (str, int, list, dict)  # plain JSON values, not model objects


def test_dict_style_mapping_protocol() -> None:
    example = by_id("ListModels")
    parsed = models.ListModelsResponse.from_dict(example.data)
    assert "Result" in parsed
    assert "Missing" not in parsed
    assert parsed.get("Missing") is None
    assert set(parsed.keys()) == {"ResponseMetadata", "Result"}
    assert dict(parsed) == example.data
    assert dict(parsed.items()) == example.data
    assert parsed.result["List"][0] == example.data["Result"]["List"][0]
    assert parsed.result.list_[0]["ModelID"] == parsed.result.list_[0].model_id == "m-20210812150750-w54j6"
    with pytest.raises(KeyError):
        parsed["Missing"]


def test_typed_values_have_the_documented_types() -> None:
    parsed = models.GetModelVersionResponse.from_dict(by_id("InnerGetModelVersion").data)
    assert parsed.result.model_format is models.ModelFormat.SAVEDMODEL
    assert parsed.result.source_type is models.SourceType.TOS
    assert parsed.result.model_version == 14
    tasks = models.ListPerfTasksResponse.from_dict(by_id("ListPerfTasks").data)
    assert tasks.result.list_[0].task_status is models.TaskStatus.STOPPING
    assert tasks.result.list_[0].task_status.is_known
