from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import WireMapping

T = TypeVar("T", bound="ModelIDResult")


@_attrs_define(repr=False)
class ModelIDResult(WireMapping):
    """
    Attributes:
        model_id (str):
    """

    model_id: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        model_id = self.model_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "ModelID": model_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        model_id = d.pop("ModelID")

        model_id_result = cls(
            model_id=model_id,
        )

        model_id_result.additional_properties = d
        return model_id_result

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
