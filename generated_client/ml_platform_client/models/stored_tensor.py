from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset, WireMapping

if TYPE_CHECKING:
    from ..models.stored_tensor_shape import StoredTensorShape


T = TypeVar("T", bound="StoredTensor")


@_attrs_define(repr=False)
class StoredTensor(WireMapping):
    """A tensor as stored and echoed back (shape as a list or a MinShape/MaxShape range)

    Attributes:
        tensor_name (str | Unset):
        d_type (str | Unset):
        shape (list[int] | StoredTensorShape | Unset):
    """

    tensor_name: str | Unset = UNSET
    d_type: str | Unset = UNSET
    shape: list[int] | StoredTensorShape | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        tensor_name = self.tensor_name

        d_type = self.d_type

        shape: dict[str, Any] | list[int] | Unset
        if isinstance(self.shape, Unset):
            shape = UNSET
        elif isinstance(self.shape, list):
            shape = self.shape

        else:
            shape = self.shape.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if tensor_name is not UNSET:
            field_dict["TensorName"] = tensor_name
        if d_type is not UNSET:
            field_dict["DType"] = d_type
        if shape is not UNSET:
            field_dict["Shape"] = shape

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.stored_tensor_shape import StoredTensorShape  # noqa: PLC0415

        d = dict(src_dict)
        tensor_name = d.pop("TensorName", UNSET)

        d_type = d.pop("DType", UNSET)

        def _parse_shape(data: object) -> list[int] | StoredTensorShape | Unset:
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                shape_type_0 = cast(list[int], data)

                return shape_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            if not isinstance(data, dict):
                raise TypeError()
            shape_type_1 = StoredTensorShape.from_dict(data)

            return shape_type_1

        shape = _parse_shape(d.pop("Shape", UNSET))

        stored_tensor = cls(
            tensor_name=tensor_name,
            d_type=d_type,
            shape=shape,
        )

        stored_tensor.additional_properties = d
        return stored_tensor

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
