"""A plain-http platform (the embedded one, ``mlp serve``) loads no TLS trust store, with either API:
loading one costs tens of milliseconds at every start, for a connection that never uses TLS."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from volcengine_ml_platform.models.async_model import AsyncModel
from volcengine_ml_platform.models.model import Model

from .helpers import Peer


@pytest.fixture
def trust_store_loads(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> list[str]:
    """Every trust store loaded from now on; ``REQUESTS_CA_BUNDLE`` names a file no TLS library could
    load, so building a context from it would fail rather than pass unseen."""
    garbage = tmp_path / "not-a-ca.pem"
    garbage.write_text("this is not a certificate\n", encoding="utf-8")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(garbage))
    loads: list[str] = []
    for name in ("load_verify_locations", "load_default_certs", "set_default_verify_paths"):
        real: Callable[..., Any] = getattr(ssl.SSLContext, name)

        def spy(self: ssl.SSLContext, *args: Any, _real: Callable[..., Any] = real, _name: str = name,
                **kwargs: Any) -> Any:  # fmt: skip
            loads.append(_name)
            return _real(self, *args, **kwargs)

        monkeypatch.setattr(ssl.SSLContext, name, spy)
    return loads


def test_a_plain_http_platform_loads_no_trust_store(peer: Peer, trust_store_loads: list[str]) -> None:
    model = peer.model()  # Model, or AsyncModel (its session and its sync twin) for the async API
    assert model.list_models(page_size=1).result.total >= 0
    assert trust_store_loads == []


@pytest.mark.parametrize("cls", [Model, AsyncModel], ids=["sync", "async"])
def test_an_https_endpoint_still_verifies_with_the_configured_bundle(
    cls: type[Model] | type[AsyncModel], trust_store_loads: list[str]
) -> None:
    with pytest.raises(ssl.SSLError):  # the bundle is read (and refused) for https
        cls(endpoint="https://127.0.0.1:9", access_key="AK", secret_key="SK")
    assert trust_store_loads == ["load_verify_locations"]
