from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.list_resource_sort_by import ListResourceSortBy
from ..models.sort_order import SortOrder
from ..types import UNSET, Unset, WireMapping

T = TypeVar("T", bound="ListResourceRequest")


@_attrs_define
class ListResourceRequest(WireMapping):
    """
    Attributes:
        name (None | str | Unset): Exact flavor name
        name_contains (None | str | Unset):
        type_ (None | str | Unset): A group name
        tag (None | str | Unset):
        offset (int | None | Unset):
        limit (int | None | Unset):
        sort_by (ListResourceSortBy | None | Unset):
        sort_order (None | SortOrder | Unset):
    """

    name: None | str | Unset = UNSET
    name_contains: None | str | Unset = UNSET
    type_: None | str | Unset = UNSET
    tag: None | str | Unset = UNSET
    offset: int | None | Unset = UNSET
    limit: int | None | Unset = UNSET
    sort_by: ListResourceSortBy | None | Unset = UNSET
    sort_order: None | SortOrder | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        name: None | str | Unset
        if isinstance(self.name, Unset):
            name = UNSET
        else:
            name = self.name

        name_contains: None | str | Unset
        if isinstance(self.name_contains, Unset):
            name_contains = UNSET
        else:
            name_contains = self.name_contains

        type_: None | str | Unset
        if isinstance(self.type_, Unset):
            type_ = UNSET
        else:
            type_ = self.type_

        tag: None | str | Unset
        if isinstance(self.tag, Unset):
            tag = UNSET
        else:
            tag = self.tag

        offset: int | None | Unset
        if isinstance(self.offset, Unset):
            offset = UNSET
        else:
            offset = self.offset

        limit: int | None | Unset
        if isinstance(self.limit, Unset):
            limit = UNSET
        else:
            limit = self.limit

        sort_by: None | str | Unset
        if isinstance(self.sort_by, Unset):
            sort_by = UNSET
        elif isinstance(self.sort_by, ListResourceSortBy):
            sort_by = self.sort_by.value
        else:
            sort_by = self.sort_by

        sort_order: None | str | Unset
        if isinstance(self.sort_order, Unset):
            sort_order = UNSET
        elif isinstance(self.sort_order, SortOrder):
            sort_order = self.sort_order.value
        else:
            sort_order = self.sort_order

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

        def _parse_name(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        name = _parse_name(d.pop("Name", UNSET))

        def _parse_name_contains(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        name_contains = _parse_name_contains(d.pop("NameContains", UNSET))

        def _parse_type_(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        type_ = _parse_type_(d.pop("Type", UNSET))

        def _parse_tag(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        tag = _parse_tag(d.pop("Tag", UNSET))

        def _parse_offset(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        offset = _parse_offset(d.pop("Offset", UNSET))

        def _parse_limit(data: object) -> int | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | Unset, data)

        limit = _parse_limit(d.pop("Limit", UNSET))

        def _parse_sort_by(data: object) -> ListResourceSortBy | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                sort_by_type_1 = ListResourceSortBy(data)

                return sort_by_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(ListResourceSortBy | None | Unset, data)

        sort_by = _parse_sort_by(d.pop("SortBy", UNSET))

        def _parse_sort_order(data: object) -> None | SortOrder | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                sort_order_type_1 = SortOrder(data)

                return sort_order_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(None | SortOrder | Unset, data)

        sort_order = _parse_sort_order(d.pop("SortOrder", UNSET))

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
