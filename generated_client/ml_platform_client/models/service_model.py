from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset, WireMapping

T = TypeVar("T", bound="ServiceModel")


@_attrs_define(repr=False)
class ServiceModel(WireMapping):
    """
    Attributes:
        model_id (str):
        model_version_id (str):
        version (str | Unset):
        type_ (str | Unset):
        path (str | Unset):
        name (str | Unset):
    """

    model_id: str
    model_version_id: str
    version: str | Unset = UNSET
    type_: str | Unset = UNSET
    path: str | Unset = UNSET
    name: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        model_id = self.model_id

        model_version_id = self.model_version_id

        version = self.version

        type_ = self.type_

        path = self.path

        name = self.name

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "ModelID": model_id,
                "ModelVersionID": model_version_id,
            }
        )
        if version is not UNSET:
            field_dict["Version"] = version
        if type_ is not UNSET:
            field_dict["Type"] = type_
        if path is not UNSET:
            field_dict["Path"] = path
        if name is not UNSET:
            field_dict["Name"] = name

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        model_id = d.pop("ModelID")

        model_version_id = d.pop("ModelVersionID")

        version = d.pop("Version", UNSET)

        type_ = d.pop("Type", UNSET)

        path = d.pop("Path", UNSET)

        name = d.pop("Name", UNSET)

        service_model = cls(
            model_id=model_id,
            model_version_id=model_version_id,
            version=version,
            type_=type_,
            path=path,
            name=name,
        )

        service_model.additional_properties = d
        return service_model

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
