from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.model_category import ModelCategory
from ..types import UNSET, Unset, WireMapping

T = TypeVar("T", bound="ModelSummary")


@_attrs_define(repr=False)
class ModelSummary(WireMapping):
    """A model. `LatestVersion` is the highest existing version number as a string; it is absent
    while the model has no versions (all deleted).

        Attributes:
            model_id (str):
            model_name (str):
            create_time (str): ISO 8601 with offset
            model_versions_count (int):
            model_category (ModelCategory | Unset):
            dataset_id (str | Unset):
            latest_version (str | Unset):
    """

    model_id: str
    model_name: str
    create_time: str
    model_versions_count: int
    model_category: ModelCategory | Unset = UNSET
    dataset_id: str | Unset = UNSET
    latest_version: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        model_id = self.model_id

        model_name = self.model_name

        create_time = self.create_time

        model_versions_count = self.model_versions_count

        model_category: str | Unset = UNSET
        if not isinstance(self.model_category, Unset):
            model_category = self.model_category.value

        dataset_id = self.dataset_id

        latest_version = self.latest_version

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "ModelID": model_id,
                "ModelName": model_name,
                "CreateTime": create_time,
                "ModelVersionsCount": model_versions_count,
            }
        )
        if model_category is not UNSET:
            field_dict["ModelCategory"] = model_category
        if dataset_id is not UNSET:
            field_dict["DatasetID"] = dataset_id
        if latest_version is not UNSET:
            field_dict["LatestVersion"] = latest_version

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        model_id = d.pop("ModelID")

        model_name = d.pop("ModelName")

        create_time = d.pop("CreateTime")

        model_versions_count = d.pop("ModelVersionsCount")

        _model_category = d.pop("ModelCategory", UNSET)
        model_category: ModelCategory | Unset
        if isinstance(_model_category, Unset):
            model_category = UNSET
        else:
            model_category = ModelCategory(_model_category)

        dataset_id = d.pop("DatasetID", UNSET)

        latest_version = d.pop("LatestVersion", UNSET)

        model_summary = cls(
            model_id=model_id,
            model_name=model_name,
            create_time=create_time,
            model_versions_count=model_versions_count,
            model_category=model_category,
            dataset_id=dataset_id,
            latest_version=latest_version,
        )

        model_summary.additional_properties = d
        return model_summary

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
