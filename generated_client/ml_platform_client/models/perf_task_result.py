from __future__ import annotations

from collections.abc import Mapping
from typing import Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import WireMapping

T = TypeVar("T", bound="PerfTaskResult")


@_attrs_define(repr=False)
class PerfTaskResult(WireMapping):
    """Local platform: what the worker measured, once the task has run: FlavorID, Precision, ExecutionProvider,
    OnnxRuntimeVersion, CPUModel, IntraOpThreads, PeakMemoryMiB, ModelVersionID (the version measured; for a conversion,
    the new one), Measurements (per batch size: LatencyMsP50/P90/P99/Mean, InferencesPerSecond, SamplesPerSecond,
    Iterations, MeasuredSeconds) and, for a conversion, Check (output differences and the tolerance applied)

    """

    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        d = dict(src_dict)
        perf_task_result = cls()

        perf_task_result.additional_properties = d
        return perf_task_result

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
