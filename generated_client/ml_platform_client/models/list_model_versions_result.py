from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import WireMapping

if TYPE_CHECKING:
    from ..models.model_version import ModelVersion


T = TypeVar("T", bound="ListModelVersionsResult")


@_attrs_define(repr=False)
class ListModelVersionsResult(WireMapping):
    """
    Attributes:
        total (int):
        list_ (list[ModelVersion]):
    """

    total: int
    list_: list[ModelVersion]
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        total = self.total

        list_ = []
        for list_item_data in self.list_:
            list_item = list_item_data.to_dict()
            list_.append(list_item)

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "Total": total,
                "List": list_,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.model_version import ModelVersion  # noqa: PLC0415

        d = dict(src_dict)
        total = d.pop("Total")

        list_ = []
        _list_ = d.pop("List")
        for list_item_data in _list_:
            list_item = ModelVersion.from_dict(list_item_data)

            list_.append(list_item)

        list_model_versions_result = cls(
            total=total,
            list_=list_,
        )

        list_model_versions_result.additional_properties = d
        return list_model_versions_result

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
