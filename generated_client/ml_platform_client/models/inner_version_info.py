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
    from ..models.model_tensor_config import ModelTensorConfig


T = TypeVar("T", bound="InnerVersionInfo")


@_attrs_define(repr=False)
class InnerVersionInfo(WireMapping):
    """VersionInfo of the inner API, which may also name where a converted model came from. ModelFormat
    and ModelType as in VersionInfo.

        Attributes:
            path (str): tos://{bucket}/{key prefix} Example: tos://ml-platform-auto-created-required-2100000050-cn-
                north-4/modelrepo/from-sdk-repo/1631236594036/1/.
            model_format (ModelFormat | Unset):
            model_type (str | Unset): `<framework>:<version>`, framework one of TensorFlow, PyTorch, ONNX, Caffe, Caffe2,
                MXNet,
                TensorRT, Scikit_Learn, XGBoost, LightGBM; e.g. TensorFlow:2.0
                 Example: TensorFlow:2.4.
            source_type (SourceType | Unset):
            description (str | Unset):
            tensor_config (ModelTensorConfig | Unset): A model version's tensor config
            metrics_list (list[Metrics] | Unset):
            model_tags (list[ModelTag] | Unset):
            base_model_version_id (str | Unset): {ModelID}-{version} Example: m-20210812150750-w54j6-14.
            source_id (str | Unset): The perf task that produced this model
    """

    path: str
    model_format: ModelFormat | Unset = UNSET
    model_type: str | Unset = UNSET
    source_type: SourceType | Unset = UNSET
    description: str | Unset = UNSET
    tensor_config: ModelTensorConfig | Unset = UNSET
    metrics_list: list[Metrics] | Unset = UNSET
    model_tags: list[ModelTag] | Unset = UNSET
    base_model_version_id: str | Unset = UNSET
    source_id: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        path = self.path

        model_format: str | Unset = UNSET
        if not isinstance(self.model_format, Unset):
            model_format = self.model_format.value

        model_type = self.model_type

        source_type: str | Unset = UNSET
        if not isinstance(self.source_type, Unset):
            source_type = self.source_type.value

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

        model_tags: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.model_tags, Unset):
            model_tags = []
            for componentsschemas_model_tags_item_data in self.model_tags:
                componentsschemas_model_tags_item = componentsschemas_model_tags_item_data.to_dict()
                model_tags.append(componentsschemas_model_tags_item)

        base_model_version_id = self.base_model_version_id

        source_id = self.source_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "Path": path,
            }
        )
        if model_format is not UNSET:
            field_dict["ModelFormat"] = model_format
        if model_type is not UNSET:
            field_dict["ModelType"] = model_type
        if source_type is not UNSET:
            field_dict["SourceType"] = source_type
        if description is not UNSET:
            field_dict["Description"] = description
        if tensor_config is not UNSET:
            field_dict["TensorConfig"] = tensor_config
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
        from ..models.model_tensor_config import ModelTensorConfig  # noqa: PLC0415

        d = dict(src_dict)
        path = d.pop("Path")

        _model_format = d.pop("ModelFormat", UNSET)
        model_format: ModelFormat | Unset
        if isinstance(_model_format, Unset):
            model_format = UNSET
        else:
            model_format = ModelFormat(_model_format)

        model_type = d.pop("ModelType", UNSET)

        _source_type = d.pop("SourceType", UNSET)
        source_type: SourceType | Unset
        if isinstance(_source_type, Unset):
            source_type = UNSET
        else:
            source_type = SourceType(_source_type)

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

        _model_tags = d.pop("ModelTags", UNSET)
        model_tags: list[ModelTag] | Unset = UNSET
        if _model_tags is not UNSET:
            model_tags = []
            for componentsschemas_model_tags_item_data in _model_tags:
                componentsschemas_model_tags_item = ModelTag.from_dict(componentsschemas_model_tags_item_data)

                model_tags.append(componentsschemas_model_tags_item)

        base_model_version_id = d.pop("BaseModelVersionID", UNSET)

        source_id = d.pop("SourceId", UNSET)

        inner_version_info = cls(
            path=path,
            model_format=model_format,
            model_type=model_type,
            source_type=source_type,
            description=description,
            tensor_config=tensor_config,
            metrics_list=metrics_list,
            model_tags=model_tags,
            base_model_version_id=base_model_version_id,
            source_id=source_id,
        )

        inner_version_info.additional_properties = d
        return inner_version_info

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
