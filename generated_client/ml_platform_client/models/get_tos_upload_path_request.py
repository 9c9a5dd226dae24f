from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.get_tos_upload_path_request_service_name import GetTOSUploadPathRequestServiceName
from ..types import UNSET, Unset, WireMapping

T = TypeVar("T", bound="GetTOSUploadPathRequest")


@_attrs_define
class GetTOSUploadPathRequest(WireMapping):
    """
    Attributes:
        service_name (GetTOSUploadPathRequestServiceName):
        path (list[str] | None | Unset): Sub-folders of the prefix, e.g. ["from-sdk-repo"]
    """

    service_name: GetTOSUploadPathRequestServiceName
    path: list[str] | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        service_name = self.service_name.value

        path: list[str] | None | Unset
        if isinstance(self.path, Unset):
            path = UNSET
        elif isinstance(self.path, list):
            path = self.path

        else:
            path = self.path

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "ServiceName": service_name,
            }
        )
        if path is not UNSET:
            field_dict["Path"] = path

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        service_name = GetTOSUploadPathRequestServiceName(d.pop("ServiceName"))

        def _parse_path(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                path_type_0 = cast(list[str], data)

                return path_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        path = _parse_path(d.pop("Path", UNSET))

        get_tos_upload_path_request = cls(
            service_name=service_name,
            path=path,
        )

        get_tos_upload_path_request.additional_properties = d
        return get_tos_upload_path_request

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
