from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import WireMapping

if TYPE_CHECKING:
    from ..models.model_next_version_result import ModelNextVersionResult
    from ..models.response_metadata import ResponseMetadata


T = TypeVar("T", bound="GetModelNextVersionResponse")


@_attrs_define(repr=False)
class GetModelNextVersionResponse(WireMapping):
    """
    Attributes:
        response_metadata (ResponseMetadata):
        result (ModelNextVersionResult):
    """

    response_metadata: ResponseMetadata
    result: ModelNextVersionResult
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        response_metadata = self.response_metadata.to_dict()

        result = self.result.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "ResponseMetadata": response_metadata,
                "Result": result,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.model_next_version_result import ModelNextVersionResult  # noqa: PLC0415
        from ..models.response_metadata import ResponseMetadata  # noqa: PLC0415

        d = dict(src_dict)
        response_metadata = ResponseMetadata.from_dict(d.pop("ResponseMetadata"))

        result = ModelNextVersionResult.from_dict(d.pop("Result"))

        get_model_next_version_response = cls(
            response_metadata=response_metadata,
            result=result,
        )

        get_model_next_version_response.additional_properties = d
        return get_model_next_version_response

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
