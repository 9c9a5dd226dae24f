from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.perf_tensor_d_type import PerfTensorDType
from ..types import WireMapping

if TYPE_CHECKING:
    from ..models.perf_tensor_shape import PerfTensorShape


T = TypeVar("T", bound="PerfTensor")


@_attrs_define(repr=False)
class PerfTensor(WireMapping):
    """
    Attributes:
        tensor_name (str):
        shape (PerfTensorShape): The range a perf job measures the tensor over: MinShape and MaxShape have the same
            length, and each MinShape dimension is at most MaxShape's (refused with InvalidParameter naming
            `...Shape.MinShape` otherwise).
        d_type (PerfTensorDType):
    """

    tensor_name: str
    shape: PerfTensorShape
    d_type: PerfTensorDType
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        tensor_name = self.tensor_name

        shape = self.shape.to_dict()

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
        from ..models.perf_tensor_shape import PerfTensorShape  # noqa: PLC0415

        d = dict(src_dict)
        tensor_name = d.pop("TensorName")

        shape = PerfTensorShape.from_dict(d.pop("Shape"))

        d_type = PerfTensorDType(d.pop("DType"))

        perf_tensor = cls(
            tensor_name=tensor_name,
            shape=shape,
            d_type=d_type,
        )

        perf_tensor.additional_properties = d
        return perf_tensor

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
