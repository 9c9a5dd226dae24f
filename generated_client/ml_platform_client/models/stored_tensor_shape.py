from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset, WireMapping

T = TypeVar("T", bound="StoredTensorShape")


@_attrs_define(repr=False)
class StoredTensorShape(WireMapping):
    """
    Attributes:
        min_shape (list[int] | Unset):
        max_shape (list[int] | Unset):
    """

    min_shape: list[int] | Unset = UNSET
    max_shape: list[int] | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        min_shape: list[int] | Unset = UNSET
        if not isinstance(self.min_shape, Unset):
            min_shape = self.min_shape

        max_shape: list[int] | Unset = UNSET
        if not isinstance(self.max_shape, Unset):
            max_shape = self.max_shape

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if min_shape is not UNSET:
            field_dict["MinShape"] = min_shape
        if max_shape is not UNSET:
            field_dict["MaxShape"] = max_shape

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        min_shape = cast(list[int], d.pop("MinShape", UNSET))

        max_shape = cast(list[int], d.pop("MaxShape", UNSET))

        stored_tensor_shape = cls(
            min_shape=min_shape,
            max_shape=max_shape,
        )

        stored_tensor_shape.additional_properties = d
        return stored_tensor_shape

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
