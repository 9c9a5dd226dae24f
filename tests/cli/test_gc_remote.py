"""``mlp gc`` naming its platform by a profile (one that names an endpoint) and a data folder at once."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlp_testing import MlpServe

from ._support import clean_env, run_mlp


@pytest.mark.parametrize("storage", ["--data-dir", "--database-url"])
def test_gc_with_a_profile_naming_an_endpoint_and_a_local_platform_is_refused(
    tmp_path: Path, mlp_serve: MlpServe, storage: str
) -> None:
    """``mlp --profile team gc --data-dir D`` names two platforms: the profile's server and the folder D.
    As ``--endpoint`` with ``--data-dir`` is refused, so is this (it swept the profile's server, ignoring
    D: a run meant for a local folder removed a remote platform's uploads), and nothing is swept."""
    creds = json.loads((mlp_serve.data_dir / "credentials.json").read_text(encoding="utf-8"))
    config = tmp_path / "volc-config"
    config.write_text(json.dumps({"profiles": {"team": {"endpoint": mlp_serve.url}}}), encoding="utf-8")
    env = clean_env(
        tmp_path, VOLC_CONFIG_FILE=str(config), VOLC_ACCESSKEY=creds["ak"], VOLC_SECRETKEY=creds["sk"]
    )
    local = tmp_path / "local-platform"
    value = str(local) if storage == "--data-dir" else f"sqlite:///{local / 'mlp.db'}"
    refused = run_mlp(["--profile", "team", "gc", storage, value, "--grace", "0", "--dry-run"], env)
    assert refused.code == 2, refused
    assert "give one of them" in refused.err and "team" in refused.err, refused
    assert "would remove" not in refused.out, refused
    # The profile alone asks its server, as before.
    asked = run_mlp(["--profile", "team", "gc", "--grace", "0", "--dry-run"], env).ok()
    assert "would remove" in asked.out + asked.err, asked
    assert not local.exists()
