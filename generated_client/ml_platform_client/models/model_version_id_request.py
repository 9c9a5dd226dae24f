from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import WireMapping

T = TypeVar("T", bound="ModelVersionIDRequest")


@_attrs_define(repr=False)
class ModelVersionIDRequest(WireMapping):
    """
    Attributes:
        model_version_id (str): a model version ID: {ModelID}-{version number}, e.g. m-20210812150750-w54j6-14 Example:
            m-20210812150750-w54j6-14.
    """

    model_version_id: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        model_version_id = self.model_version_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "ModelVersionID": model_version_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        model_version_id = d.pop("ModelVersionID")

        model_version_id_request = cls(
            model_version_id=model_version_id,
        )

        model_version_id_request.additional_properties = d
        return model_version_id_request

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
