from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import WireMapping

T = TypeVar("T", bound="JobIDRequest")


@_attrs_define(repr=False)
class JobIDRequest(WireMapping):
    """
    Attributes:
        job_id (str): a perf job ID: pj-{yyyymmddHHMMSS}-{5 lowercase letters or digits}, e.g. pj-20210914105554-nvh45
            Example: pj-20210914105554-nvh45.
    """

    job_id: str
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        job_id = self.job_id

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "JobID": job_id,
            }
        )

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        job_id = d.pop("JobID")

        job_id_request = cls(
            job_id=job_id,
        )

        job_id_request.additional_properties = d
        return job_id_request

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
