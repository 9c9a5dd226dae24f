"""``mlp config show``: every setting with where it came from, secrets masked to their last 4 chars."""

from __future__ import annotations

import json
from pathlib import Path

from ._support import Peer, clean_env, run_mlp

KEYS = ["mode", "config_file", "profile", "access_key", "secret_key", "session_token", "region", "endpoint"]
# Only what applies to the mode: the data folder when embedded; the inner host and object store remotely.
SETTINGS = {
    "embedded": [*KEYS, "data_dir"],
    "remote": [*KEYS, "inner_host", "tos_endpoint", "tos_region", "tos_access_key", "tos_secret_key"],
}


def test_config_show_for_each_peer(peer: Peer) -> None:
    as_table, as_json = peer.run_all(("config", "show"), ("config", "show", "-o", "json"))
    table = as_table.ok().table()
    assert table.headers == ["SETTING", "VALUE", "SOURCE"], as_table
    mode = "embedded" if peer.url is None else "remote"
    assert table.column("SETTING") == SETTINGS[mode], as_table
    rows = {r["SETTING"]: r for r in table.rows}
    data = as_json.ok().json()
    assert list(data) == SETTINGS[mode], as_json
    for name in SETTINGS[mode]:  # the same facts both ways
        assert data[name] == {"value": rows[name]["VALUE"], "source": rows[name]["SOURCE"]}, name
    assert data["region"] == {"value": "cn-beijing", "source": "default"}
    if peer.url is None:
        assert data["mode"]["value"] == "embedded"
        assert data["endpoint"] == {"value": "(embedded)", "source": "default"}
        assert data["data_dir"] == {"value": str(peer.data_dir), "source": "env:VOLC_ML_PLATFORM_DATA_DIR"}
        # Not set by the user: the embedded platform signs with its own keys, and says where they are.
        own = f"(not set: the embedded platform's own, in {peer.data_dir}/credentials.json)"
        assert data["access_key"]["value"] == data["secret_key"]["value"] == own, as_json
    else:
        ak, sk = peer.env["VOLC_ACCESSKEY"], peer.env["VOLC_SECRETKEY"]
        assert data["mode"]["value"] == "remote"
        assert data["endpoint"] == {"value": peer.url, "source": "env:VOLC_ML_PLATFORM_ENDPOINT"}
        assert data["access_key"] == {"value": f"****{ak[-4:]}", "source": "env:VOLC_ACCESSKEY"}
        assert data["secret_key"] == {"value": f"****{sk[-4:]}", "source": "env:VOLC_SECRETKEY"}
        for secret in (ak, sk, ak[:-4], sk[:-4]):
            assert secret not in as_table.out and secret not in as_json.out


def test_config_show_masks_secrets_from_env_and_names_every_source(tmp_path: Path) -> None:
    ak, sk, token = "AKLTcliTestAccessKey7Q2x", "cliTestSecretKey/With+Chars9zK1", "cliSessionTokenValue0A1b"
    config_file = tmp_path / "volc-config.json"
    config_file.write_text(json.dumps({"region": "cn-shanghai", "endpoint": "http://127.0.0.1:9"}))
    env = clean_env(
        tmp_path,
        VOLC_ACCESSKEY=ak,
        VOLC_SECRETKEY=sk,
        VOLCENGINE_SESSION_TOKEN=token,
        VOLC_CONFIG_FILE=str(config_file),
    )
    data_dir = tmp_path / "elsewhere"
    results = [
        run_mlp(["config", "show", "--region", "cn-guangzhou", "--data-dir", str(data_dir)], env),
        run_mlp(
            ["-o", "json", "--region", "cn-guangzhou", "config", "show", "--data-dir", str(data_dir)], env
        ),
    ]
    as_table, as_json = (r.ok() for r in results)
    for secret in (ak, sk, token):
        for shown in (as_table.out, as_json.out):
            assert secret not in shown and secret[:-4] not in shown
    rows = {r["SETTING"]: r for r in as_table.table().rows}
    assert (rows["secret_key"]["VALUE"], rows["secret_key"]["SOURCE"]) == ("****9zK1", "env:VOLC_SECRETKEY")
    assert rows["endpoint"]["SOURCE"] == f"file:{config_file}", as_table
    data = as_json.json()
    assert data["access_key"] == {"value": "****7Q2x", "source": "env:VOLC_ACCESSKEY"}
    assert data["secret_key"] == {"value": "****9zK1", "source": "env:VOLC_SECRETKEY"}
    assert data["session_token"] == {"value": "****0A1b", "source": "env:VOLCENGINE_SESSION_TOKEN"}
    assert data["region"] == {"value": "cn-guangzhou", "source": "argument"}
    assert data["endpoint"] == {"value": "http://127.0.0.1:9", "source": f"file:{config_file}"}
    assert "data_dir" not in data  # remote mode: the embedded platform's folder does not apply
    assert data["mode"]["value"] == "remote"
