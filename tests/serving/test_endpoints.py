"""Where service endpoints listen and what EndpointURL names: the host `mlp serve` listens on, and
MLP_SERVING_HOST (team mode: a client on another machine must not be sent to its own localhost)."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from mlp_server.platform import open_platform
from mlp_server.serving.endpoints import Endpoints, advertised_host, url_host
from mlp_server.settings import ServerSettings
from mlp_testing import MlpServe, clean_env, read_default_keys
from volcengine_ml_platform.models.model import Model

from .conftest import EXAMPLE, register
from .test_serving import wait_running


@pytest.mark.parametrize("wildcard", ["0.0.0.0", "::", ""])
def test_a_wildcard_address_advertises_this_machines_hostname(wildcard: str) -> None:
    assert advertised_host(wildcard) == socket.gethostname()
    assert Endpoints(bind_host=wildcard).url(8500) == f"http://{socket.gethostname()}:8500"


def test_a_concrete_address_is_advertised_unless_a_host_is_configured() -> None:
    assert Endpoints().url(8500) == "http://127.0.0.1:8500"  # the embedded platform
    assert Endpoints(bind_host="10.0.3.7").url(8500) == "http://10.0.3.7:8500"
    assert Endpoints(bind_host="fd00::7").url(8500) == "http://[fd00::7]:8500"
    assert Endpoints(bind_host="0.0.0.0", host="mlp-1.internal").url(8500) == "http://mlp-1.internal:8500"
    assert url_host("mlp-1.internal") == "mlp-1.internal"


def test_the_settings_name_the_host_and_the_timeouts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("MLP_SERVING_HOST", "MLP_SERVING_TIMEOUT", "MLP_SERVING_READ_TIMEOUT"):
        monkeypatch.delenv(name, raising=False)
    defaults = ServerSettings.from_env(tmp_path)
    assert (
        defaults.serving_bind_host,
        defaults.serving_host,
        defaults.serving_timeout,
        defaults.serving_read_timeout,
    ) == ("127.0.0.1", None, 60.0, 10.0)
    monkeypatch.setenv("MLP_SERVING_HOST", "mlp-1.internal")
    monkeypatch.setenv("MLP_SERVING_TIMEOUT", "2.5")
    monkeypatch.setenv("MLP_SERVING_READ_TIMEOUT", "4")
    settings = ServerSettings.from_env(tmp_path, serving_bind_host="0.0.0.0")
    platform = open_platform(settings)
    try:
        assert platform.serving.endpoints == Endpoints("0.0.0.0", "mlp-1.internal", 2.5, 4.0)
    finally:
        platform.store.close()
    for key in ("MLP_SERVING_TIMEOUT", "MLP_SERVING_READ_TIMEOUT"):
        for bad in ("0", "-1", "soon", "inf"):
            monkeypatch.setenv(key, bad)
            with pytest.raises(ValueError, match=f"{key}="):
                ServerSettings.from_env(tmp_path)
        monkeypatch.setenv(key, "1")


def test_mlp_serve_puts_the_endpoints_on_its_host(tmp_path: Path) -> None:
    """`mlp serve --host 127.0.0.2` (another loopback address, as a machine's own address would be):
    the service's endpoint listens there, not on 127.0.0.1, and EndpointURL names it. Its proxy has
    the MLP_SERVING_READ_TIMEOUT of `mlp serve`'s environment."""
    env = clean_env(tmp_path / "home", MLP_SERVING_READ_TIMEOUT="1")
    data_dir = tmp_path / "platform"
    with MlpServe(data_dir, env=env, host="127.0.0.2") as server:
        keys = read_default_keys(data_dir)
        model = Model(endpoint=server.url, access_key=keys.ak, secret_key=keys.sk)
        service = model.deploy(register(model, EXAMPLE, "iris"), "1", "host-svc", flavor="ml.c1i.large")
        url = wait_running(service)
        port = int(url.rsplit(":", 1)[1])
        assert url == f"http://127.0.0.2:{port}"
        assert httpx.get(f"{url}/v2/health/ready", timeout=10).json() == {"ready": True}
        with pytest.raises(httpx.ConnectError):
            httpx.get(f"http://127.0.0.1:{port}/v2/health/ready", timeout=10)
        with socket.create_connection(("127.0.0.2", port), timeout=10) as stalled:
            stalled.sendall(b"POST /v2/models/host-svc/infer HTTP/1.1\r\nhost: x\r\n")  # and no more
            answer = b"".join(iter(lambda: stalled.recv(4096), b""))
        assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n"), answer
        assert answer.endswith(b'within 1s (MLP_SERVING_READ_TIMEOUT)"}')
        service.delete()
