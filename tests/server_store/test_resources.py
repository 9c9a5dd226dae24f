"""ListResource: the local flavor catalogue."""

from __future__ import annotations

from typing import Any

import pytest

from mlp_server.errors import ApiError
from mlp_server.store import CATALOGUE, Store

ALL = [(group, f.id) for group, flavors in CATALOGUE.items() for f in flavors]


def listed(store: Store, body: dict[str, Any]) -> list[tuple[str, str]]:
    groups = store.list_resource(1, body)["List"]
    return [(group, flavor["Id"]) for group, flavors in groups.items() for flavor in flavors]


def test_default_flavors_are_there(store: Store) -> None:
    result = store.list_resource(1, {})
    assert set(result) == {"List", "Total"}
    assert result["Total"] == len(ALL)
    gpu = {f["Id"]: f for f in result["List"]["GPU"]}
    assert gpu["ml.g1e.large"] == {
        "Id": "ml.g1e.large",
        "Name": "ml.g1e.large",
        "vCPU": 4,
        "Memory": 16384,
        "GPUType": "local-cpu-emulated",
        "GPUNum": 1,
        "Tags": ["gpu", "emulated"],
    }
    cpu = {f["Id"]: f for f in result["List"]["CPU"]}
    assert (cpu["ml.c1i.large"]["vCPU"], cpu["ml.c1i.large"]["Memory"], cpu["ml.c1i.large"]["GPUNum"]) == (
        2,
        4096,
        0,
    )


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, ALL),
        ({"Name": "ml.g1e.large"}, [("GPU", "ml.g1e.large")]),
        ({"Name": "ml.g1e"}, []),
        ({"NameContains": "C1I.X"}, [("CPU", "ml.c1i.xlarge")]),
        (
            {"NameContains": "xlarge"},
            [("CPU", "ml.c1i.xlarge"), ("CPU", "ml.c1i.2xlarge"), ("GPU", "ml.g1e.xlarge")],
        ),
        ({"Type": "GPU"}, [p for p in ALL if p[0] == "GPU"]),
        ({"Type": "TPU"}, []),
        ({"Tag": "emulated"}, [p for p in ALL if p[0] == "GPU"]),
        ({"Tag": "cpu", "NameContains": "2x"}, [("CPU", "ml.c1i.2xlarge")]),
        ({"Offset": 2, "Limit": 2}, ALL[2:4]),
        ({"Offset": 4}, ALL[4:]),
        ({"Limit": 0}, []),
        ({"Type": "CPU", "Offset": 1, "Limit": 1}, [("CPU", "ml.c1i.xlarge")]),
        ({"SortBy": "CreateTime", "SortOrder": "Ascend"}, ALL),
    ],
)
def test_filters_and_pagination(store: Store, body: dict[str, Any], expected: list[tuple[str, str]]) -> None:
    assert listed(store, body) == expected


def test_negative_offset_is_invalid(store: Store) -> None:
    with pytest.raises(ApiError) as caught:
        store.list_resource(1, {"Offset": -1})
    assert caught.value.code == "InvalidParameter"
