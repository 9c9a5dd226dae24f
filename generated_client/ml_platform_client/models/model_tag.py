from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import WireMapping

T = TypeVar("T", bound="ModelTag")


@_attrs_define(repr=False)
class ModelTag(WireMapping):
    """
    Attributes:
        key (str):
        value (str):
    """

    key: str
    value: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        key = self.key

        value = self.value

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "Key": key,
                "Value": value,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        key = d.pop("Key")

        value = d.pop("Value")

        model_tag = cls(
            key=key,
            value=value,
        )

        model_tag.additional_properties = d
        return model_tag

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
