"""An S3 + STS + IAM server that really checks credentials: moto's server with IAM enforcement on.

Run as a subprocess (``python tests/iam_s3.py``): moto's IAM switch (``INITIAL_NO_AUTH_ACTION_COUNT``)
is process-wide, and the other suites share an in-process moto without it. :class:`IamS3` starts it on
a free loopback port, creates, while auth is still off, the platform's IAM user (its keys are the
store's ``MLP_S3_ACCESS_KEY``) and the role GetSTSToken assumes, then turns enforcement on through
moto's own ``/moto-api/reset-auth`` (the same counter as ``INITIAL_NO_AUTH_ACTION_COUNT``).

moto 5.2.5 accepts AssumeRole's ``Policy`` but does not apply it, and never expires assumed-role
credentials; AWS and MinIO do both. The two checks are added here, as AWS documents them, so that a
wrong or expired credential is refused as it would be by a real store:

- an assumed role's request must be allowed by the role's policies AND by the session policy;
- a request signed with expired assumed-role credentials fails with ``ExpiredToken`` (400).

``POST /_mlp_test/clock`` with a number of seconds moves this server's clock forward (expiry only: the
credentials it issues then expire that much later too), so a test can see credentials expire without
waiting out STS's 15-minute minimum, and credentials issued after the move work.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any, Self

import boto3
import httpx

ACCOUNT = "123456789012"  # moto's default account
PLATFORM_USER = "mlp-platform"
ROLE_NAME = "mlp-object-access"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/{ROLE_NAME}"
REGION = "us-east-1"
# What the role may reach at most: every bucket of the platform (the session policy narrows it).
ROLE_POLICY = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": ["s3:*"],
            "Resource": [
                "arn:aws:s3:::ml-platform-auto-created-*",
                "arn:aws:s3:::ml-platform-auto-created-*/*",
            ],
        }
    ],
}
PLATFORM_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": ["s3:*", "sts:AssumeRole"], "Resource": "*"}],
}
STARTUP_TIMEOUT = 30.0


class IamS3:
    """The server subprocess and the keys of its platform user (the store's master keys)."""

    def __init__(self) -> None:
        self.proc: subprocess.Popen[str] | None = None
        self.endpoint = ""
        self.access_key = ""
        self.secret_key = ""

    def start(self) -> Self:
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__)), "serve"],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line:
            self.stop()
            raise RuntimeError("the IAM-enforcing S3 server did not start")
        self.endpoint = f"http://127.0.0.1:{json.loads(line)['port']}"
        self._provision()
        return self

    def _admin(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            aws_access_key_id="bootstrap",
            aws_secret_access_key="bootstrap",
            region_name=REGION,
        )

    def _provision(self) -> None:
        iam = self._admin("iam")
        iam.create_user(UserName=PLATFORM_USER)
        iam.put_user_policy(
            UserName=PLATFORM_USER, PolicyName="platform", PolicyDocument=json.dumps(PLATFORM_POLICY)
        )
        key = iam.create_access_key(UserName=PLATFORM_USER)["AccessKey"]
        self.access_key, self.secret_key = key["AccessKeyId"], key["SecretAccessKey"]
        trust = {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"AWS": f"arn:aws:iam::{ACCOUNT}:user/{PLATFORM_USER}"},
                    "Action": "sts:AssumeRole",
                }
            ],
        }
        iam.create_role(RoleName=ROLE_NAME, AssumeRolePolicyDocument=json.dumps(trust))
        iam.put_role_policy(RoleName=ROLE_NAME, PolicyName="buckets", PolicyDocument=json.dumps(ROLE_POLICY))
        # From now on every request must be signed by a known key and allowed by IAM.
        response = httpx.post(f"{self.endpoint}/moto-api/reset-auth", content=b"0", trust_env=False)
        response.raise_for_status()

    def advance_clock(self, seconds: float) -> None:
        response = httpx.post(f"{self.endpoint}/_mlp_test/clock", content=str(seconds), trust_env=False)
        response.raise_for_status()

    def client(self, service: str, access_key: str, secret_key: str, session_token: str | None = None) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.endpoint,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret_key,
            aws_session_token=session_token,
            region_name=REGION,
        )

    def env(self) -> dict[str, str]:
        """The platform's settings for this store (its keys, its STS role)."""
        return {
            "MLP_S3_ENDPOINT": self.endpoint,
            "MLP_S3_ACCESS_KEY": self.access_key,
            "MLP_S3_SECRET_KEY": self.secret_key,
            "MLP_S3_REGION": REGION,
            "MLP_S3_STS_ROLE_ARN": ROLE_ARN,
        }

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---- the server process -------------------------------------------------------------------------


def _serve() -> None:
    import logging

    from moto.core.utils import utcnow
    from moto.iam import access_control
    from moto.moto_server.threaded_moto_server import MotoRequestHandler
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
    from moto.s3.exceptions import S3ClientError
    from moto.sts.models import STSBackend, sts_backends
    from werkzeug.serving import make_server

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    clock_offset = [0.0]

    class ExpiredToken(S3ClientError):
        code = 400

        def __init__(self) -> None:
            super().__init__("ExpiredToken", "The provided token has expired.")

    original_init = access_control.AssumedRoleAccessKey.__init__

    def assumed_init(self: Any, account_id: str, partition: str, access_key_id: str, headers: Any) -> None:
        original_init(self, account_id, partition, access_key_id, headers)
        role = sts_backends[account_id][partition].get_assumed_role_from_access_key(access_key_id)
        self._session_policy = role.policy if role is not None else None
        now = utcnow() + timedelta(seconds=clock_offset[0])
        if role is not None and role.expiration <= now:
            raise ExpiredToken()

    access_control.AssumedRoleAccessKey.__init__ = assumed_init  # type: ignore[method-assign]

    original_assume_role = STSBackend.assume_role

    def assume_role(self: Any, *args: Any, **kwargs: Any) -> Any:
        role = original_assume_role(self, *args, **kwargs)
        role.expiration += timedelta(seconds=clock_offset[0])  # issued "now" on the moved clock
        return role

    STSBackend.assume_role = assume_role  # type: ignore[method-assign]

    original_check = access_control.IAMRequestBase.check_action_permitted

    def check_action_permitted(self: Any, resource: str) -> None:
        original_check(self, resource)  # the role's (or user's) own policies
        session_policy = getattr(self._access_key, "_session_policy", None)
        if session_policy:
            verdict = access_control.IAMPolicy(session_policy).is_action_permitted(self._action, resource)
            if verdict != access_control.PermissionResult.PERMITTED:
                self._raise_access_denied()

    access_control.IAMRequestBase.check_action_permitted = check_action_permitted  # type: ignore[method-assign]

    moto_app = DomainDispatcherApplication(create_backend_app)

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        if environ.get("PATH_INFO") == "/_mlp_test/clock" and environ.get("REQUEST_METHOD") == "POST":
            size = int(environ.get("CONTENT_LENGTH") or 0)
            clock_offset[0] += float(environ["wsgi.input"].read(size) or b"0")
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [str(clock_offset[0]).encode()]
        return moto_app(environ, start_response)

    server = make_server("127.0.0.1", 0, app, True, request_handler=MotoRequestHandler)
    print(json.dumps({"port": server.server_address[1]}), flush=True)
    server.serve_forever()


if __name__ == "__main__" and sys.argv[1:] == ["serve"]:
    _serve()
