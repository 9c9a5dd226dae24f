"""The object store's renewing keys (``transfer.credentials``) as botocore and obstore read them."""

from __future__ import annotations

import math
import time

from volcengine_ml_platform.transfer.credentials import RenewingKeys, StoreKeys


def test_keys_that_never_expire_are_given_to_botocore_with_a_far_expiry() -> None:
    """The platform may stop issuing temporary keys (its store no longer has STS): the keys it then
    names never expire (inf), which botocore must still be able to hold and refresh into."""
    first = StoreKeys("AK", "SK", "T", time.time() + 100)  # inside the renew margin: refreshed at once
    renewing = RenewingKeys(first, lambda: StoreKeys("AK2", "SK2", None, math.inf))
    frozen = renewing.botocore().get_frozen_credentials()
    assert (frozen.access_key, frozen.secret_key, frozen.token) == ("AK2", "SK2", None)
    assert renewing.obstore()()["access_key_id"] == "AK2"
