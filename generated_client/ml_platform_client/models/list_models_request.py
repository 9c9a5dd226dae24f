from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.list_models_sort_by import ListModelsSortBy
from ..models.sort_order import SortOrder
from ..types import UNSET, Unset, WireMapping

T = TypeVar("T", bound="ListModelsRequest")


@_attrs_define
class ListModelsRequest(WireMapping):
    """
    Attributes:
        model_name (None | str | Unset): Exact name
        model_name_contains (None | str | Unset):
        id_contains (None | str | Unset):
        offset (int | None | Unset):
        limit (int | None | Unset):
        sort_by (ListModelsSortBy | None | Unset):
        sort_order (None | SortOrder | Unset):
    """

    model_name: None | str | Unset = UNSET
    model_name_contains: None | str | Unset = UNSET
    id_contains: None | str | Unset = UNSET
    offset: int | None | Unset = UNSET
    limit: int | None | Unset = UNSET
    sort_by: ListModelsSortBy | None | Unset = UNSET
    sort_order: None | SortOrder | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        model_name: None | str | Unset
        if isinstance(self.model_name, Unset):
            model_name = UNSET
        else:
            model_name = self.model_name

        model_name_contains: None | str | Unset
        if isinstance(self.model_name_contains, Unset):
            model_name_contains = UNSET
        else:
            model_name_contains = self.model_name_contains

        id_contains: None | str | Unset
        if isinstance(self.id_contains, Unset):
            id_contains = UNSET
        else:
            id_contains = self.id_contains

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
        elif isinstance(self.sort_by, ListModelsSortBy):
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

        def _parse_model_name(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        model_name = _parse_model_name(d.pop("ModelName", UNSET))

        def _parse_model_name_contains(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        model_name_contains = _parse_model_name_contains(d.pop("ModelNameContains", UNSET))

        def _parse_id_contains(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        id_contains = _parse_id_contains(d.pop("IdContains", UNSET))

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

        def _parse_sort_by(data: object) -> ListModelsSortBy | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                sort_by_type_1 = ListModelsSortBy(data)

                return sort_by_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(ListModelsSortBy | None | Unset, data)

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
