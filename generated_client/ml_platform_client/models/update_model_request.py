from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset, WireMapping

T = TypeVar("T", bound="UpdateModelRequest")


@_attrs_define(repr=False)
class UpdateModelRequest(WireMapping):
    """
    Attributes:
        model_id (str): a model ID: m-{yyyymmddHHMMSS}-{5 lowercase letters or digits}, e.g. m-20210812150750-w54j6
            Example: m-20210812150750-w54j6.
        model_name (None | str | Unset):
    """

    model_id: str
    model_name: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        model_id = self.model_id

        model_name: None | str | Unset
        if isinstance(self.model_name, Unset):
            model_name = UNSET
        else:
            model_name = self.model_name

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "ModelID": model_id,
            }
        )
        if model_name is not UNSET:
            field_dict["ModelName"] = model_name

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        model_id = d.pop("ModelID")

        def _parse_model_name(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        model_name = _parse_model_name(d.pop("ModelName", UNSET))

        update_model_request = cls(
            model_id=model_id,
            model_name=model_name,
        )

        update_model_request.additional_properties = d
        return update_model_request

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
