from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import WireMapping

T = TypeVar("T", bound="ServiceIDRequest")


@_attrs_define(repr=False)
class ServiceIDRequest(WireMapping):
    """
    Attributes:
        service_id (str): a service ID: letters, digits, '_', '.' and '-', starting with a letter or digit, e.g.
            s-20210914105554-a1b2c Example: s-20210914105554-a1b2c.
    """

    service_id: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        service_id = self.service_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "ServiceID": service_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        service_id = d.pop("ServiceID")

        service_id_request = cls(
            service_id=service_id,
        )

        service_id_request.additional_properties = d
        return service_id_request

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
