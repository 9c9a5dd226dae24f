from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import WireMapping

T = TypeVar("T", bound="ServiceModelRef")


@_attrs_define(repr=False)
class ServiceModelRef(WireMapping):
    """
    Attributes:
        model_id (str): a model ID: m-{yyyymmddHHMMSS}-{5 lowercase letters or digits}, e.g. m-20210812150750-w54j6
            Example: m-20210812150750-w54j6.
        model_version_id (str): a model version ID: {ModelID}-{version number}, e.g. m-20210812150750-w54j6-14 Example:
            m-20210812150750-w54j6-14.
    """

    model_id: str
    model_version_id: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        model_id = self.model_id

        model_version_id = self.model_version_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "ModelID": model_id,
                "ModelVersionID": model_version_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        model_id = d.pop("ModelID")

        model_version_id = d.pop("ModelVersionID")

        service_model_ref = cls(
            model_id=model_id,
            model_version_id=model_version_id,
        )

        service_model_ref.additional_properties = d
        return service_model_ref

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
