from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.model_category import ModelCategory
from ..types import UNSET, Unset, WireMapping

if TYPE_CHECKING:
    from ..models.version_info import VersionInfo


T = TypeVar("T", bound="CreateModelRequest")


@_attrs_define
class CreateModelRequest(WireMapping):
    """A new model (no ModelID) also requires ModelName, VersionInfo.ModelFormat and
    VersionInfo.ModelType (MissingParameter otherwise); OpenAPI 3.0 cannot say "required unless",
    so `x-required-without-ModelID` lists them.

        Attributes:
            version_info (VersionInfo): The version to register. ModelFormat and ModelType are required for a new model; a
                new version of
                an existing model (ModelID given) inherits them from the model's latest version when omitted.
            model_name (None | str | Unset):
            model_id (None | str | Unset):
            model_category (ModelCategory | None | Unset):
            dataset_id (None | str | Unset):
    """

    version_info: VersionInfo
    model_name: None | str | Unset = UNSET
    model_id: None | str | Unset = UNSET
    model_category: ModelCategory | None | Unset = UNSET
    dataset_id: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        version_info = self.version_info.to_dict()

        model_name: None | str | Unset
        if isinstance(self.model_name, Unset):
            model_name = UNSET
        else:
            model_name = self.model_name

        model_id: None | str | Unset
        if isinstance(self.model_id, Unset):
            model_id = UNSET
        else:
            model_id = self.model_id

        model_category: None | str | Unset
        if isinstance(self.model_category, Unset):
            model_category = UNSET
        elif isinstance(self.model_category, ModelCategory):
            model_category = self.model_category.value
        else:
            model_category = self.model_category

        dataset_id: None | str | Unset
        if isinstance(self.dataset_id, Unset):
            dataset_id = UNSET
        else:
            dataset_id = self.dataset_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "VersionInfo": version_info,
            }
        )
        if model_name is not UNSET:
            field_dict["ModelName"] = model_name
        if model_id is not UNSET:
            field_dict["ModelID"] = model_id
        if model_category is not UNSET:
            field_dict["ModelCategory"] = model_category
        if dataset_id is not UNSET:
            field_dict["DatasetID"] = dataset_id

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.version_info import VersionInfo  # noqa: PLC0415

        d = dict(src_dict)
        version_info = VersionInfo.from_dict(d.pop("VersionInfo"))

        def _parse_model_name(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        model_name = _parse_model_name(d.pop("ModelName", UNSET))

        def _parse_model_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        model_id = _parse_model_id(d.pop("ModelID", UNSET))

        def _parse_model_category(data: object) -> ModelCategory | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                model_category_type_1 = ModelCategory(data)

                return model_category_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(ModelCategory | None | Unset, data)

        model_category = _parse_model_category(d.pop("ModelCategory", UNSET))

        def _parse_dataset_id(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        dataset_id = _parse_dataset_id(d.pop("DatasetID", UNSET))

        create_model_request = cls(
            version_info=version_info,
            model_name=model_name,
            model_id=model_id,
            model_category=model_category,
            dataset_id=dataset_id,
        )

        create_model_request.additional_properties = d
        return create_model_request

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
