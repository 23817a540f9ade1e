"""`activator keys rotate-credentials`: every credential moves to the new key in one transaction, or none does.

The command runs as an operator would run it, against a database of its own (rotating the session's
database would lock every other test out of its connections).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest

from shared.db.connections import ConnectionFields, create_connection, decrypt_credentials
from shared.db.orgs import create_org
from tests.support.infra import own_database_pool

pytestmark = pytest.mark.integration

NEW_KEY_ENV = "ACTIVATOR_NEW_CREDENTIALS_KEY"
OLD_KEY = "rotation-test-old-key-7f3a9c2e51"
NEW_KEY = "rotation-test-new-key-0b8d4e6a93"
CREDENTIALS = [
    {"api_key": "rotation-secret-custom-1"},
    {"client_id": "rotation-client", "client_secret": "rotation-secret-lr-2"},
    {"username": "ix-user", "password": "rotation-secret-ix-3"},
]


@pytest.fixture
async def database() -> AsyncIterator[tuple[str, asyncpg.Pool[Any]]]:
    async with own_database_pool() as url_and_pool:
        yield url_and_pool


async def _connections(pool: asyncpg.Pool[Any], key: str) -> tuple[uuid.UUID, list[uuid.UUID]]:
    org_id, _api_key = await create_org(pool, "rotation")
    ids = []
    for index, credentials in enumerate([*CREDENTIALS, None]):
        fields = ConnectionFields(
            name=f"c{index}",
            platform="custom_api",
            direction="outbound",
            auth_type="none" if credentials is None else "api_key",
            credentials=credentials,
            config={"api_base_url": "https://api.example/custom", "default_cpm": 1, "currency": "USD"},
        )
        ids.append((await create_connection(pool, org_id, fields, encryption_key=key, limit=20)).id)
    return org_id, ids


def _rotate(database_url: str, current: str, new: str, *args: str) -> subprocess.CompletedProcess[str]:
    return _run_rotation(
        database_url,
        {"CREDENTIALS_ENCRYPTION_KEY": current, NEW_KEY_ENV: new},
        "--new-key-env",
        NEW_KEY_ENV,
        *args,
    )


def _run_rotation(database_url: str, keys: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **{name: value for name, value in os.environ.items() if not name.startswith("CREDENTIALS_")},
        "DATABASE_URL": database_url,
        "ACTIVATOR_LOG_FORMAT": "console",
        **keys,
    }
    return subprocess.run(
        [sys.executable, "-m", "services", "keys", "rotate-credentials", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


async def _readable_with(
    pool: asyncpg.Pool[Any], org_id: uuid.UUID, ids: list[uuid.UUID], key: str, *fallback_keys: str
) -> bool:
    try:
        found = [
            await decrypt_credentials(pool, org_id, connection_id, key, fallback_keys=fallback_keys)
            for connection_id in ids
        ]
    except asyncpg.ExternalRoutineInvocationError:
        return False
    return found == [*CREDENTIALS, {}]


async def test_rotation_moves_every_credential_to_the_new_key(
    database: tuple[str, asyncpg.Pool[Any]],
) -> None:
    url, pool = database
    org_id, ids = await _connections(pool, OLD_KEY)
    before = await pool.fetch("SELECT id, config, updated_at FROM platform_connections ORDER BY id")

    dry = _rotate(url, OLD_KEY, NEW_KEY, "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "3 connection(s)" in dry.stdout
    assert await _readable_with(pool, org_id, ids, OLD_KEY)

    result = _rotate(url, OLD_KEY, NEW_KEY)
    assert result.returncode == 0, result.stderr
    assert "re-encrypted the credentials of 3 connection(s)" in result.stdout
    assert await _readable_with(pool, org_id, ids, NEW_KEY)
    assert not await _readable_with(pool, org_id, ids, OLD_KEY)
    # Nothing but the ciphertext changed.
    assert await pool.fetch("SELECT id, config, updated_at FROM platform_connections ORDER BY id") == before
    output = result.stdout + result.stderr + dry.stdout + dry.stderr
    for secret in [OLD_KEY, NEW_KEY, *(value for creds in CREDENTIALS for value in creds.values())]:
        assert secret not in output


async def test_one_credential_under_another_key_leaves_everything_as_it_was(
    database: tuple[str, asyncpg.Pool[Any]],
) -> None:
    url, pool = database
    org_id, ids = await _connections(pool, OLD_KEY)
    stray = await pool.fetchval(
        """INSERT INTO platform_connections (org_id, name, platform, direction, auth_type, auth_credentials_enc)
           VALUES ($1, 'stray', 'custom_api', 'outbound', 'api_key', pgp_sym_encrypt($2, 'some-other-key-entirely'))
           RETURNING id""",
        org_id,
        json.dumps({"api_key": "stray"}),
    )
    ciphertexts = await pool.fetch("SELECT id, auth_credentials_enc FROM platform_connections ORDER BY id")

    result = _rotate(url, OLD_KEY, NEW_KEY)

    assert result.returncode == 1
    assert (
        f"connection {stray} decrypt with neither the old nor the new key; nothing was changed"
        in result.stderr
    )
    assert (
        await pool.fetch("SELECT id, auth_credentials_enc FROM platform_connections ORDER BY id")
        == ciphertexts
    )
    assert await _readable_with(pool, org_id, ids, OLD_KEY)


@pytest.mark.parametrize(
    ("current", "new", "refusal"),
    [
        (OLD_KEY, "change-me-please-now", "ACTIVATOR_NEW_CREDENTIALS_KEY is a placeholder"),
        (OLD_KEY, "", "ACTIVATOR_NEW_CREDENTIALS_KEY is not set"),
        (OLD_KEY, OLD_KEY, "ACTIVATOR_NEW_CREDENTIALS_KEY holds the current key"),
        ("", NEW_KEY, "CREDENTIALS_ENCRYPTION_KEY (the current key) is not set"),
    ],
)
async def test_an_unusable_new_key_is_refused_before_anything_changes(
    database: tuple[str, asyncpg.Pool[Any]], current: str, new: str, refusal: str
) -> None:
    url, pool = database
    org_id, ids = await _connections(pool, OLD_KEY)
    result = _rotate(url, current, new)
    assert result.returncode == 2
    assert refusal in result.stderr
    assert await _readable_with(pool, org_id, ids, OLD_KEY)


async def test_services_keep_reading_while_a_rotation_is_under_way(
    database: tuple[str, asyncpg.Pool[Any]],
) -> None:
    """The online rotation: services restarted with the new key current and the old one as previous keep
    decrypting everything; the command then moves what is left, skipping what they saved under the new key."""
    url, pool = database
    org_id, ids = await _connections(pool, OLD_KEY)
    assert not await _readable_with(pool, org_id, ids, NEW_KEY)
    assert await _readable_with(pool, org_id, ids, NEW_KEY, OLD_KEY)  # what the restarted workers do
    saved_meanwhile = (
        await create_connection(
            pool,
            org_id,
            ConnectionFields(
                name="saved during the rotation",
                platform="custom_api",
                direction="outbound",
                auth_type="api_key",
                credentials={"api_key": "rotation-secret-new-4"},
                config={"api_base_url": "https://api.example/custom", "default_cpm": 1, "currency": "USD"},
            ),
            encryption_key=NEW_KEY,  # a gateway already on the new key
            limit=20,
        )
    ).id
    keys = {"CREDENTIALS_ENCRYPTION_KEY": NEW_KEY, "CREDENTIALS_ENCRYPTION_KEY_PREVIOUS": OLD_KEY}

    result = _run_rotation(url, keys)

    assert result.returncode == 0, result.stderr
    assert "re-encrypted the credentials of 3 connection(s)" in result.stdout
    assert "(1 already under the new key)" in result.stdout
    assert await _readable_with(pool, org_id, ids, NEW_KEY)  # no fallback needed any more
    assert await decrypt_credentials(pool, org_id, saved_meanwhile, NEW_KEY) == {
        "api_key": "rotation-secret-new-4"
    }
    assert OLD_KEY not in result.stdout + result.stderr
    assert NEW_KEY not in result.stdout + result.stderr


async def test_the_online_rotation_needs_the_previous_key(database: tuple[str, asyncpg.Pool[Any]]) -> None:
    url, pool = database
    org_id, ids = await _connections(pool, OLD_KEY)
    result = _run_rotation(url, {"CREDENTIALS_ENCRYPTION_KEY": NEW_KEY})
    assert result.returncode == 2
    assert "CREDENTIALS_ENCRYPTION_KEY_PREVIOUS is not set" in result.stderr
    assert await _readable_with(pool, org_id, ids, OLD_KEY)
