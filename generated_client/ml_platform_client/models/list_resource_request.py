from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.list_resource_sort_by import ListResourceSortBy
from ..models.sort_order import SortOrder
from ..types import UNSET, Unset, WireMapping

T = TypeVar("T", bound="ListResourceRequest")


@_attrs_define(repr=False)
class ListResourceRequest(WireMapping):
    """
    Attributes:
        name (str | Unset): Exact flavor name
        name_contains (str | Unset):
        type_ (str | Unset): A group name
        tag (str | Unset):
        offset (int | Unset):
        limit (int | Unset): The page size. Local platform: at most 100.
        sort_by (ListResourceSortBy | Unset): Local platform: CreateTime is the catalogue order.
        sort_order (SortOrder | Unset):
    """

    name: str | Unset = UNSET
    name_contains: str | Unset = UNSET
    type_: str | Unset = UNSET
    tag: str | Unset = UNSET
    offset: int | Unset = UNSET
    limit: int | Unset = UNSET
    sort_by: ListResourceSortBy | Unset = UNSET
    sort_order: SortOrder | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        name = self.name

        name_contains = self.name_contains

        type_ = self.type_

        tag = self.tag

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
        if name is not UNSET:
            field_dict["Name"] = name
        if name_contains is not UNSET:
            field_dict["NameContains"] = name_contains
        if type_ is not UNSET:
            field_dict["Type"] = type_
        if tag is not UNSET:
            field_dict["Tag"] = tag
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
        name = d.pop("Name", UNSET)

        name_contains = d.pop("NameContains", UNSET)

        type_ = d.pop("Type", UNSET)

        tag = d.pop("Tag", UNSET)

        offset = d.pop("Offset", UNSET)

        limit = d.pop("Limit", UNSET)

        _sort_by = d.pop("SortBy", UNSET)
        sort_by: ListResourceSortBy | Unset
        if isinstance(_sort_by, Unset):
            sort_by = UNSET
        else:
            sort_by = ListResourceSortBy(_sort_by)

        _sort_order = d.pop("SortOrder", UNSET)
        sort_order: SortOrder | Unset
        if isinstance(_sort_order, Unset):
            sort_order = UNSET
        else:
            sort_order = SortOrder(_sort_order)

        list_resource_request = cls(
            name=name,
            name_contains=name_contains,
            type_=type_,
            tag=tag,
            offset=offset,
            limit=limit,
            sort_by=sort_by,
            sort_order=sort_order,
        )

        list_resource_request.additional_properties = d
        return list_resource_request

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
