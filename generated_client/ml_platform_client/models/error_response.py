from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import WireMapping

if TYPE_CHECKING:
    from ..models.error_response_metadata import ErrorResponseMetadata


T = TypeVar("T", bound="ErrorResponse")


@_attrs_define(repr=False)
class ErrorResponse(WireMapping):
    """
    Attributes:
        response_metadata (ErrorResponseMetadata):
    """

    response_metadata: ErrorResponseMetadata
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        response_metadata = self.response_metadata.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "ResponseMetadata": response_metadata,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.error_response_metadata import ErrorResponseMetadata  # noqa: PLC0415

        d = dict(src_dict)
        response_metadata = ErrorResponseMetadata.from_dict(d.pop("ResponseMetadata"))

        error_response = cls(
            response_metadata=response_metadata,
        )

        error_response.additional_properties = d
        return error_response

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
