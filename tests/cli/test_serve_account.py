"""``mlp serve`` (the ``served`` peer, started with the ``.venv/bin/mlp`` console script) and
``mlp account add``: the printed keys work against the running server, as a separate tenant."""

from __future__ import annotations

import json
import random
import uuid
from functools import partial
from pathlib import Path

import httpx

from mlp_testing import MlpServe, mlp_script

from ._support import EXAMPLE, MODEL_ID, Peer, clean_env, parallel, run_mlp


def test_serve_answers_on_its_port(mlp_serve: MlpServe) -> None:
    assert mlp_serve.proc is not None and mlp_serve.proc.poll() is None
    response = httpx.post(
        mlp_serve.url, params={"Action": "ListModels", "Version": "2021-07-01"}, json={}, trust_env=False
    )
    assert response.status_code in (400, 401, 403), response.text  # unsigned: refused, in the envelope
    error = response.json()["ResponseMetadata"]["Error"]
    assert error["Code"] and response.json()["ResponseMetadata"]["RequestId"]
    assert (mlp_serve.data_dir / "credentials.json").is_file()
    assert "Traceback" not in mlp_serve.log()


def test_account_add_keys_work_as_a_separate_tenant(served_peer: Peer, mlp_serve: MlpServe) -> None:
    account_id = 2100000000 + random.randrange(100_000, 999_999)
    script = [mlp_script()]
    added = served_peer.run(
        "account", "add", "--account-id", str(account_id), "--name", "cli-test",
        "--data-dir", str(mlp_serve.data_dir), cmd=script,
    ).ok()  # fmt: skip
    printed = added.kv()
    assert printed["AccountID"] == str(account_id) and printed["UserID"] == "1", added
    assert printed["Admin"] == "False", added
    # The secret is never printed, only its last 4 characters; the pair is in a 0600 file.
    keys_file = Path(printed["CredentialsFile"])
    assert keys_file.stat().st_mode & 0o777 == 0o600, added
    keys = json.loads(keys_file.read_text(encoding="utf-8"))
    assert keys["sk"] not in added.out and printed["SecretKey"] == "****" + keys["sk"][-4:], added
    assert keys["ak"] == printed["AccessKey"] != served_peer.env["VOLC_ACCESSKEY"], added

    # The admin has a model of its own.
    name = f"cli-admin-{uuid.uuid4().hex[:8]}"
    admin_model = served_peer.run(
        "models", "register", str(EXAMPLE), "--name", name, "--format", "ONNX", "--type", "ONNX:1.23"
    ).ok().kv()["ModelID"]  # fmt: skip

    tenant = {"VOLC_ACCESSKEY": keys["ak"], "VOLC_SECRETKEY": keys["sk"]}
    listed, listed_table, foreign, accounts = parallel(
        partial(served_peer.run, "models", "list", "-o", "json", env=tenant),
        partial(served_peer.run, "models", "list", env=tenant, cmd=script),
        partial(served_peer.run, "models", "show", admin_model, env=tenant),
        partial(
            served_peer.run,
            "--data-dir",
            str(mlp_serve.data_dir),
            "-o",
            "json",
            "account",
            "list",
            cmd=script,
        ),
    )
    assert listed.ok().envelope("ListModels") == {"Total": 0, "List": []}, listed
    table = listed_table.ok().table()
    assert table.rows == [] and (table.shown, table.total) == (0, 0), listed_table
    foreign.fails(1)
    assert "NotFound" in foreign.err and "RequestId" in foreign.err, foreign  # not the admin's model
    listed_accounts = accounts.ok().json()
    assert {"AccountID": account_id, "UserID": 1, "Admin": False, "Name": "cli-test"} in listed_accounts
    assert any(a["AccountID"] == 2100000001 and a["Admin"] for a in listed_accounts), accounts

    # The tenant registers a model of the same name; each account lists only its own.
    own = served_peer.run(
        "models", "register", str(EXAMPLE), "--name", name, "--format", "ONNX", "--type", "ONNX:1.23",
        "-o", "json", env=tenant,
    ).ok().envelope("CreateModel")["ModelID"]  # fmt: skip
    assert MODEL_ID.match(own) and own != admin_model
    tenant_sees, admin_sees = parallel(
        partial(served_peer.run, "models", "list", "--name-contains", name, "-o", "json", env=tenant),
        partial(served_peer.run, "models", "list", "--name-contains", name, "-o", "json"),
    )
    assert [m["ModelID"] for m in tenant_sees.ok().envelope("ListModels")["List"]] == [own]
    assert [m["ModelID"] for m in admin_sees.ok().envelope("ListModels")["List"]] == [admin_model]


def test_account_add_as_the_first_command_on_a_folder_also_makes_the_administrator(tmp_path: Path) -> None:
    """The administrator account is made when the platform finds no account. ``mlp account add`` run
    before anything else on a new data folder makes it too (with its credentials.json), as the first
    start would, instead of leaving a platform without an administrator whose embedded client has no
    keys to use."""
    env = clean_env(tmp_path, MLP_PERF_WORKERS="0")
    data_dir = tmp_path / "fresh"
    added = run_mlp(["account", "add", "--account-id", "2100000050", "--data-dir", str(data_dir)], env).ok()
    assert added.kv()["Admin"] == "False", added
    admin_keys = data_dir / "credentials.json"
    assert admin_keys.is_file() and admin_keys.stat().st_mode & 0o777 == 0o600, added
    assert f"created the administrator account 2100000001; its keys are in {admin_keys}" in added.err, added
    first_ak = json.loads(admin_keys.read_text(encoding="utf-8"))["ak"]
    accounts = run_mlp(["account", "list", "-o", "json", "--data-dir", str(data_dir)], env).ok().json()
    assert [(a["AccountID"], a["Admin"]) for a in accounts] == [(2100000001, True), (2100000050, False)]
    # The embedded client uses the administrator's keys, as on a folder the platform started.
    listed = run_mlp(["--data-dir", str(data_dir), "models", "list", "-o", "json"], env).ok()
    assert listed.envelope("ListModels") == {"Total": 0, "List": []}, listed
    # A second add finds the accounts: nothing more is made, nothing said.
    again = run_mlp(["account", "add", "--account-id", "2100000051", "--data-dir", str(data_dir)], env).ok()
    assert "administrator" not in again.err, again
    assert json.loads(admin_keys.read_text(encoding="utf-8"))["ak"] == first_ak
