from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import WireMapping

if TYPE_CHECKING:
    from ..models.flavor import Flavor


T = TypeVar("T", bound="ListResourceResultList")


@_attrs_define(repr=False)
class ListResourceResultList(WireMapping):
    """Group name -> flavors"""

    additional_properties: dict[str, list[Flavor]] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:

        field_dict: dict[str, Any] = {}
        for prop_name, prop in self.additional_properties.items():
            field_dict[prop_name] = []
            for additional_property_item_data in prop:
                additional_property_item = additional_property_item_data.to_dict()
                field_dict[prop_name].append(additional_property_item)

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.flavor import Flavor  # noqa: PLC0415

        d = dict(src_dict)
        list_resource_result_list = cls()

        additional_properties = {}
        for prop_name, prop_dict in d.items():
            additional_property = []
            _additional_property = prop_dict
            for additional_property_item_data in _additional_property:
                additional_property_item = Flavor.from_dict(additional_property_item_data)

                additional_property.append(additional_property_item)

            additional_properties[prop_name] = additional_property

        list_resource_result_list.additional_properties = additional_properties
        return list_resource_result_list

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
