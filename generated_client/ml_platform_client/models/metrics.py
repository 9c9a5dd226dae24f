from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.metrics_type import MetricsType
from ..types import WireMapping

T = TypeVar("T", bound="Metrics")


@_attrs_define
class Metrics(WireMapping):
    """
    Attributes:
        metrics_type (MetricsType):
        params (str): A string holding one valid JSON document (not the empty string), e.g. "{}"
        metrics_data (str): A string holding one valid JSON document (not the empty string), e.g. "{}"
    """

    metrics_type: MetricsType
    params: str
    metrics_data: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        metrics_type = self.metrics_type.value

        params = self.params

        metrics_data = self.metrics_data

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "MetricsType": metrics_type,
                "Params": params,
                "MetricsData": metrics_data,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        metrics_type = MetricsType(d.pop("MetricsType"))

        params = d.pop("Params")

        metrics_data = d.pop("MetricsData")

        metrics = cls(
            metrics_type=metrics_type,
            params=params,
            metrics_data=metrics_data,
        )

        metrics.additional_properties = d
        return metrics

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
