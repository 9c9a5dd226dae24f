from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset, WireMapping

if TYPE_CHECKING:
    from ..models.service_deployment import ServiceDeployment


T = TypeVar("T", bound="Service")


@_attrs_define(repr=False)
class Service(WireMapping):
    """
    Attributes:
        service_id (str):
        service_name (str):
        service_deployment (ServiceDeployment):
        create_time (str | Unset):
    """

    service_id: str
    service_name: str
    service_deployment: ServiceDeployment
    create_time: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        service_id = self.service_id

        service_name = self.service_name

        service_deployment = self.service_deployment.to_dict()

        create_time = self.create_time

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "ServiceID": service_id,
                "ServiceName": service_name,
                "ServiceDeployment": service_deployment,
            }
        )
        if create_time is not UNSET:
            field_dict["CreateTime"] = create_time

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.service_deployment import ServiceDeployment  # noqa: PLC0415

        d = dict(src_dict)
        service_id = d.pop("ServiceID")

        service_name = d.pop("ServiceName")

        service_deployment = ServiceDeployment.from_dict(d.pop("ServiceDeployment"))

        create_time = d.pop("CreateTime", UNSET)

        service = cls(
            service_id=service_id,
            service_name=service_name,
            service_deployment=service_deployment,
            create_time=create_time,
        )

        service.additional_properties = d
        return service

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
