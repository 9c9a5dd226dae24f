"""Services: the deployment record and its status."""

from __future__ import annotations

import pytest

from mlp_server.errors import ApiError
from mlp_server.store import FLAVOR_IDS, Store

from .helpers import ACCOUNT, register, service_body


@pytest.fixture
def model_id(store: Store) -> str:
    model_id, _ = register(store, name="resnet", ModelType="PyTorch:1.9", Path="tos://b/resnet/1/")
    return model_id


def status(store: Store, service_id: str) -> tuple[str, str]:
    deployment = store.get_service(ACCOUNT, {"ServiceID": service_id})["ServiceDeployment"]
    return deployment["Status"], deployment["EndpointURL"]


def test_get_service_shape(store: Store, model_id: str) -> None:
    body = service_body(model_id, 1, name="classifier", Replicas=2, Description="first")
    service_id = store.create_service(ACCOUNT, body)["ServiceID"]
    assert service_id.startswith("s-20210812070750-")
    service = store.get_service(ACCOUNT, {"ServiceID": service_id})
    version_id = service["ServiceDeployment"].pop("ServiceVersionID")
    assert version_id.startswith("sv-")
    assert service == {
        "ServiceID": service_id,
        "ServiceName": "classifier",
        "ServiceDeployment": {
            "Model": {
                "ModelID": model_id,
                "ModelVersionID": f"{model_id}-1",
                "Version": "1",
                "Type": "PyTorch:1.9",
                "Path": "tos://b/resnet/1/",
                "Name": "resnet",
            },
            "Status": "Pending",
            "StatusMessage": "",
            "EndpointURL": "",
            "Replicas": 2,
            "Envs": [{"Name": "A", "Value": "1"}],
            "FlavorID": "ml.g1e.large",
            "ImageID": "machinelearning/tfserving:tf-cuda10.1",
            "Description": "first",
        },
        "CreateTime": "2021-08-12T07:07:50+00:00",
    }


def test_defaults(store: Store, model_id: str) -> None:
    body = {
        "ServiceName": "bare",
        "ServiceDeployment": {"FlavorID": "ml.c1i.large", "Model": {"ModelVersionID": f"{model_id}-1"}},
    }
    service_id = store.create_service(ACCOUNT, body)["ServiceID"]
    deployment = store.get_service(ACCOUNT, {"ServiceID": service_id})["ServiceDeployment"]
    assert (deployment["Replicas"], deployment["Envs"], deployment["ImageID"], deployment["Description"]) == (
        1,
        [],
        "",
        "",
    )


def test_life_cycle(store: Store, model_id: str) -> None:
    service_id = store.create_service(ACCOUNT, service_body(model_id, 1))["ServiceID"]
    store.set_service_status(service_id, "Running", "http://127.0.0.1:9000/v1/models/svc")
    assert status(store, service_id) == ("Running", "http://127.0.0.1:9000/v1/models/svc")
    store.start_service(ACCOUNT, {"ServiceID": service_id})  # already running: unchanged
    assert status(store, service_id) == ("Running", "http://127.0.0.1:9000/v1/models/svc")
    assert store.stop_service(ACCOUNT, {"ServiceID": service_id}) == {"ServiceID": service_id}
    # Stopping until the supervisor has stopped the replicas
    assert status(store, service_id) == ("Stopping", "http://127.0.0.1:9000/v1/models/svc")
    assert store.service_transition(service_id, ["Stopping"], "Stopped", endpoint_url="")
    assert status(store, service_id) == ("Stopped", "")
    assert store.start_service(ACCOUNT, {"ServiceID": service_id}) == {"ServiceID": service_id}
    assert status(store, service_id) == ("Pending", "")
    store.set_service_status(service_id, "Failed")
    store.start_service(ACCOUNT, {"ServiceID": service_id})
    assert status(store, service_id) == ("Pending", "")
    assert store.delete_service(ACCOUNT, {"ServiceID": service_id}) == {"ServiceID": service_id}
    with pytest.raises(ApiError) as caught:
        store.get_service(ACCOUNT, {"ServiceID": service_id})
    assert caught.value.code == "NotFound"


def test_scaling(store: Store, model_id: str) -> None:
    service_id = store.create_service(ACCOUNT, service_body(model_id, 1))["ServiceID"]
    body = {"ServiceID": service_id, "Replicas": 3, "ChangeType": "ScalingService"}
    assert store.update_service(ACCOUNT, body) == {"ServiceID": service_id}
    assert store.get_service(ACCOUNT, {"ServiceID": service_id})["ServiceDeployment"]["Replicas"] == 3
    with pytest.raises(ApiError) as caught:
        store.update_service(ACCOUNT, {**body, "ChangeType": "RollingUpdate"})
    assert caught.value.code == "InvalidParameter"
    assert "RollingUpdate" in caught.value.message and "ScalingService" in caught.value.message
    with pytest.raises(ApiError) as caught:
        store.update_service(ACCOUNT, {"ServiceID": service_id, "ChangeType": "ScalingService"})
    assert caught.value.code == "InvalidParameter"


