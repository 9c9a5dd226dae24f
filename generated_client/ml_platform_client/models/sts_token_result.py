from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset, WireMapping

T = TypeVar("T", bound="STSTokenResult")


@_attrs_define(repr=False)
class STSTokenResult(WireMapping):
    """
    Attributes:
        access_key_id (str):
        secret_access_key (str):
        session_token (str):
        expired_time (str | Unset): When the credentials expire (ISO 8601)
        endpoint (str | Unset): Local platform: as in GetTOSUploadPath
    """

    access_key_id: str
    secret_access_key: str
    session_token: str
    expired_time: str | Unset = UNSET
    endpoint: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        access_key_id = self.access_key_id

        secret_access_key = self.secret_access_key

        session_token = self.session_token

        expired_time = self.expired_time

        endpoint = self.endpoint

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "AccessKeyId": access_key_id,
                "SecretAccessKey": secret_access_key,
                "SessionToken": session_token,
            }
        )
        if expired_time is not UNSET:
            field_dict["ExpiredTime"] = expired_time
        if endpoint is not UNSET:
            field_dict["Endpoint"] = endpoint

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        access_key_id = d.pop("AccessKeyId")

        secret_access_key = d.pop("SecretAccessKey")

        session_token = d.pop("SessionToken")

        expired_time = d.pop("ExpiredTime", UNSET)

        endpoint = d.pop("Endpoint", UNSET)

        sts_token_result = cls(
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
            session_token=session_token,
            expired_time=expired_time,
            endpoint=endpoint,
        )

        sts_token_result.additional_properties = d
        return sts_token_result

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
