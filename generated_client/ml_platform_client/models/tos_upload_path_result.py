from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset, WireMapping

T = TypeVar("T", bound="TOSUploadPathResult")


@_attrs_define(repr=False)
class TOSUploadPathResult(WireMapping):
    """
    Attributes:
        bucket (str):  Example: ml-platform-auto-created-required-2100000050-cn-north-4.
        key_prefix (str): A fresh folder: the service's layout ends in a millisecond timestamp. Local platform: the
            timestamp is followed by a random tag (`1631236594036-3f9a0c1e/`), so that the several processes of a team never
            hand out the same prefix. Example: modelrepo/from-sdk-repo/1631236594036/.
        endpoint (str | Unset): Local platform: where the objects are: `file:///...` for its folder store, an http(s)
            URL for
            an S3-compatible store. Absent on the real service (TOS at tos-s3-{region}.volces.com).
    """

    bucket: str
    key_prefix: str
    endpoint: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        bucket = self.bucket

        key_prefix = self.key_prefix

        endpoint = self.endpoint

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "Bucket": bucket,
                "KeyPrefix": key_prefix,
            }
        )
        if endpoint is not UNSET:
            field_dict["Endpoint"] = endpoint

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        bucket = d.pop("Bucket")

        key_prefix = d.pop("KeyPrefix")

        endpoint = d.pop("Endpoint", UNSET)

        tos_upload_path_result = cls(
            bucket=bucket,
            key_prefix=key_prefix,
            endpoint=endpoint,
        )

        tos_upload_path_result.additional_properties = d
        return tos_upload_path_result

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
