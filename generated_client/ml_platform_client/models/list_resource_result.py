from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset, WireMapping

if TYPE_CHECKING:
    from ..models.list_resource_result_list import ListResourceResultList


T = TypeVar("T", bound="ListResourceResult")


@_attrs_define(repr=False)
class ListResourceResult(WireMapping):
    """
    Attributes:
        list_ (ListResourceResultList): Group name -> flavors
        total (int | Unset):
    """

    list_: ListResourceResultList
    total: int | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        list_ = self.list_.to_dict()

        total = self.total

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "List": list_,
            }
        )
        if total is not UNSET:
            field_dict["Total"] = total

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.list_resource_result_list import ListResourceResultList  # noqa: PLC0415

        d = dict(src_dict)
        list_ = ListResourceResultList.from_dict(d.pop("List"))

        total = d.pop("Total", UNSET)

        list_resource_result = cls(
            list_=list_,
            total=total,
        )

        list_resource_result.additional_properties = d
        return list_resource_result

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
