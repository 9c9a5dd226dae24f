from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from attrs import define as _attrs_define
from attrs import field as _attrs_field

from ..models.service_status import ServiceStatus
from ..types import UNSET, Unset, WireMapping

if TYPE_CHECKING:
    from ..models.env import Env
    from ..models.service_model import ServiceModel


T = TypeVar("T", bound="ServiceDeployment")


@_attrs_define(repr=False)
class ServiceDeployment(WireMapping):
    """
    Attributes:
        model (ServiceModel):
        status (ServiceStatus):
        replicas (int):
        status_message (str | Unset): Local platform: why the status is what it is: the reason a service Failed, that a
            GPU flavor is served on the CPU (no CUDA on this machine), or that no platform process is serving it (Pending:
            its supervising process ended). Empty when there is nothing to say.
        endpoint_url (str | Unset): Local platform: the base URL of the KServe v2 / Open Inference Protocol (HTTP) of
            the service, e.g. `http://127.0.0.1:41234`; the model name in `/v2/models/{name}` is the ServiceName. A proxy in
            the platform process spreads requests over the ready replicas. It is not authenticated: whoever reaches the port
            can call it. Empty while nothing serves the service (not deployed yet, stopped, failed, or no platform process
            serving it).
        service_version_id (str | Unset):
        envs (list[Env] | Unset):
        flavor_id (str | Unset):
        image_id (str | Unset): Local platform: recorded and shown, but no container image is run: replicas are local
            processes serving ONNX versions with onnxruntime; Envs reach their environment.
        description (str | Unset):
    """

    model: ServiceModel
    status: ServiceStatus
    replicas: int
    status_message: str | Unset = UNSET
    endpoint_url: str | Unset = UNSET
    service_version_id: str | Unset = UNSET
    envs: list[Env] | Unset = UNSET
    flavor_id: str | Unset = UNSET
    image_id: str | Unset = UNSET
    description: str | Unset = UNSET
    additional_properties: dict[str, Any] = _attrs_field(init=False, factory=dict)

    def to_dict(self) -> dict[str, Any]:
        model = self.model.to_dict()

        status = self.status.value

        replicas = self.replicas

        status_message = self.status_message

        endpoint_url = self.endpoint_url

        service_version_id = self.service_version_id

        envs: list[dict[str, Any]] | Unset = UNSET
        if not isinstance(self.envs, Unset):
            envs = []
            for envs_item_data in self.envs:
                envs_item = envs_item_data.to_dict()
                envs.append(envs_item)

        flavor_id = self.flavor_id

        image_id = self.image_id

        description = self.description

        field_dict: dict[str, Any] = {}
        field_dict.update(self.additional_properties)
        field_dict.update(
            {
                "Model": model,
                "Status": status,
                "Replicas": replicas,
            }
        )
        if status_message is not UNSET:
            field_dict["StatusMessage"] = status_message
        if endpoint_url is not UNSET:
            field_dict["EndpointURL"] = endpoint_url
        if service_version_id is not UNSET:
            field_dict["ServiceVersionID"] = service_version_id
        if envs is not UNSET:
            field_dict["Envs"] = envs
        if flavor_id is not UNSET:
            field_dict["FlavorID"] = flavor_id
        if image_id is not UNSET:
            field_dict["ImageID"] = image_id
        if description is not UNSET:
            field_dict["Description"] = description

        return field_dict

    @classmethod
    def from_dict(cls: type[T], src_dict: Mapping[str, Any]) -> T:
        from ..models.env import Env  # noqa: PLC0415
        from ..models.service_model import ServiceModel  # noqa: PLC0415

        d = dict(src_dict)
        model = ServiceModel.from_dict(d.pop("Model"))

        status = ServiceStatus(d.pop("Status"))

        replicas = d.pop("Replicas")

        status_message = d.pop("StatusMessage", UNSET)

        endpoint_url = d.pop("EndpointURL", UNSET)

        service_version_id = d.pop("ServiceVersionID", UNSET)

        _envs = d.pop("Envs", UNSET)
        envs: list[Env] | Unset = UNSET
        if _envs is not UNSET:
            envs = []
            for envs_item_data in _envs:
                envs_item = Env.from_dict(envs_item_data)

                envs.append(envs_item)

        flavor_id = d.pop("FlavorID", UNSET)

        image_id = d.pop("ImageID", UNSET)

        description = d.pop("Description", UNSET)

        service_deployment = cls(
            model=model,
            status=status,
            replicas=replicas,
            status_message=status_message,
            endpoint_url=endpoint_url,
            service_version_id=service_version_id,
            envs=envs,
            flavor_id=flavor_id,
            image_id=image_id,
            description=description,
        )

        service_deployment.additional_properties = d
        return service_deployment

    @property
    def additional_keys(self) -> list[str]:
        return list(self.additional_properties.keys())
