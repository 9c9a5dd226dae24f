from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset, WireMapping

T = TypeVar("T", bound="SecureTokenResult")


@_attrs_define(repr=False)
class SecureTokenResult(WireMapping):
    """
    Attributes:
        token (str):
        expired_time (str | Unset): Local platform: when the token expires (ISO 8601)
    """

    token: str
    expired_time: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        token = self.token

        expired_time = self.expired_time

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "Token": token,
            }
        )
        if expired_time is not UNSET:
            field_dict["ExpiredTime"] = expired_time

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        token = d.pop("Token")

        expired_time = d.pop("ExpiredTime", UNSET)

        secure_token_result = cls(
            token=token,
            expired_time=expired_time,
        )

        secure_token_result.additional_properties = d
        return secure_token_result

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
