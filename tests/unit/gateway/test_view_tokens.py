"""Run-view tokens across a credentials key rotation."""

from __future__ import annotations

import time
import uuid

from services.gateway.view_tokens import mint, token_secret, verify_with_any

OLD_KEY = "view-token-old-key-6a1f0c93"
NEW_KEY = "view-token-new-key-2d7b4e18"


def test_a_token_signed_with_the_previous_key_stays_valid_while_it_is_configured() -> None:
    org_id, run_id = uuid.uuid4(), uuid.uuid4()
    token = mint(token_secret(OLD_KEY), org_id, run_id, int(time.time()) + 600)
    assert verify_with_any((NEW_KEY, OLD_KEY), token, run_id, time.time()) == org_id
    assert verify_with_any((NEW_KEY,), token, run_id, time.time()) is None  # previous key dropped
    assert verify_with_any((NEW_KEY, OLD_KEY), token, uuid.uuid4(), time.time()) is None  # another run
