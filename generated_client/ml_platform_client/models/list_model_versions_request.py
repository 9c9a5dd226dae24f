from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.list_model_versions_sort_by import ListModelVersionsSortBy
from ..models.sort_order import SortOrder
from ..types import UNSET, Unset, WireMapping

T = TypeVar("T", bound="ListModelVersionsRequest")


@_attrs_define(repr=False)
class ListModelVersionsRequest(WireMapping):
    """
    Attributes:
        model_id (str): m-{yyyymmddHHMMSS}-{5 lowercase alphanumerics} Example: m-20210812150750-w54j6.
        model_version (int | Unset): Exact version number
        offset (int | Unset):
        limit (int | Unset): The page size. Local platform: at most 100.
        sort_by (ListModelVersionsSortBy | Unset):
        sort_order (SortOrder | Unset):
    """

    model_id: str
    model_version: int | Unset = UNSET
    offset: int | Unset = UNSET
    limit: int | Unset = UNSET
    sort_by: ListModelVersionsSortBy | Unset = UNSET
    sort_order: SortOrder | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        model_id = self.model_id

        model_version = self.model_version

        offset = self.offset

        limit = self.limit

        sort_by: str | Unset = UNSET
        if not isinstance(self.sort_by, Unset):
            sort_by = self.sort_by.value

        sort_order: str | Unset = UNSET
        if not isinstance(self.sort_order, Unset):
            sort_order = self.sort_order.value

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "ModelID": model_id,
            }
        )
        if model_version is not UNSET:
            field_dict["ModelVersion"] = model_version
        if offset is not UNSET:
            field_dict["Offset"] = offset
        if limit is not UNSET:
            field_dict["Limit"] = limit
        if sort_by is not UNSET:
            field_dict["SortBy"] = sort_by
        if sort_order is not UNSET:
            field_dict["SortOrder"] = sort_order

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        model_id = d.pop("ModelID")

        model_version = d.pop("ModelVersion", UNSET)

        offset = d.pop("Offset", UNSET)

        limit = d.pop("Limit", UNSET)

        _sort_by = d.pop("SortBy", UNSET)
        sort_by: ListModelVersionsSortBy | Unset
        if isinstance(_sort_by, Unset):
            sort_by = UNSET
        else:
            sort_by = ListModelVersionsSortBy(_sort_by)

        _sort_order = d.pop("SortOrder", UNSET)
        sort_order: SortOrder | Unset
        if isinstance(_sort_order, Unset):
            sort_order = UNSET
        else:
            sort_order = SortOrder(_sort_order)

        list_model_versions_request = cls(
            model_id=model_id,
            model_version=model_version,
            offset=offset,
            limit=limit,
            sort_by=sort_by,
            sort_order=sort_order,
        )

        list_model_versions_request.additional_properties = d
        return list_model_versions_request

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
