from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import WireMapping

T = TypeVar("T", bound="AdminGetSecureTokenRequest")


@_attrs_define(repr=False)
class AdminGetSecureTokenRequest(WireMapping):
    """
    Attributes:
        time_to_live (int): Seconds
        account_id (int):
        user_id (int):
    """

    time_to_live: int
    account_id: int
    user_id: int
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        time_to_live = self.time_to_live

        account_id = self.account_id

        user_id = self.user_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "TimeToLive": time_to_live,
                "AccountId": account_id,
                "UserId": user_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        time_to_live = d.pop("TimeToLive")

        account_id = d.pop("AccountId")

        user_id = d.pop("UserId")

        admin_get_secure_token_request = cls(
            time_to_live=time_to_live,
            account_id=account_id,
            user_id=user_id,
        )

        admin_get_secure_token_request.additional_properties = d
        return admin_get_secure_token_request

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
