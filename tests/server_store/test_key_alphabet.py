"""Generated access keys are letters and digits: a secret key starting with "-" (1 in 64 with
token_urlsafe) made ``mlp configure --secret-key SK`` fail as an unknown option."""

from __future__ import annotations

import re

from mlp_server.store.accounts import AK_PREFIX, random_key


def test_generated_keys_are_letters_and_digits() -> None:
    keys = [random_key(40) for _ in range(3000)]
    assert all(re.fullmatch(r"[A-Za-z0-9]{40}", key) for key in keys)
    assert len(set(keys)) == len(keys)
    assert len({key[0] for key in keys}) > 50  # every first character of the 62 shows up in 3000 draws
    assert AK_PREFIX == "AKLT"
