from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset, WireMapping

if TYPE_CHECKING:
    from ..models.stored_tensor import StoredTensor


T = TypeVar("T", bound="StoredTensorConfig")


@_attrs_define(repr=False)
class StoredTensorConfig(WireMapping):
    """A tensor config as stored and echoed back in results

    Attributes:
        inputs (list[StoredTensor] | Unset):
        outputs (list[StoredTensor] | Unset):
    """

    inputs: list[StoredTensor] | Unset = UNSET
    outputs: list[StoredTensor] | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        inputs: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.inputs, Unset):
            inputs = []
            for inputs_item_data in self.inputs:
                inputs_item = inputs_item_data.to_dict()
                inputs.append(inputs_item)

        outputs: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.outputs, Unset):
            outputs = []
            for outputs_item_data in self.outputs:
                outputs_item = outputs_item_data.to_dict()
                outputs.append(outputs_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update({})
        if inputs is not UNSET:
            field_dict["Inputs"] = inputs
        if outputs is not UNSET:
            field_dict["Outputs"] = outputs

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.stored_tensor import StoredTensor  # noqa: PLC0415

        d = dict(src_dict)
        _inputs = d.pop("Inputs", UNSET)
        inputs: list[StoredTensor] | Unset = UNSET
        if _inputs is not UNSET:
            inputs = []
            for inputs_item_data in _inputs:
                inputs_item = StoredTensor.from_dict(inputs_item_data)

                inputs.append(inputs_item)

        _outputs = d.pop("Outputs", UNSET)
        outputs: list[StoredTensor] | Unset = UNSET
        if _outputs is not UNSET:
            outputs = []
            for outputs_item_data in _outputs:
                outputs_item = StoredTensor.from_dict(outputs_item_data)

                outputs.append(outputs_item)

        stored_tensor_config = cls(
            inputs=inputs,
            outputs=outputs,
        )

        stored_tensor_config.additional_properties = d
        return stored_tensor_config

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
