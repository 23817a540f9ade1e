"""API key rotation as an operator does it: `activator org key rotate`, then `revoke`, against the gateway."""

from __future__ import annotations

import httpx
import pytest

from shared.settings import Settings
from tests.support.cli import activator, output_field

pytestmark = pytest.mark.integration


async def _status(gateway_url: str, api_key: str) -> int:
    async with httpx.AsyncClient(
        base_url=gateway_url, headers={"Authorization": f"Bearer {api_key}"}
    ) as client:
        return (await client.get("/api/connections")).status_code


async def test_rotate_then_revoke_keeps_only_the_new_key(gateway_url: str, settings: Settings) -> None:
    created = await activator(settings, "org", "create", "--name", "rotating")
    org_id, old_key = output_field(created, "org_id"), output_field(created, "api_key")
    assert await _status(gateway_url, old_key) == 200

    new_key = output_field(await activator(settings, "org", "key", "rotate", "--org", org_id), "api_key")
    assert new_key != old_key
    assert await _status(gateway_url, old_key) == 200  # until revoked
    assert await _status(gateway_url, new_key) == 200

    revoked = await activator(settings, "org", "key", "revoke", "--org", org_id)
    assert "revoked 1 key(s)" in revoked
    assert new_key[:8] in revoked
    assert old_key not in revoked
    assert await _status(gateway_url, old_key) == 401
    assert await _status(gateway_url, new_key) == 200

    # Revoking again changes nothing: the newest key is always kept.
    assert "revoked 0 key(s)" in await activator(settings, "org", "key", "revoke", "--org", org_id)
    assert await _status(gateway_url, new_key) == 200

    everything = await activator(settings, "org", "key", "revoke", "--org", org_id, "--all")
    assert "revoked 1 key(s)" in everything
    assert await _status(gateway_url, new_key) == 401
