from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.model_format import ModelFormat
from ..models.source_type import SourceType
from ..types import UNSET, Unset, WireMapping

if TYPE_CHECKING:
    from ..models.metrics import Metrics
    from ..models.model_tag import ModelTag
    from ..models.stored_tensor_config import StoredTensorConfig


T = TypeVar("T", bound="ModelVersion")


@_attrs_define(repr=False)
class ModelVersion(WireMapping):
    """
    Attributes:
        model_version_id (str):
        model_version (int):
        model_format (ModelFormat):
        model_type (str):
        path (str):
        description (str):
        source_type (SourceType):
        create_time (str): ISO 8601 with offset
        tensor_config (StoredTensorConfig): A tensor config as stored and echoed back in results
        metrics_list (list[Metrics] | Unset):
        model_tags (list[ModelTag] | Unset):
        base_model_version_id (str | Unset):
        source_id (str | Unset):
    """

    model_version_id: str
    model_version: int
    model_format: ModelFormat
    model_type: str
    path: str
    description: str
    source_type: SourceType
    create_time: str
    tensor_config: StoredTensorConfig
    metrics_list: list[Metrics] | Unset = UNSET
    model_tags: list[ModelTag] | Unset = UNSET
    base_model_version_id: str | Unset = UNSET
    source_id: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        model_version_id = self.model_version_id

        model_version = self.model_version

        model_format = self.model_format.value

        model_type = self.model_type

        path = self.path

        description = self.description

        source_type = self.source_type.value

        create_time = self.create_time

        tensor_config = self.tensor_config.to_dict()

        metrics_list: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.metrics_list, Unset):
            metrics_list = []
            for metrics_list_item_data in self.metrics_list:
                metrics_list_item = metrics_list_item_data.to_dict()
                metrics_list.append(metrics_list_item)

        model_tags: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.model_tags, Unset):
            model_tags = []
            for model_tags_item_data in self.model_tags:
                model_tags_item = model_tags_item_data.to_dict()
                model_tags.append(model_tags_item)

        base_model_version_id = self.base_model_version_id

        source_id = self.source_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "ModelVersionID": model_version_id,
                "ModelVersion": model_version,
                "ModelFormat": model_format,
                "ModelType": model_type,
                "Path": path,
                "Description": description,
                "SourceType": source_type,
                "CreateTime": create_time,
                "TensorConfig": tensor_config,
            }
        )
        if metrics_list is not UNSET:
            field_dict["MetricsList"] = metrics_list
        if model_tags is not UNSET:
            field_dict["ModelTags"] = model_tags
        if base_model_version_id is not UNSET:
            field_dict["BaseModelVersionID"] = base_model_version_id
        if source_id is not UNSET:
            field_dict["SourceId"] = source_id

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.metrics import Metrics  # noqa: PLC0415
        from ..models.model_tag import ModelTag  # noqa: PLC0415
        from ..models.stored_tensor_config import StoredTensorConfig  # noqa: PLC0415

        d = dict(src_dict)
        model_version_id = d.pop("ModelVersionID")

        model_version = d.pop("ModelVersion")

        model_format = ModelFormat(d.pop("ModelFormat"))

        model_type = d.pop("ModelType")

        path = d.pop("Path")

        description = d.pop("Description")

        source_type = SourceType(d.pop("SourceType"))

        create_time = d.pop("CreateTime")

        tensor_config = StoredTensorConfig.from_dict(d.pop("TensorConfig"))

        _metrics_list = d.pop("MetricsList", UNSET)
        metrics_list: list[Metrics] | Unset = UNSET
        if _metrics_list is not UNSET:
            metrics_list = []
            for metrics_list_item_data in _metrics_list:
                metrics_list_item = Metrics.from_dict(metrics_list_item_data)

                metrics_list.append(metrics_list_item)

        _model_tags = d.pop("ModelTags", UNSET)
        model_tags: list[ModelTag] | Unset = UNSET
        if _model_tags is not UNSET:
            model_tags = []
            for model_tags_item_data in _model_tags:
                model_tags_item = ModelTag.from_dict(model_tags_item_data)

                model_tags.append(model_tags_item)

        base_model_version_id = d.pop("BaseModelVersionID", UNSET)

        source_id = d.pop("SourceId", UNSET)

        model_version = cls(
            model_version_id=model_version_id,
            model_version=model_version,
            model_format=model_format,
            model_type=model_type,
            path=path,
            description=description,
            source_type=source_type,
            create_time=create_time,
            tensor_config=tensor_config,
            metrics_list=metrics_list,
            model_tags=model_tags,
            base_model_version_id=base_model_version_id,
            source_id=source_id,
        )

        model_version.additional_properties = d
        return model_version

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
