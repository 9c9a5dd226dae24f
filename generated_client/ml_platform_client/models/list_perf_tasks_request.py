from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.create_time_sort_by import CreateTimeSortBy
from ..models.sort_order import SortOrder
from ..types import UNSET, Unset, WireMapping

T = TypeVar("T", bound="ListPerfTasksRequest")


@_attrs_define(repr=False)
class ListPerfTasksRequest(WireMapping):
    """
    Attributes:
        task_id (str | Unset):  Example: pf-20210914105554-fb564.
        job_id (str | Unset):  Example: pj-20210914105554-nvh45.
        offset (int | Unset):
        limit (int | Unset): The page size. Local platform: at most 100.
        sort_by (CreateTimeSortBy | Unset):
        sort_order (SortOrder | Unset):
    """

    task_id: str | Unset = UNSET
    job_id: str | Unset = UNSET
    offset: int | Unset = UNSET
    limit: int | Unset = UNSET
    sort_by: CreateTimeSortBy | Unset = UNSET
    sort_order: SortOrder | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        task_id = self.task_id

        job_id = self.job_id

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
        if task_id is not UNSET:
            field_dict["TaskID"] = task_id
        if job_id is not UNSET:
            field_dict["JobID"] = job_id
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
        task_id = d.pop("TaskID", UNSET)

        job_id = d.pop("JobID", UNSET)

        offset = d.pop("Offset", UNSET)

        limit = d.pop("Limit", UNSET)

        _sort_by = d.pop("SortBy", UNSET)
        sort_by: CreateTimeSortBy | Unset
        if isinstance(_sort_by, Unset):
            sort_by = UNSET
        else:
            sort_by = CreateTimeSortBy(_sort_by)

        _sort_order = d.pop("SortOrder", UNSET)
        sort_order: SortOrder | Unset
        if isinstance(_sort_order, Unset):
            sort_order = UNSET
        else:
            sort_order = SortOrder(_sort_order)

        list_perf_tasks_request = cls(
            task_id=task_id,
            job_id=job_id,
            offset=offset,
            limit=limit,
            sort_by=sort_by,
            sort_order=sort_order,
        )

        list_perf_tasks_request.additional_properties = d
        return list_perf_tasks_request

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
