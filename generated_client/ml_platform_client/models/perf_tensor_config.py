from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset, WireMapping

if TYPE_CHECKING:
    from ..models.perf_tensor import PerfTensor


T = TypeVar("T", bound="PerfTensorConfig")


@_attrs_define
class PerfTensorConfig(WireMapping):
    """A perf job's tensor config (shapes as ranges; no STRING or BOOL tensors)

    Attributes:
        inputs (list[PerfTensor]):
        outputs (list[PerfTensor] | None | Unset):
    """

    inputs: list[PerfTensor]
    outputs: list[PerfTensor] | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        inputs = []
        for inputs_item_data in self.inputs:
            inputs_item = inputs_item_data.to_dict()
            inputs.append(inputs_item)

        outputs: list[dict[str, Any]] | None | Unset
        if isinstance(self.outputs, Unset):
            outputs = UNSET
        elif isinstance(self.outputs, list):
            outputs = []
            for outputs_type_0_item_data in self.outputs:
                outputs_type_0_item = outputs_type_0_item_data.to_dict()
                outputs.append(outputs_type_0_item)

        else:
            outputs = self.outputs

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "Inputs": inputs,
            }
        )
        if outputs is not UNSET:
            field_dict["Outputs"] = outputs

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.perf_tensor import PerfTensor  # noqa: PLC0415

        d = dict(src_dict)
        inputs = []
        _inputs = d.pop("Inputs")
        for inputs_item_data in _inputs:
            inputs_item = PerfTensor.from_dict(inputs_item_data)

            inputs.append(inputs_item)

        def _parse_outputs(data: object) -> list[PerfTensor] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                outputs_type_0 = []
                _outputs_type_0 = data
                for outputs_type_0_item_data in _outputs_type_0:
                    outputs_type_0_item = PerfTensor.from_dict(outputs_type_0_item_data)

                    outputs_type_0.append(outputs_type_0_item)

                return outputs_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[PerfTensor] | None | Unset, data)

        outputs = _parse_outputs(d.pop("Outputs", UNSET))

        perf_tensor_config = cls(
            inputs=inputs,
            outputs=outputs,
        )

        perf_tensor_config.additional_properties = d
        return perf_tensor_config

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
