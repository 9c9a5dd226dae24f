from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar, cast

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
        envs (list[Env] | None | Unset): Local platform: set in the environment of the replica processes, which are the
            platform's own: a name that changes how an interpreter or its libraries start (PATH, HOME, TMPDIR, BROWSER,
            PYTHON*, LD_*, DYLD_*, MLP_*, OPENSSL_*, GCONV_*, MALLOC_* and a few more, in any case) is a 400
            InvalidParameter naming the Env.
        description (None | str | Unset):
    """

    replicas: int
    flavor_id: str
    model: ServiceModelRef
    image_id: str
    envs: list[Env] | None | Unset = UNSET
    description: None | str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        replicas = self.replicas

        flavor_id = self.flavor_id

        model = self.model.to_dict()

        image_id = self.image_id

        envs: list[dict[str, Any]] | None | Unset
        if isinstance(self.envs, Unset):
            envs = UNSET
        elif isinstance(self.envs, list):
            envs = []
            for envs_type_0_item_data in self.envs:
                envs_type_0_item = envs_type_0_item_data.to_dict()
                envs.append(envs_type_0_item)

        else:
            envs = self.envs

        description: None | str | Unset
        if isinstance(self.description, Unset):
            description = UNSET
        else:
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

        def _parse_envs(data: object) -> list[Env] | None | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            try:
                if not isinstance(data, list):
                    raise TypeError()
                envs_type_0 = []
                _envs_type_0 = data
                for envs_type_0_item_data in _envs_type_0:
                    envs_type_0_item = Env.from_dict(envs_type_0_item_data)

                    envs_type_0.append(envs_type_0_item)

                return envs_type_0
            except (TypeError, ValueError, AttributeError, KeyError):
                pass
            return cast(list[Env] | None | Unset, data)

        envs = _parse_envs(d.pop("Envs", UNSET))

        def _parse_description(data: object) -> None | str | Unset:
            if data is None:
                return data
            if isinstance(data, Unset):
                return data
            return cast(None | str | Unset, data)

        description = _parse_description(d.pop("Description", UNSET))

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
