from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import WireMapping

if TYPE_CHECKING:
    from ..models.service_deployment_request import ServiceDeploymentRequest


T = TypeVar("T", bound="CreateServiceRequest")


@_attrs_define(repr=False)
class CreateServiceRequest(WireMapping):
    """
    Attributes:
        service_name (str): A display name (no control characters)
        service_deployment (ServiceDeploymentRequest):
    """

    service_name: str
    service_deployment: ServiceDeploymentRequest
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        service_name = self.service_name

        service_deployment = self.service_deployment.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "ServiceName": service_name,
                "ServiceDeployment": service_deployment,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.service_deployment_request import ServiceDeploymentRequest  # noqa: PLC0415

        d = dict(src_dict)
        service_name = d.pop("ServiceName")

        service_deployment = ServiceDeploymentRequest.from_dict(d.pop("ServiceDeployment"))

        create_service_request = cls(
            service_name=service_name,
            service_deployment=service_deployment,
        )

        create_service_request.additional_properties = d
        return create_service_request

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
