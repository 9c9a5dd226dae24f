from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.model_format import ModelFormat
from ..models.source_type import SourceType
from ..types import UNSET, Unset, WireMapping

if TYPE_CHECKING:
    from ..models.metrics import Metrics
    from ..models.model_tag import ModelTag
    from ..models.model_tensor_config import ModelTensorConfig


T = TypeVar("T", bound="VersionInfo")


@_attrs_define(repr=False)
class VersionInfo(WireMapping):
    """The version to register. ModelFormat and ModelType are required for a new model; a new version of
    an existing model (ModelID given) inherits them from the model's latest version when omitted.

        Attributes:
            path (str): tos://{bucket}/{key prefix}: a bucket name of 3-63 lowercase letters, digits, '.' and '-', then '/'
                and the prefix, e.g. tos://my-bucket/models/resnet/ Example: tos://ml-platform-auto-created-
                required-2100000050-cn-north-4/modelrepo/from-sdk-repo/1631236594036/1/.
            model_format (ModelFormat | None | Unset):
            model_type (None | str | Unset):
            source_type (None | SourceType | Unset):
            description (None | str | Unset):
            tensor_config (ModelTensorConfig | None | Unset):
            metrics_list (list[Metrics] | None | Unset):
            model_tags (list[ModelTag] | None | Unset):
    """

    path: str
    model_format: ModelFormat | None | Unset = UNSET
    model_type: None | str | Unset = UNSET
    source_type: None | SourceType | Unset = UNSET
    description: None | str | Unset = UNSET
    tensor_config: ModelTensorConfig | None | Unset = UNSET
    metrics_list: list[Metrics] | None | Unset = UNSET
    model_tags: list[ModelTag] | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        from ..models.model_tensor_config import ModelTensorConfig  # noqa: PLC0415

        path = self.path

        model_format: None | str | Unset
        if isinstance(self.model_format, Unset):
            model_format = UNSET
        elif isinstance(self.model_format, ModelFormat):
            model_format = self.model_format.value
        else:
            model_format = self.model_format

        model_type: None | str | Unset
        if isinstance(self.model_type, Unset):
            model_type = UNSET
        else:
            model_type = self.model_type

        source_type: None | str | Unset
        if isinstance(self.source_type, Unset):
            source_type = UNSET
        elif isinstance(self.source_type, SourceType):
            source_type = self.source_type.value
        else:
            source_type = self.source_type

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

        model_tags: list[dict[str, Any]] | None | Unset
        if isinstance(self.model_tags, Unset):
            model_tags = UNSET
        elif isinstance(self.model_tags, list):
            model_tags = []
            for componentsschemas_model_tags_item_data in self.model_tags:
                componentsschemas_model_tags_item = componentsschemas_model_tags_item_data.to_dict()
                model_tags.append(componentsschemas_model_tags_item)

        else:
            model_tags = self.model_tags

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

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.metrics import Metrics  # noqa: PLC0415
        from ..models.model_tag import ModelTag  # noqa: PLC0415
        from ..models.model_tensor_config import ModelTensorConfig  # noqa: PLC0415

        d = dict(src_dict)
        path = d.pop("Path")

        def _parse_model_format(data: object) -> ModelFormat | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                model_format_type_1 = ModelFormat(data)

                return model_format_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(ModelFormat | None | Unset, data)

        model_format = _parse_model_format(d.pop("ModelFormat", UNSET))

        def _parse_model_type(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        model_type = _parse_model_type(d.pop("ModelType", UNSET))

        def _parse_source_type(data: object) -> None | SourceType | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                source_type_type_1 = SourceType(data)

                return source_type_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | SourceType | Unset, data)

        source_type = _parse_source_type(d.pop("SourceType", UNSET))

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

        def _parse_model_tags(data: object) -> list[ModelTag] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                model_tags_type_1 = []
                _model_tags_type_1 = data
                for componentsschemas_model_tags_item_data in _model_tags_type_1:
                    componentsschemas_model_tags_item = ModelTag.from_dict(
                        componentsschemas_model_tags_item_data
                    )

                    model_tags_type_1.append(componentsschemas_model_tags_item)

                return model_tags_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[ModelTag] | None | Unset, data)

        model_tags = _parse_model_tags(d.pop("ModelTags", UNSET))

        version_info = cls(
            path=path,
            model_format=model_format,
            model_type=model_type,
            source_type=source_type,
            description=description,
            tensor_config=tensor_config,
            metrics_list=metrics_list,
            model_tags=model_tags,
        )

        version_info.additional_properties = d
        return version_info

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
