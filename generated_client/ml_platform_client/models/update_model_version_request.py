from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

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
        model_version_id (str): a model version ID: {ModelID}-{version number}, e.g. m-20210812150750-w54j6-14 Example:
            m-20210812150750-w54j6-14.
        description (None | str | Unset):
        tensor_config (ModelTensorConfig | None | Unset):
        metrics_list (list[Metrics] | None | Unset):
    """

    model_version_id: str
    description: None | str | Unset = UNSET
    tensor_config: ModelTensorConfig | None | Unset = UNSET
    metrics_list: list[Metrics] | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.model_tensor_config import ModelTensorConfig  # noqa: PLC0415

        model_version_id = self.model_version_id

        description: None | str | Unset
        if isinstance(self.description, Unset):
            description = UNSET
        else:
            description = self.description

        tensor_config: dict[str, Any] | None | Unset
        if isinstance(self.tensor_config, Unset):
            tensor_config = UNSET
        elif isinstance(self.tensor_config, ModelTensorConfig):
            tensor_config = self.tensor_config.to_dict()
        else:
            tensor_config = self.tensor_config

        metrics_list: list[dict[str, Any]] | None | Unset
        if isinstance(self.metrics_list, Unset):
            metrics_list = UNSET
        elif isinstance(self.metrics_list, list):
            metrics_list = []
            for componentsschemas_metrics_list_item_data in self.metrics_list:
                componentsschemas_metrics_list_item = componentsschemas_metrics_list_item_data.to_dict()
                metrics_list.append(componentsschemas_metrics_list_item)

        else:
            metrics_list = self.metrics_list

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

        def _parse_description(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        description = _parse_description(d.pop("Description", UNSET))

        def _parse_tensor_config(data: object) -> ModelTensorConfig | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, dict):
                    raise TypeError()
                tensor_config_type_1 = ModelTensorConfig.from_dict(data)

                return tensor_config_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(ModelTensorConfig | None | Unset, data)

        tensor_config = _parse_tensor_config(d.pop("TensorConfig", UNSET))

        def _parse_metrics_list(data: object) -> list[Metrics] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                metrics_list_type_1 = []
                _metrics_list_type_1 = data
                for componentsschemas_metrics_list_item_data in _metrics_list_type_1:
                    componentsschemas_metrics_list_item = Metrics.from_dict(
                        componentsschemas_metrics_list_item_data
                    )

                    metrics_list_type_1.append(componentsschemas_metrics_list_item)

                return metrics_list_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[Metrics] | None | Unset, data)

        metrics_list = _parse_metrics_list(d.pop("MetricsList", UNSET))

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
