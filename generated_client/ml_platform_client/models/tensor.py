from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.tensor_d_type import TensorDType
from ..types import WireMapping

T = TypeVar("T", bound="Tensor")


@_attrs_define(repr=False)
class Tensor(WireMapping):
    """
    Attributes:
        tensor_name (str):
        shape (list[int]):
        d_type (TensorDType):
    """

    tensor_name: str
    shape: list[int]
    d_type: TensorDType
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        tensor_name = self.tensor_name

        shape = self.shape

        d_type = self.d_type.value

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "TensorName": tensor_name,
                "Shape": shape,
                "DType": d_type,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        tensor_name = d.pop("TensorName")

        shape = cast(list[int], d.pop("Shape"))

        d_type = TensorDType(d.pop("DType"))

        tensor = cls(
            tensor_name=tensor_name,
            shape=shape,
            d_type=d_type,
        )

        tensor.additional_properties = d
        return tensor

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
