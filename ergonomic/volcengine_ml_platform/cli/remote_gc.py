"""``mlp gc --endpoint URL``: the storage sweep of a running local platform, asked for with the
configured (administrator) keys. The server's ``mlp gc`` hands this over so that it never reads the
client's configuration."""

from __future__ import annotations

import argparse
import sys


def remote_gc(args: argparse.Namespace, grace: float, endpoint: str | None) -> int | None:
    """Ask the platform at ``endpoint`` (else the one the chosen profile names) to sweep; None when
    neither names one (the caller then sweeps the data folder)."""
    # Imported here: ``mlp`` builds its parser for every command, and only this one needs them.
    import httpx

    from mlp_server.cli import print_gc

    from ..auth import VolcSignerAuth
    from ..config import resolve_settings
    from ..errors import MLPlatformError

    try:
        settings = resolve_settings(
            endpoint=endpoint, region=getattr(args, "region", None), profile=getattr(args, "profile", None)
        )
        if settings.endpoint.value is None:
            return None
        if getattr(args, "data_dir", None) or getattr(args, "database_url", None):
            # Two platforms named (the folder's, the endpoint's): sweeping either might not be the one meant.
            named = "--endpoint" if endpoint else f"--profile {settings.profile.value}"
            print(
                f"mlp gc: {named} names the endpoint {settings.endpoint.value} ({settings.endpoint.source}), "
                "a running server, and --data-dir/--database-url open a platform's storage: give one of them",
                file=sys.stderr,
            )
            return 2
        auth = VolcSignerAuth.from_settings(settings)
    except MLPlatformError as exc:
        print(f"mlp gc: {exc}", file=sys.stderr)
        return 2
    url = settings.endpoint.value.rstrip("/") + "/mlp-admin/gc"
    try:
        body = {"GraceSeconds": grace, "DryRun": args.dry_run}
        response = httpx.post(url, json=body, auth=auth, timeout=600)
    except httpx.HTTPError as exc:
        print(f"mlp gc: cannot reach {url}: {exc}", file=sys.stderr)
        return 1
    try:
        envelope = response.json()
    except ValueError:
        envelope = {}
    if response.status_code != 200 or "Result" not in envelope:
        error = envelope.get("ResponseMetadata", {}).get("Error", {})
        print(
            f"mlp gc: [{error.get('Code', response.status_code)}] {error.get('Message', '')}", file=sys.stderr
        )
        return 1
    print_gc(envelope["Result"])
    return 0
