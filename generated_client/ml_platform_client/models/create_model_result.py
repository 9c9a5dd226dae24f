from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import WireMapping

if TYPE_CHECKING:
    from ..models.created_version import CreatedVersion


T = TypeVar("T", bound="CreateModelResult")


@_attrs_define(repr=False)
class CreateModelResult(WireMapping):
    """
    Attributes:
        model_id (str):
        version_info (CreatedVersion):
    """

    model_id: str
    version_info: CreatedVersion
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        model_id = self.model_id

        version_info = self.version_info.to_dict()

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "ModelID": model_id,
                "VersionInfo": version_info,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.created_version import CreatedVersion  # noqa: PLC0415

        d = dict(src_dict)
        model_id = d.pop("ModelID")

        version_info = CreatedVersion.from_dict(d.pop("VersionInfo"))

        create_model_result = cls(
            model_id=model_id,
            version_info=version_info,
        )

        create_model_result.additional_properties = d
        return create_model_result

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
