from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.model_category import ModelCategory
from ..types import UNSET, Unset, WireMapping

if TYPE_CHECKING:
    from ..models.version_info import VersionInfo


T = TypeVar("T", bound="CreateModelRequest")


@_attrs_define(repr=False)
class CreateModelRequest(WireMapping):
    """
    Attributes:
        version_info (VersionInfo): The version to register. ModelFormat and ModelType are required for a new model; a
            new version of
            an existing model (ModelID given) inherits them from the model's latest version when omitted.
        model_name (str | Unset): A display name (no control characters)
        model_id (str | Unset): m-{yyyymmddHHMMSS}-{5 lowercase alphanumerics} Example: m-20210812150750-w54j6.
        model_category (ModelCategory | Unset):
        dataset_id (str | Unset):
    """

    version_info: VersionInfo
    model_name: str | Unset = UNSET
    model_id: str | Unset = UNSET
    model_category: ModelCategory | Unset = UNSET
    dataset_id: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        version_info = self.version_info.to_dict()

        model_name = self.model_name

        model_id = self.model_id

        model_category: str | Unset = UNSET
        if not isinstance(self.model_category, Unset):
            model_category = self.model_category.value

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

        model_name = d.pop("ModelName", UNSET)

        model_id = d.pop("ModelID", UNSET)

        _model_category = d.pop("ModelCategory", UNSET)
        model_category: ModelCategory | Unset
        if isinstance(_model_category, Unset):
            model_category = UNSET
        else:
            model_category = ModelCategory(_model_category)

        dataset_id = d.pop("DatasetID", UNSET)

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
