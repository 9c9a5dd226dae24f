from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.list_models_sort_by import ListModelsSortBy
from ..models.sort_order import SortOrder
from ..types import UNSET, Unset, WireMapping

T = TypeVar("T", bound="ListModelsRequest")


@_attrs_define(repr=False)
class ListModelsRequest(WireMapping):
    """
    Attributes:
        model_name (str | Unset): Exact name
        model_name_contains (str | Unset):
        id_contains (str | Unset):
        offset (int | Unset):
        limit (int | Unset): The page size. Local platform: at most 100.
        sort_by (ListModelsSortBy | Unset):
        sort_order (SortOrder | Unset):
    """

    model_name: str | Unset = UNSET
    model_name_contains: str | Unset = UNSET
    id_contains: str | Unset = UNSET
    offset: int | Unset = UNSET
    limit: int | Unset = UNSET
    sort_by: ListModelsSortBy | Unset = UNSET
    sort_order: SortOrder | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        model_name = self.model_name

        model_name_contains = self.model_name_contains

        id_contains = self.id_contains

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
        field_dict.update({})
        if model_name is not UNSET:
            field_dict["ModelName"] = model_name
        if model_name_contains is not UNSET:
            field_dict["ModelNameContains"] = model_name_contains
        if id_contains is not UNSET:
            field_dict["IdContains"] = id_contains
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
        model_name = d.pop("ModelName", UNSET)

        model_name_contains = d.pop("ModelNameContains", UNSET)

        id_contains = d.pop("IdContains", UNSET)

        offset = d.pop("Offset", UNSET)

        limit = d.pop("Limit", UNSET)

        _sort_by = d.pop("SortBy", UNSET)
        sort_by: ListModelsSortBy | Unset
        if isinstance(_sort_by, Unset):
            sort_by = UNSET
        else:
            sort_by = ListModelsSortBy(_sort_by)

        _sort_order = d.pop("SortOrder", UNSET)
        sort_order: SortOrder | Unset
        if isinstance(_sort_order, Unset):
            sort_order = UNSET
        else:
            sort_order = SortOrder(_sort_order)

        list_models_request = cls(
            model_name=model_name,
            model_name_contains=model_name_contains,
            id_contains=id_contains,
            offset=offset,
            limit=limit,
            sort_by=sort_by,
            sort_order=sort_order,
        )

        list_models_request.additional_properties = d
        return list_models_request

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
