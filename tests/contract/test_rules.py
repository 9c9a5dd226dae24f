"""The validation rules of wire-protocol section 4 (and the pagination rules of section 2), as the
document's schemas enforce them: each rule broken is rejected with a message naming the field (and the
allowed values for an enumeration); the valid forms are accepted."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from volcengine_ml_platform import schema

# ---- wire-protocol section 4, written down here as the contract -------------------------------------
MODEL_FORMATS = [
    "SavedModel",
    "GraphDef",
    "TorchScript",
    "PTX",
    "CaffeModel",
    "NetDef",
    "MXNetParams",
    "Scikit_Learn",
    "XGBoost",
    "TensorRT",
    "ONNX",
    "Custom",
]
FRAMEWORKS = [
    "TensorFlow",
    "PyTorch",
    "ONNX",
    "Caffe",
    "Caffe2",
    "MXNet",
    "TensorRT",
    "Scikit_Learn",
    "XGBoost",
    "LightGBM",
]
MODEL_CATEGORIES = ["TextClassification", "TabularClassification", "TabularRegression", "ImageClassification"]
SOURCE_TYPES = ["TOS", "Local", "AutoML", "Perf"]
DTYPES = [
    "FLOAT16",
    "FLOAT",
    "DOUBLE",
    "INT8",
    "INT16",
    "INT32",
    "INT64",
    "UINT8",
    "UINT16",
    "UINT32",
    "UINT64",
    "STRING",
    "BOOL",
]
PERF_DTYPES = [d for d in DTYPES if d not in ("STRING", "BOOL")]
METRICS_TYPES = [
    "ImageClassification",
    "TextClassification",
    "TabularClassification",
    "TabularRegression",
    "TextEntity",
    "Perf",
]

MODEL_ID = "m-20210812150750-w54j6"
VERSION_ID = "m-20210812150750-w54j6-14"
JOB_ID = "pj-20210914105554-nvh45"
TASK_ID = "pf-20210914105554-fb564"

TENSOR = {"TensorName": "serving_default_Conv1_input:0", "Shape": [-1, 28, 28, 1], "DType": "FLOAT"}
METRICS = {
    "MetricsType": "ImageClassification",
    "Params": '{"top_k": 5}',
    "MetricsData": '{"accuracy": 0.98}',
}
VERSION_INFO = {
    "ModelFormat": "SavedModel",
    "ModelType": "TensorFlow:2.4",
    "Path": "tos://ml-platform-auto-created-required-2100000050-cn-north-4/modelrepo/from-sdk-repo/1631236594036/1/",
    "SourceType": "TOS",
    "Description": "mnist",
    "TensorConfig": {"Inputs": [TENSOR], "Outputs": [{"TensorName": "out", "Shape": [10], "DType": "FLOAT"}]},
    "MetricsList": [METRICS],
    "ModelTags": [{"Key": "team", "Value": "vision"}],
}
CREATE_MODEL = {"ModelName": "mnist", "ModelCategory": "ImageClassification", "VersionInfo": VERSION_INFO}
PERF_TENSOR = {
    "TensorName": "serving_default_Conv1_input:0",
    "DType": "FLOAT",
    "Shape": {"MinShape": [1, 28, 28, 1], "MaxShape": [8, 28, 28, 1]},
}
CREATE_PERF_JOB = {
    "ModelVersionID": VERSION_ID,
    "TensorConfig": {"Inputs": [PERF_TENSOR]},
    "JobType": "PERF_ONLY",
    "JobParamsList": [
        {"FlavorIDList": ["ml.g1e.large"], "ConvertType": "base", "ConvertPrecisionList": ["FP16"]}
    ],
}
UPDATE_VERSION = {"ModelVersionID": VERSION_ID, "MetricsList": [METRICS]}
LIST_REQUESTS: dict[str, dict[str, Any]] = {
    "ListModelsRequest": {},
    "ListModelVersionsRequest": {"ModelID": MODEL_ID},
    "ListPerfJobsRequest": {},
    "ListPerfTasksRequest": {},
    "ListServicesRequest": {},
    "ListResourceRequest": {},
}
SORT_BY = {
    "ListModelsRequest": ["CreateTime", "ModelName"],
    "ListModelVersionsRequest": ["CreateTime", "ModelVersion"],
    "ListPerfJobsRequest": ["CreateTime"],
    "ListPerfTasksRequest": ["CreateTime"],
    "ListServicesRequest": ["CreateTime"],
    "ListResourceRequest": ["CreateTime", "Name"],
}

Path = tuple[str | int, ...]


def put(base: dict[str, Any], path: Path, value: Any) -> dict[str, Any]:
    out = copy.deepcopy(base)
    node: Any = out
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return out


def drop(base: dict[str, Any], path: Path) -> dict[str, Any]:
    out = copy.deepcopy(base)
    node: Any = out
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return out


def field(path: Path) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


# ---- broken rules -----------------------------------------------------------------------------------
# (id, schema name, instance, field the message must name, what the message must say)
Broken = tuple[str, str, dict[str, Any], str, str]

VI: Path = ("VersionInfo",)
IN0: Path = (*VI, "TensorConfig", "Inputs", 0)
M0: Path = (*VI, "MetricsList", 0)
P0: Path = ("TensorConfig", "Inputs", 0)


def broken_cases() -> list[Broken]:
    cases: list[Broken] = [
        (
            "ModelFormat unknown",
            "CreateModelRequest",
            put(CREATE_MODEL, (*VI, "ModelFormat"), "Pickle"),
            "VersionInfo.ModelFormat",
            "allowed values: " + ", ".join(MODEL_FORMATS),
        ),
        (
            "ModelFormat wrong case",
            "CreateModelRequest",
            put(CREATE_MODEL, (*VI, "ModelFormat"), "savedmodel"),
            "VersionInfo.ModelFormat",
            "allowed values",
        ),
        (
            "ModelType without colon",
            "CreateModelRequest",
            put(CREATE_MODEL, (*VI, "ModelType"), "TensorFlow2.4"),
            "VersionInfo.ModelType",
            "<framework>:<version>",
        ),
        (
            "ModelType unknown framework",
            "CreateModelRequest",
            put(CREATE_MODEL, (*VI, "ModelType"), "Keras:2.4"),
            "VersionInfo.ModelType",
            "framework one of TensorFlow",
        ),
        (
            "ModelType framework wrong case",
            "CreateModelRequest",
            put(CREATE_MODEL, (*VI, "ModelType"), "tensorflow:2.4"),
            "VersionInfo.ModelType",
            "not valid",
        ),
        (
            "ModelType without version",
            "CreateModelRequest",
            put(CREATE_MODEL, (*VI, "ModelType"), "TensorFlow:"),
            "VersionInfo.ModelType",
            "not valid",
        ),
        (
            "ModelCategory unknown",
            "CreateModelRequest",
            put(CREATE_MODEL, ("ModelCategory",), "ObjectDetection"),
            "ModelCategory",
            "allowed values: " + ", ".join(MODEL_CATEGORIES),
        ),
        (
            "SourceType unknown",
            "CreateModelRequest",
            put(CREATE_MODEL, (*VI, "SourceType"), "S3"),
            "VersionInfo.SourceType",
            "allowed values: " + ", ".join(SOURCE_TYPES),
        ),
        (
            "CreateModel without VersionInfo",
            "CreateModelRequest",
            drop(CREATE_MODEL, VI),
            "VersionInfo",
            "is required",
        ),
        (
            "InnerCreateModel without VersionInfo",
            "InnerCreateModelRequest",
            drop(CREATE_MODEL, VI),
            "VersionInfo",
            "is required",
        ),
        (
            "VersionInfo without Path",
            "CreateModelRequest",
            drop(CREATE_MODEL, (*VI, "Path")),
            "VersionInfo.Path",
            "is required",
        ),
        (
            "tensor Shape empty",
            "CreateModelRequest",
            put(CREATE_MODEL, (*IN0, "Shape"), []),
            field((*IN0, "Shape")),
            "at least 1 item",
        ),
        (
            "tensor Shape not a list",
            "CreateModelRequest",
            put(CREATE_MODEL, (*IN0, "Shape"), {"MinShape": [1]}),
            field((*IN0, "Shape")),
            "expected array",
        ),
        (
            "tensor DType FP32",
            "CreateModelRequest",
            put(CREATE_MODEL, (*IN0, "DType"), "FP32"),
            field((*IN0, "DType")),
            "allowed values: " + ", ".join(DTYPES),
        ),
        (
            "tensor DType lowercase",
            "CreateModelRequest",
            put(CREATE_MODEL, (*IN0, "DType"), "float"),
            field((*IN0, "DType")),
            "allowed values",
        ),
        (
            "output tensor DType bad",
            "UpdateModelVersionRequest",
            {
                "ModelVersionID": VERSION_ID,
                "TensorConfig": {"Inputs": [TENSOR], "Outputs": [{**TENSOR, "DType": "X"}]},
            },
            "TensorConfig.Outputs[0].DType",
            "allowed values",
        ),
        (
            "model TensorConfig without Inputs",
            "UpdateModelVersionRequest",
            {"ModelVersionID": VERSION_ID, "TensorConfig": {"Outputs": [TENSOR]}},
            "TensorConfig.Inputs",
            "is required",
        ),
        (
            "perf Shape without MinShape",
            "CreatePerfJobRequest",
            drop(CREATE_PERF_JOB, (*P0, "Shape", "MinShape")),
            field((*P0, "Shape", "MinShape")),
            "is required",
        ),
        (
            "perf Shape without MaxShape",
            "CreatePerfJobRequest",
            drop(CREATE_PERF_JOB, (*P0, "Shape", "MaxShape")),
            field((*P0, "Shape", "MaxShape")),
            "is required",
        ),
        (
            "perf Shape as a model shape",
            "CreatePerfJobRequest",
            put(CREATE_PERF_JOB, (*P0, "Shape"), [1, 28, 28, 1]),
            field((*P0, "Shape")),
            "expected object",
        ),
        (
            "perf MinShape empty",
            "CreatePerfJobRequest",
            put(CREATE_PERF_JOB, (*P0, "Shape", "MinShape"), []),
            field((*P0, "Shape", "MinShape")),
            "at least 1 item",
        ),
        (
            "perf DType FP32",
            "CreatePerfJobRequest",
            put(CREATE_PERF_JOB, (*P0, "DType"), "FP32"),
            field((*P0, "DType")),
            "allowed values: " + ", ".join(PERF_DTYPES),
        ),
        (
            "JobParamsList empty",
            "CreatePerfJobRequest",
            put(CREATE_PERF_JOB, ("JobParamsList",), []),
            "JobParamsList",
            "at least 1 item",
        ),
        (
            "FlavorIDList empty",
            "CreatePerfJobRequest",
            put(CREATE_PERF_JOB, ("JobParamsList", 0, "FlavorIDList"), []),
            "JobParamsList[0].FlavorIDList",
            "at least 1 item",
        ),
        (
            "JobParams without FlavorIDList",
            "CreatePerfJobRequest",
            drop(CREATE_PERF_JOB, ("JobParamsList", 0, "FlavorIDList")),
            "JobParamsList[0].FlavorIDList",
            "is required",
        ),
        (
            "JobType unknown",
            "CreatePerfJobRequest",
            put(CREATE_PERF_JOB, ("JobType",), "CONVERT_ONLY"),
            "JobType",
            "allowed values: PERF_ONLY, CONVERT_PERF",
        ),
        (
            "MetricsList empty",
            "CreateModelRequest",
            put(CREATE_MODEL, (*VI, "MetricsList"), []),
            "VersionInfo.MetricsList",
            "at least 1 item",
        ),
        (
            "MetricsList empty on update",
            "UpdateModelVersionRequest",
            put(UPDATE_VERSION, ("MetricsList",), []),
            "MetricsList",
            "at least 1 item",
        ),
        (
            "MetricsType unknown",
            "CreateModelRequest",
            put(CREATE_MODEL, (*M0, "MetricsType"), "Latency"),
            field((*M0, "MetricsType")),
            "allowed values: " + ", ".join(METRICS_TYPES),
        ),
    ]
    for name in ("TensorName", "Shape", "DType"):
        cases.append(
            (
                f"tensor without {name}",
                "CreateModelRequest",
                drop(CREATE_MODEL, (*IN0, name)),
                field((*IN0, name)),
                "is required",
            )
        )
        cases.append(
            (
                f"perf tensor without {name}",
                "CreatePerfJobRequest",
                drop(CREATE_PERF_JOB, (*P0, name)),
                field((*P0, name)),
                "is required",
            )
        )
    for dtype in ("STRING", "BOOL"):
        cases.append(
            (
                f"perf DType {dtype}",
                "CreatePerfJobRequest",
                put(CREATE_PERF_JOB, (*P0, "DType"), dtype),
                field((*P0, "DType")),
                "allowed values: " + ", ".join(PERF_DTYPES),
            )
        )
    for key in ("Params", "MetricsData"):
        for bad in ("{", "{'top_k': 5}", "", "top_k=5", '{"a": 1,}'):
            cases.append(
                (
                    f"{key} not JSON {bad!r}",
                    "CreateModelRequest",
                    put(CREATE_MODEL, (*M0, key), bad),
                    field((*M0, key)),
                    "must be a string holding valid JSON",
                )
            )
        for bad_type in ({"top_k": 5}, 5, None, ["a"]):
            cases.append(
                (
                    f"{key} not a string {type(bad_type).__name__}",
                    "CreateModelRequest",
                    put(CREATE_MODEL, (*M0, key), bad_type),
                    field((*M0, key)),
                    "expected string",
                )
            )
        cases.append(
            (
                f"Metrics without {key}",
                "CreateModelRequest",
                drop(CREATE_MODEL, (*M0, key)),
                field((*M0, key)),
                "is required",
            )
        )
    ids = {
        "ModelIDRequest": (
            "ModelID",
            [
                VERSION_ID,
                "m-2021081215075-w54j6",
                "m-20210812150750-W54J6",
                "m-20210812150750-w54j",
                "M-20210812150750-w54j6",
                "20210812150750-w54j6",
                " m-20210812150750-w54j6",
                "",
            ],
        ),
        "ModelVersionIDRequest": (
            "ModelVersionID",
            [MODEL_ID, f"{MODEL_ID}-", f"{MODEL_ID}-v14", f"{MODEL_ID}_14", "m-20210812150750-W54J6-14"],
        ),
        "JobIDRequest": ("JobID", [TASK_ID, "pj-2021091410555-nvh45", "pj-20210914105554-NVH45", "pj-"]),
        "TaskIDRequest": ("TaskID", [JOB_ID, "t-20210817143422-xr4dh", "pf-20210914105554-fb56", "pf-"]),
    }
    for schema_name, (key, bads) in ids.items():
        for bad in bads:
            cases.append((f"{key} {bad!r}", schema_name, {key: bad}, key, "is not valid; expected"))
        cases.append((f"{key} not a string", schema_name, {key: 20210812150750}, key, "expected string"))
    explained = [
        ("ModelIDRequest", "ModelID", "m-1", "expected a model ID: m-{yyyymmddHHMMSS}-{5 lowercase letters"),
        ("JobIDRequest", "JobID", "pj-1", "expected a perf job ID: pj-{yyyymmddHHMMSS}-"),
        ("TaskIDRequest", "TaskID", "pf-1", "expected a perf task ID: pf-{yyyymmddHHMMSS}-"),
        ("ServiceIDRequest", "ServiceID", "-s", "expected a service ID: letters, digits"),
    ]
    for schema_name, key, bad, says in explained:
        cases.append((f"{key} pattern is explained", schema_name, {key: bad}, key, says))
    for schema_name, base in LIST_REQUESTS.items():
        cases += [
            (
                f"{schema_name} Offset -1",
                schema_name,
                {**base, "Offset": -1},
                "Offset",
                "less than the minimum of 0",
            ),
            (
                f"{schema_name} Limit 0",
                schema_name,
                {**base, "Limit": 0},
                "Limit",
                "less than the minimum of 1",
            ),
            (
                f"{schema_name} Limit 101",
                schema_name,
                {**base, "Limit": 101},
                "Limit",
                "greater than the maximum of 100",
            ),
            (f"{schema_name} Limit '10'", schema_name, {**base, "Limit": "10"}, "Limit", "expected integer"),
            (
                f"{schema_name} SortBy bogus",
                schema_name,
                {**base, "SortBy": "UpdateTime"},
                "SortBy",
                "allowed values: " + ", ".join(SORT_BY[schema_name]),
            ),
        ]
        for order in ("Asc", "descend", "DESC", ""):
            cases.append(
                (
                    f"{schema_name} SortOrder {order!r}",
                    schema_name,
                    {**base, "SortOrder": order},
                    "SortOrder",
                    "allowed values: Ascend, Descend",
                )
            )
    cases += [
        (
            "ListModels SortBy ModelVersion",
            "ListModelsRequest",
            {"SortBy": "ModelVersion"},
            "SortBy",
            "allowed values: CreateTime, ModelName",
        ),
        (
            "ListModelVersions SortBy ModelName",
            "ListModelVersionsRequest",
            {"ModelID": MODEL_ID, "SortBy": "ModelName"},
            "SortBy",
            "allowed values: CreateTime, ModelVersion",
        ),
        (
            "ListPerfJobs SortBy ModelName",
            "ListPerfJobsRequest",
            {"SortBy": "ModelName"},
            "SortBy",
            "allowed values: CreateTime",
        ),
        ("ListModelVersions without ModelID", "ListModelVersionsRequest", {}, "ModelID", "is required"),
    ]
    return cases


# Python's `$` also matches before a trailing "\n"; the document's patterns are ECMA-262, where it does
# not, and schema.py checks them that way. json.loads accepts NaN / Infinity, which are not JSON.

EDGE_CASES = [
    pytest.param(
        "ModelIDRequest",
        {"ModelID": MODEL_ID + "\n"},
        "ModelID",
        "is not valid",
        id="ModelID with a trailing newline",
    ),
    pytest.param(
        "ModelVersionIDRequest",
        {"ModelVersionID": VERSION_ID + "\n"},
        "ModelVersionID",
        "is not valid",
        id="ModelVersionID with a trailing newline",
    ),
    pytest.param(
        "JobIDRequest",
        {"JobID": JOB_ID + "\n"},
        "JobID",
        "is not valid",
        id="JobID with a trailing newline",
    ),
    pytest.param(
        "TaskIDRequest",
        {"TaskID": TASK_ID + "\n"},
        "TaskID",
        "is not valid",
        id="TaskID with a trailing newline",
    ),
    pytest.param(
        "CreateModelRequest",
        put(CREATE_MODEL, (*VI, "ModelType"), "TensorFlow:2.4\n"),
        "VersionInfo.ModelType",
        "is not valid",
        id="ModelType with a trailing newline",
    ),
    pytest.param(
        "CreateModelRequest",
        put(CREATE_MODEL, ("ModelName",), "mnist\n"),
        "ModelName",
        "is not valid",
        id="ModelName ending in a control character",
    ),
    pytest.param(
        "CreateModelRequest",
        put(CREATE_MODEL, (*VI, "Path"), "tos://bucket-name/key\n"),
        "VersionInfo.Path",
        "is not valid",
        id="Path with a trailing newline",
    ),
    pytest.param(
        "CreateModelRequest",
        put(CREATE_MODEL, (*M0, "Params"), "NaN"),
        field((*M0, "Params")),
        "valid JSON",
        id="Params 'NaN'",
    ),
    pytest.param(
        "CreateModelRequest",
        put(CREATE_MODEL, (*M0, "MetricsData"), '{"accuracy": Infinity}'),
        field((*M0, "MetricsData")),
        "valid JSON",
        id="MetricsData with Infinity",
    ),
]


def _check_rejected(schema_name: str, instance: Any, where: str, says: str) -> None:
    problems = schema.problems(schema_name, instance)
    assert len(problems) == 1, f"expected exactly one problem, got {problems}"
    (message,) = problems
    assert message.startswith((f"{where}:", f"{where} ")), f"{message!r} does not name {where}"
    assert says in message, f"{message!r} does not say {says!r}"


@pytest.mark.parametrize(
    ("case_id", "schema_name", "instance", "where", "says"),
    broken_cases(),
    ids=[c[0] for c in broken_cases()],
)
def test_broken_rule_is_rejected_naming_the_field(
    case_id: str, schema_name: str, instance: Any, where: str, says: str
) -> None:
    _check_rejected(schema_name, instance, where, says)


@pytest.mark.parametrize(("schema_name", "instance", "where", "says"), EDGE_CASES)
def test_trailing_newlines_and_non_json_constants_are_rejected(
    schema_name: str, instance: Any, where: str, says: str
) -> None:
    _check_rejected(schema_name, instance, where, says)


@pytest.mark.parametrize("dtype", ["STRING", "BOOL"])
def test_perf_dtype_message_does_not_offer_the_excluded_values(dtype: str) -> None:
    (message,) = schema.problems("CreatePerfJobRequest", put(CREATE_PERF_JOB, (*P0, "DType"), dtype))
    allowed = message.split("allowed values: ", 1)[1].split(", ")
    assert allowed == PERF_DTYPES


# ---- valid forms ------------------------------------------------------------------------------------


def accepted_cases() -> list[tuple[str, str, Any]]:
    cases: list[tuple[str, str, Any]] = [
        ("CreateModel full", "CreateModelRequest", CREATE_MODEL),
        (
            "CreateModel minimal",
            "CreateModelRequest",
            {"VersionInfo": {k: VERSION_INFO[k] for k in ("ModelFormat", "ModelType", "Path")}},
        ),
        (
            "CreateModel new version of ModelID",
            "CreateModelRequest",
            {"ModelID": MODEL_ID, "VersionInfo": VERSION_INFO},
        ),
        (
            "InnerCreateModel converted",
            "InnerCreateModelRequest",
            put(put(CREATE_MODEL, (*VI, "BaseModelVersionID"), VERSION_ID), (*VI, "SourceId"), TASK_ID),
        ),
        (
            "model TensorConfig Inputs empty",
            "UpdateModelVersionRequest",
            {"ModelVersionID": VERSION_ID, "TensorConfig": {"Inputs": []}},
        ),
        (
            "model tensor without Outputs",
            "CreateModelRequest",
            drop(CREATE_MODEL, (*VI, "TensorConfig", "Outputs")),
        ),
        ("CreatePerfJob", "CreatePerfJobRequest", CREATE_PERF_JOB),
        (
            "CreatePerfJob CONVERT_PERF minimal params",
            "CreatePerfJobRequest",
            {**CREATE_PERF_JOB, "JobType": "CONVERT_PERF", "JobParamsList": [{"FlavorIDList": ["a", "b"]}]},
        ),
        ("UpdateModelVersion", "UpdateModelVersionRequest", UPDATE_VERSION),
        ("ModelID", "ModelIDRequest", {"ModelID": MODEL_ID}),
        ("ModelVersionID", "ModelVersionIDRequest", {"ModelVersionID": VERSION_ID}),
        ("ModelVersionID version 1", "ModelVersionIDRequest", {"ModelVersionID": MODEL_ID + "-1"}),
        ("JobID", "JobIDRequest", {"JobID": JOB_ID}),
        ("TaskID", "TaskIDRequest", {"TaskID": TASK_ID}),
        (
            "ListModelVersions exact version",
            "ListModelVersionsRequest",
            {"ModelID": MODEL_ID, "ModelVersion": 14},
        ),
        ("ListPerfJobs filters", "ListPerfJobsRequest", {"ModelVersionID": VERSION_ID, "JobID": JOB_ID}),
        ("ListPerfTasks filters", "ListPerfTasksRequest", {"TaskID": TASK_ID, "JobID": JOB_ID}),
    ]
    cases += [
        (f"ModelFormat {v}", "CreateModelRequest", put(CREATE_MODEL, (*VI, "ModelFormat"), v))
        for v in MODEL_FORMATS
    ]
    cases += [
        (f"ModelType {f}", "CreateModelRequest", put(CREATE_MODEL, (*VI, "ModelType"), f"{f}:{version}"))
        for f in FRAMEWORKS
        for version in ("2.4", "1.8.1+cu111")
    ]
    cases += [
        (f"ModelCategory {v}", "CreateModelRequest", put(CREATE_MODEL, ("ModelCategory",), v))
        for v in MODEL_CATEGORIES
    ]
    cases += [
        (f"SourceType {v}", "CreateModelRequest", put(CREATE_MODEL, (*VI, "SourceType"), v))
        for v in SOURCE_TYPES
    ]
    cases += [(f"DType {v}", "CreateModelRequest", put(CREATE_MODEL, (*IN0, "DType"), v)) for v in DTYPES]
    cases += [
        (f"perf DType {v}", "CreatePerfJobRequest", put(CREATE_PERF_JOB, (*P0, "DType"), v))
        for v in PERF_DTYPES
    ]
    cases += [
        (f"MetricsType {v}", "CreateModelRequest", put(CREATE_MODEL, (*M0, "MetricsType"), v))
        for v in METRICS_TYPES
    ]
    for key in ("Params", "MetricsData"):
        for good in ("{}", "[]", '"text"', "1", "null", "true", ' {"a": [1, 2.5e3, {"b": null}]} '):
            cases.append((f"{key} {good!r}", "CreateModelRequest", put(CREATE_MODEL, (*M0, key), good)))
    for schema_name, base in LIST_REQUESTS.items():
        cases += [
            (f"{schema_name} empty", schema_name, base),
            (f"{schema_name} Offset 0", schema_name, {**base, "Offset": 0}),
            (f"{schema_name} Offset large", schema_name, {**base, "Offset": 2147483647}),
            (f"{schema_name} Limit 1", schema_name, {**base, "Limit": 1}),
            (f"{schema_name} Limit 100", schema_name, {**base, "Limit": 100}),
        ]
        cases += [
            (f"{schema_name} SortOrder {o}", schema_name, {**base, "SortOrder": o})
            for o in ("Ascend", "Descend")
        ]
        cases += [
            (f"{schema_name} SortBy {s}", schema_name, {**base, "SortBy": s}) for s in SORT_BY[schema_name]
        ]
        cases.append(
            (
                f"{schema_name} seed defaults",
                schema_name,
                {**base, "Offset": 0, "Limit": 10, "SortBy": "CreateTime", "SortOrder": "Descend"},
            )
        )
    return cases


@pytest.mark.parametrize(
    ("case_id", "schema_name", "instance"), accepted_cases(), ids=[c[0] for c in accepted_cases()]
)
def test_valid_form_is_accepted(case_id: str, schema_name: str, instance: Any) -> None:
    assert schema.problems(schema_name, instance) == []


@pytest.mark.parametrize(
    ("schema_name", "values"),
    [
        ("ModelFormat", MODEL_FORMATS),
        ("ModelCategory", MODEL_CATEGORIES),
        ("SourceType", SOURCE_TYPES),
        ("TensorDType", DTYPES),
        ("PerfTensorDType", PERF_DTYPES),
        ("MetricsType", METRICS_TYPES),
        ("SortOrder", ["Ascend", "Descend"]),
        ("JobType", ["PERF_ONLY", "CONVERT_PERF"]),
    ],
)
def test_enumerations_are_exactly_the_wire_protocol(schema_name: str, values: list[str]) -> None:
    assert schema.enum_values(schema_name) == values


def test_list_defaults_are_documented() -> None:
    schemas = schema.document()["components"]["schemas"]
    assert (schemas["Offset"]["default"], schemas["Limit"]["default"]) == (0, 10)
    assert schemas["SortOrder"]["default"] == "Descend"
    for name in ("ListModelsSortBy", "ListModelVersionsSortBy", "CreateTimeSortBy"):
        assert schemas[name]["default"] == "CreateTime"
    assert schemas["SourceType"]["default"] == "TOS"


def _patterned(node: Any, where: str) -> list[tuple[str, dict[str, Any]]]:
    found: list[tuple[str, dict[str, Any]]] = []
    if isinstance(node, dict):
        if isinstance(node.get("pattern"), str):
            found.append((where, node))
        for key, value in node.items():
            found += _patterned(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            found += _patterned(value, f"{where}/{i}")
    return found


def test_every_pattern_is_described_for_people() -> None:
    """An error against a pattern shows the schema's description ("a perf job ID: pj-..."), so every
    pattern in the document has one that is not the regex itself."""
    patterned = _patterned(schema.document(), "#")
    assert len(patterned) >= 10, patterned
    for where, rule in patterned:
        description = str(rule.get("description", ""))
        assert description and rule["pattern"] not in description, f"{where}: {rule}"
