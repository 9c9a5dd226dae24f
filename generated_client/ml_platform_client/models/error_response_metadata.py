from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import WireMapping

if TYPE_CHECKING:
    from ..models.error_info import ErrorInfo


T = TypeVar("T", bound="ErrorResponseMetadata")


@_attrs_define(repr=False)
class ErrorResponseMetadata(WireMapping):
    """
    Attributes:
        request_id (str):
        action (str):
        version (str):
        service (str):
        region (str):
        error (ErrorInfo):
    """

    request_id: str
    action: str
    version: str
    service: str
    region: str
    error: ErrorInfo
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        request_id = self.request_id

        action = self.action

        version = self.version

        service = self.service

        region = self.region

        error = self.error.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "RequestId": request_id,
                "Action": action,
                "Version": version,
                "Service": service,
                "Region": region,
                "Error": error,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.error_info import ErrorInfo  # noqa: PLC0415

        d = dict(src_dict)
        request_id = d.pop("RequestId")

        action = d.pop("Action")

        version = d.pop("Version")

        service = d.pop("Service")

        region = d.pop("Region")

        error = ErrorInfo.from_dict(d.pop("Error"))

        error_response_metadata = cls(
            request_id=request_id,
            action=action,
            version=version,
            service=service,
            region=region,
            error=error,
        )

        error_response_metadata.additional_properties = d
        return error_response_metadata

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
