from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import WireMapping

T = TypeVar("T", bound="CreatedVersion")


@_attrs_define(repr=False)
class CreatedVersion(WireMapping):
    """
    Attributes:
        model_version_id (str):
        model_version (int):
    """

    model_version_id: str
    model_version: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        model_version_id = self.model_version_id

        model_version = self.model_version

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "ModelVersionID": model_version_id,
                "ModelVersion": model_version,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        model_version_id = d.pop("ModelVersionID")

        model_version = d.pop("ModelVersion")

        created_version = cls(
            model_version_id=model_version_id,
            model_version=model_version,
        )

        created_version.additional_properties = d
        return created_version

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
