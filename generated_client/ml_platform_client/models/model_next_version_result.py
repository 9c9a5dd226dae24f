from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import WireMapping

T = TypeVar("T", bound="ModelNextVersionResult")


@_attrs_define(repr=False)
class ModelNextVersionResult(WireMapping):
    """
    Attributes:
        model_version (int): The number the next registration would get
    """

    model_version: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        model_version = self.model_version

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "ModelVersion": model_version,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        model_version = d.pop("ModelVersion")

        model_next_version_result = cls(
            model_version=model_version,
        )

        model_next_version_result.additional_properties = d
        return model_next_version_result

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
