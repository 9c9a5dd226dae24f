from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import WireMapping

T = TypeVar("T", bound="ErrorInfo")


@_attrs_define(repr=False)
class ErrorInfo(WireMapping):
    """
    Attributes:
        code (str): The error code, e.g. NotFound
        code_n (int): The numeric error code
        message (str):
    """

    code: str
    code_n: int
    message: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        code = self.code

        code_n = self.code_n

        message = self.message

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "Code": code,
                "CodeN": code_n,
                "Message": message,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        code = d.pop("Code")

        code_n = d.pop("CodeN")

        message = d.pop("Message")

        error_info = cls(
            code=code,
            code_n=code_n,
            message=message,
        )

        error_info.additional_properties = d
        return error_info

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
