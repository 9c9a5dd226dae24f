from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset, WireMapping

if TYPE_CHECKING:
    from ..models.error_info import ErrorInfo


T = TypeVar("T", bound="ResponseMetadata")


@_attrs_define(repr=False)
class ResponseMetadata(WireMapping):
    """
    Attributes:
        request_id (str): A yyyymmddHHMMSS timestamp followed by hex digits Example: 2021091410551801022514606301199F07.
        action (str):
        version (str):
        service (str):
        region (str):
        error (ErrorInfo | Unset):
    """

    request_id: str
    action: str
    version: str
    service: str
    region: str
    error: ErrorInfo | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        request_id = self.request_id

        action = self.action

        version = self.version

        service = self.service

        region = self.region

        error: dict[str, Any] | Unset = UNSET
        if not isinstance(self.error, Unset):
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
            }
        )
        if error is not UNSET:
            field_dict["Error"] = error

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

        _error = d.pop("Error", UNSET)
        error: ErrorInfo | Unset
        if isinstance(_error, Unset):
            error = UNSET
        else:
            error = ErrorInfo.from_dict(_error)

        response_metadata = cls(
            request_id=request_id,
            action=action,
            version=version,
            service=service,
            region=region,
            error=error,
        )

        response_metadata.additional_properties = d
        return response_metadata

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
