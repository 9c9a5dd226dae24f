from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

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
        model_id (str): a model ID: m-{yyyymmddHHMMSS}-{5 lowercase letters or digits}, e.g. m-20210812150750-w54j6
            Example: m-20210812150750-w54j6.
        model_version (int | None | str | Unset):
        offset (int | None | Unset):
        limit (int | None | Unset):
        sort_by (ListModelVersionsSortBy | None | Unset):
        sort_order (None | SortOrder | Unset):
    """

    model_id: str
    model_version: int | None | str | Unset = UNSET
    offset: int | None | Unset = UNSET
    limit: int | None | Unset = UNSET
    sort_by: ListModelVersionsSortBy | None | Unset = UNSET
    sort_order: None | SortOrder | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        model_id = self.model_id

        model_version: int | None | str | Unset
        if isinstance(self.model_version, Unset):
            model_version = UNSET
        else:
            model_version = self.model_version

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
        elif isinstance(self.sort_by, ListModelVersionsSortBy):
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

        def _parse_model_version(data: object) -> int | None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(int | None | str | Unset, data)

        model_version = _parse_model_version(d.pop("ModelVersion", UNSET))

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

        def _parse_sort_by(data: object) -> ListModelVersionsSortBy | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, str):
                    raise TypeError()
                sort_by_type_1 = ListModelVersionsSortBy(data)

                return sort_by_type_1
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(ListModelVersionsSortBy | None | Unset, data)

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
