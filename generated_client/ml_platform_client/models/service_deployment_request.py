from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..types import UNSET, Unset, WireMapping

if TYPE_CHECKING:
    from ..models.env import Env
    from ..models.service_model_ref import ServiceModelRef


T = TypeVar("T", bound="ServiceDeploymentRequest")


@_attrs_define(repr=False)
class ServiceDeploymentRequest(WireMapping):
    """
    Attributes:
        replicas (int):
        flavor_id (str):
        model (ServiceModelRef):
        image_id (str):
        envs (list[Env] | Unset):
        description (str | Unset):
    """

    replicas: int
    flavor_id: str
    model: ServiceModelRef
    image_id: str
    envs: list[Env] | Unset = UNSET
    description: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        replicas = self.replicas

        flavor_id = self.flavor_id

        model = self.model.to_dict()

        image_id = self.image_id

        envs: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.envs, Unset):
            envs = []
            for envs_item_data in self.envs:
                envs_item = envs_item_data.to_dict()
                envs.append(envs_item)

        description = self.description

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "Replicas": replicas,
                "FlavorID": flavor_id,
                "Model": model,
                "ImageID": image_id,
            }
        )
        if envs is not UNSET:
            field_dict["Envs"] = envs
        if description is not UNSET:
            field_dict["Description"] = description

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.env import Env  # noqa: PLC0415
        from ..models.service_model_ref import ServiceModelRef  # noqa: PLC0415

        d = dict(src_dict)
        replicas = d.pop("Replicas")

        flavor_id = d.pop("FlavorID")

        model = ServiceModelRef.from_dict(d.pop("Model"))

        image_id = d.pop("ImageID")

        _envs = d.pop("Envs", UNSET)
        envs: list[Env] | Unset = UNSET
        if _envs is not UNSET:
            envs = []
            for envs_item_data in _envs:
                envs_item = Env.from_dict(envs_item_data)

                envs.append(envs_item)

        description = d.pop("Description", UNSET)

        service_deployment_request = cls(
            replicas=replicas,
            flavor_id=flavor_id,
            model=model,
            image_id=image_id,
            envs=envs,
            description=description,
        )

        service_deployment_request.additional_properties = d
        return service_deployment_request

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
