from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset, WireMapping

T = TypeVar("T", bound="JobParams")


@_attrs_define
class JobParams(WireMapping):
    """
    Attributes:
        flavor_id_list (list[str]):
        convert_type (None | str | Unset):
        convert_precision_list (list[str] | None | Unset):
    """

    flavor_id_list: list[str]
    convert_type: None | str | Unset = UNSET
    convert_precision_list: list[str] | None | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        flavor_id_list = self.flavor_id_list

        convert_type: None | str | Unset
        if isinstance(self.convert_type, Unset):
            convert_type = UNSET
        else:
            convert_type = self.convert_type

        convert_precision_list: list[str] | None | Unset
        if isinstance(self.convert_precision_list, Unset):
            convert_precision_list = UNSET
        elif isinstance(self.convert_precision_list, list):
            convert_precision_list = self.convert_precision_list

        else:
            convert_precision_list = self.convert_precision_list

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "FlavorIDList": flavor_id_list,
            }
        )
        if convert_type is not UNSET:
            field_dict["ConvertType"] = convert_type
        if convert_precision_list is not UNSET:
            field_dict["ConvertPrecisionList"] = convert_precision_list

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        flavor_id_list = cast(list[str], d.pop("FlavorIDList"))

        def _parse_convert_type(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        convert_type = _parse_convert_type(d.pop("ConvertType", UNSET))

        def _parse_convert_precision_list(data: object) -> list[str] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                convert_precision_list_type_0 = cast(list[str], data)

                return convert_precision_list_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[str] | None | Unset, data)

        convert_precision_list = _parse_convert_precision_list(d.pop("ConvertPrecisionList", UNSET))

        job_params = cls(
            flavor_id_list=flavor_id_list,
            convert_type=convert_type,
            convert_precision_list=convert_precision_list,
        )

        job_params.additional_properties = d
        return job_params

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