def test_unknown_flavor_is_not_found(store: Store, model_id: str) -> None:
    with pytest.raises(ApiError) as caught:
        store.create_service(ACCOUNT, service_body(model_id, 1, FlavorID="ml.g9.giant"))
    assert (caught.value.code, caught.value.status) == ("NotFound", 404)
    assert "ml.g9.giant" in caught.value.message
    assert all(flavor in caught.value.message for flavor in FLAVOR_IDS)
    assert store.list_services(ACCOUNT, {})["Total"] == 0


def test_the_version_must_exist_and_belong_to_the_model(store: Store, model_id: str) -> None:
    other, _ = register(store, name="other")
    with pytest.raises(ApiError) as caught:
        store.create_service(ACCOUNT, service_body(model_id, 2))
    assert caught.value.code == "NotFound"
    body = service_body(model_id, 1)
    body["ServiceDeployment"]["Model"]["ModelID"] = other
    with pytest.raises(ApiError) as caught:
        store.create_service(ACCOUNT, body)
    # a reference to what does not exist (the other model has no such version): 404, as the document
    # says of unknown references
    assert (caught.value.code, caught.value.status) == ("NotFound", 404)
    assert "ServiceDeployment.Model.ModelID" in caught.value.message


def test_names_are_unique_per_account(store: Store, model_id: str) -> None:
    store.create_service(ACCOUNT, service_body(model_id, 1, name="svc"))
    with pytest.raises(ApiError) as caught:
        store.create_service(ACCOUNT, service_body(model_id, 1, name="svc"))
    assert caught.value.code == "Conflict"
    assert store.list_services(ACCOUNT, {})["Total"] == 1


def test_model_rename_shows_and_a_served_model_cannot_be_deleted(store: Store, model_id: str) -> None:
    service_id = store.create_service(ACCOUNT, service_body(model_id, 1))["ServiceID"]
    store.update_model(ACCOUNT, {"ModelID": model_id, "ModelName": "resnet-v2"})
    assert (
        store.get_service(ACCOUNT, {"ServiceID": service_id})["ServiceDeployment"]["Model"]["Name"]
        == "resnet-v2"
    )
    for delete, body in (
        (store.delete_model, {"ModelID": model_id}),
        (store.delete_model_version, {"ModelVersionID": f"{model_id}-1"}),
    ):
        with pytest.raises(ApiError) as caught:
            delete(ACCOUNT, body)
        assert (caught.value.code, caught.value.status) == ("ResourceInUse", 409)
        assert service_id in caught.value.message and "svc" in caught.value.message
    model = store.get_service(ACCOUNT, {"ServiceID": service_id})["ServiceDeployment"]["Model"]
    assert (model["Name"], model["Path"], model["Version"]) == ("resnet-v2", "tos://b/resnet/1/", "1")
    # Once the service is gone, the model goes.
    store.delete_service(ACCOUNT, {"ServiceID": service_id})
    store.delete_model(ACCOUNT, {"ModelID": model_id})


def test_worker_status_is_checked(store: Store, model_id: str) -> None:
    service_id = store.create_service(ACCOUNT, service_body(model_id, 1))["ServiceID"]
    with pytest.raises(ApiError) as caught:
        store.set_service_status(service_id, "Exploded")
    assert caught.value.code == "InvalidParameter"
    with pytest.raises(ApiError) as caught:
        store.set_service_status("s-20210812070750-none0", "Running")
    assert caught.value.code == "NotFound"


def test_supervisor_transitions_are_compare_and_set(store: Store, model_id: str) -> None:
    service_id = store.create_service(ACCOUNT, service_body(model_id, 1, Replicas=1))["ServiceID"]
    assert store.service_transition(service_id, ["Pending"], "Deploying", endpoint_url="http://127.0.0.1:1")
    assert not store.service_transition(service_id, ["Pending"], "Running")  # no longer Pending
    assert store.service_transition(service_id, ["Deploying"], "Running", replicas=1, message="on the CPU")
    deployment = store.get_service(ACCOUNT, {"ServiceID": service_id})["ServiceDeployment"]
    assert (deployment["Status"], deployment["StatusMessage"]) == ("Running", "on the CPU")
    # Scaling a Running service: Deploying until the new count is ready; a report about the old
    # count is refused.
    store.update_service(ACCOUNT, {"ServiceID": service_id, "Replicas": 3, "ChangeType": "ScalingService"})
    assert status(store, service_id)[0] == "Deploying"
    assert not store.service_transition(service_id, ["Deploying"], "Running", replicas=1)
    assert store.service_transition(service_id, ["Deploying"], "Running", replicas=3)
    # A stop request wins over a supervisor that still thinks the service is live.
    store.stop_service(ACCOUNT, {"ServiceID": service_id})
    assert not store.service_transition(
        service_id, ["Pending", "Deploying", "Running"], "Failed", message="x"
    )
    assert status(store, service_id)[0] == "Stopping"
