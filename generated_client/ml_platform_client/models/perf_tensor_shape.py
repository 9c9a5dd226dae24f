from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import WireMapping

T = TypeVar("T", bound="PerfTensorShape")


@_attrs_define(repr=False)
class PerfTensorShape(WireMapping):
    """The range a perf job measures the tensor over: MinShape and MaxShape have the same length, and each MinShape
    dimension is at most MaxShape's (refused with InvalidParameter naming `...Shape.MinShape` otherwise).

        Attributes:
            min_shape (list[int]):
            max_shape (list[int]):
    """

    min_shape: list[int]
    max_shape: list[int]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        min_shape = self.min_shape

        max_shape = self.max_shape

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "MinShape": min_shape,
                "MaxShape": max_shape,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        min_shape = cast(list[int], d.pop("MinShape"))

        max_shape = cast(list[int], d.pop("MaxShape"))

        perf_tensor_shape = cls(
            min_shape=min_shape,
            max_shape=max_shape,
        )

        perf_tensor_shape.additional_properties = d
        return perf_tensor_shape

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
