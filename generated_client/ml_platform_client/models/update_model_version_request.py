from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset, WireMapping

if TYPE_CHECKING:
    from ..models.metrics import Metrics
    from ..models.model_tensor_config import ModelTensorConfig


T = TypeVar("T", bound="UpdateModelVersionRequest")


@_attrs_define(repr=False)
class UpdateModelVersionRequest(WireMapping):
    """
    Attributes:
        model_version_id (str): {ModelID}-{version} Example: m-20210812150750-w54j6-14.
        description (str | Unset):
        tensor_config (ModelTensorConfig | Unset): A model version's tensor config
        metrics_list (list[Metrics] | Unset):
    """

    model_version_id: str
    description: str | Unset = UNSET
    tensor_config: ModelTensorConfig | Unset = UNSET
    metrics_list: list[Metrics] | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        model_version_id = self.model_version_id

        description = self.description

        tensor_config: dict[str, Any] | Unset = UNSET
        if not isinstance(self.tensor_config, Unset):
            tensor_config = self.tensor_config.to_dict()

        metrics_list: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.metrics_list, Unset):
            metrics_list = []
            for componentsschemas_metrics_list_item_data in self.metrics_list:
                componentsschemas_metrics_list_item = componentsschemas_metrics_list_item_data.to_dict()
                metrics_list.append(componentsschemas_metrics_list_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "ModelVersionID": model_version_id,
            }
        )
        if description is not UNSET:
            field_dict["Description"] = description
        if tensor_config is not UNSET:
            field_dict["TensorConfig"] = tensor_config
        if metrics_list is not UNSET:
            field_dict["MetricsList"] = metrics_list

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.metrics import Metrics  # noqa: PLC0415
        from ..models.model_tensor_config import ModelTensorConfig  # noqa: PLC0415

        d = dict(src_dict)
        model_version_id = d.pop("ModelVersionID")

        description = d.pop("Description", UNSET)

        _tensor_config = d.pop("TensorConfig", UNSET)
        tensor_config: ModelTensorConfig | Unset
        if isinstance(_tensor_config, Unset):
            tensor_config = UNSET
        else:
            tensor_config = ModelTensorConfig.from_dict(_tensor_config)

        _metrics_list = d.pop("MetricsList", UNSET)
        metrics_list: list[Metrics] | Unset = UNSET
        if _metrics_list is not UNSET:
            metrics_list = []
            for componentsschemas_metrics_list_item_data in _metrics_list:
                componentsschemas_metrics_list_item = Metrics.from_dict(
                    componentsschemas_metrics_list_item_data
                )

                metrics_list.append(componentsschemas_metrics_list_item)

        update_model_version_request = cls(
            model_version_id=model_version_id,
            description=description,
            tensor_config=tensor_config,
            metrics_list=metrics_list,
        )

        update_model_version_request.additional_properties = d
        return update_model_version_request

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
