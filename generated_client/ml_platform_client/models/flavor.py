from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar, cast

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset, WireMapping

T = TypeVar("T", bound="Flavor")


@_attrs_define(repr=False)
class Flavor(WireMapping):
    """
    Attributes:
        id (str):
        name (str):
        v_cpu (int | Unset):
        memory (int | Unset): MiB
        gpu_type (str | Unset):
        gpu_num (int | Unset):
        tags (list[str] | Unset):
    """

    id: str
    name: str
    v_cpu: int | Unset = UNSET
    memory: int | Unset = UNSET
    gpu_type: str | Unset = UNSET
    gpu_num: int | Unset = UNSET
    tags: list[str] | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        id = self.id

        name = self.name

        v_cpu = self.v_cpu

        memory = self.memory

        gpu_type = self.gpu_type

        gpu_num = self.gpu_num

        tags: list[str] | Unset = UNSET
        if not isinstance(self.tags, Unset):
            tags = self.tags

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "Id": id,
                "Name": name,
            }
        )
        if v_cpu is not UNSET:
            field_dict["vCPU"] = v_cpu
        if memory is not UNSET:
            field_dict["Memory"] = memory
        if gpu_type is not UNSET:
            field_dict["GPUType"] = gpu_type
        if gpu_num is not UNSET:
            field_dict["GPUNum"] = gpu_num
        if tags is not UNSET:
            field_dict["Tags"] = tags

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        id = d.pop("Id")

        name = d.pop("Name")

        v_cpu = d.pop("vCPU", UNSET)

        memory = d.pop("Memory", UNSET)

        gpu_type = d.pop("GPUType", UNSET)

        gpu_num = d.pop("GPUNum", UNSET)

        tags = cast(list[str], d.pop("Tags", UNSET))

        flavor = cls(
            id=id,
            name=name,
            v_cpu=v_cpu,
            memory=memory,
            gpu_type=gpu_type,
            gpu_num=gpu_num,
            tags=tags,
        )

        flavor.additional_properties = d
        return flavor

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
