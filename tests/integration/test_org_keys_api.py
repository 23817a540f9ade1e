"""The org's API keys over real HTTP and Postgres: create of a scope, rotate, revoke, never a lock-out."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from shared.db.orgs import KeyScope, add_api_key, create_org, hash_api_key, new_api_key

pytestmark = pytest.mark.integration


class Org:
    def __init__(self, org_id: uuid.UUID, admin_key: str, read_key: str) -> None:
        self.org_id = org_id
        self.admin_key = admin_key
        self.read_key = read_key


@pytest.fixture
async def org(pool: asyncpg.Pool[Any]) -> Org:
    org_id, admin_key = await create_org(pool, f"keys-{secrets.token_hex(3)}")
    read_key = new_api_key()
    await add_api_key(pool, org_id, read_key, scope=KeyScope.READ)
    return Org(org_id, admin_key, read_key)


@pytest.fixture
async def http(gateway_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:
        yield client


def _bearer(api_key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api_key}"}


async def _status(http: httpx.AsyncClient, api_key: str) -> int:
    return (await http.get("/api/connections", headers=_bearer(api_key))).status_code


async def test_an_admin_creates_a_read_key_shown_once_and_listed_without_its_secret(
    http: httpx.AsyncClient, org: Org, pool: asyncpg.Pool[Any]
) -> None:
    created = await http.post("/api/keys", headers=_bearer(org.admin_key), json={"scope": "read"})
    assert created.status_code == 201, created.text
    assert created.headers["cache-control"] == "no-store"
    body = created.json()
    secret, key = body["secret"], body["key"]
    assert key["scope"] == "read"
    assert key["prefix"] == secret[:8]
    stored = await pool.fetchval("SELECT key_hash FROM api_keys WHERE id = $1", uuid.UUID(key["id"]))
    assert stored == hash_api_key(secret)  # a digest at rest, as every key
    assert await _status(http, secret) == 200
    refused = await http.post("/api/topics", headers=_bearer(secret), json={"name": "t"})
    assert refused.status_code == 403

    listed = await http.get("/api/keys", headers=_bearer(org.admin_key))
    assert listed.status_code == 200
    assert secret not in listed.text
    by_id = {entry["id"]: entry for entry in listed.json()}
    assert len(by_id) == 3
    assert by_id[key["id"]]["scope"] == "read"
    assert not by_id[key["id"]]["inUse"]
    assert [entry["scope"] for entry in listed.json() if entry["inUse"]] == ["admin"]


async def test_a_read_key_lists_but_cannot_create_rotate_or_revoke(http: httpx.AsyncClient, org: Org) -> None:
    reader = _bearer(org.read_key)
    listed = await http.get("/api/keys", headers=reader)
    assert listed.status_code == 200
    admin_id = next(entry["id"] for entry in listed.json() if entry["scope"] == "admin")
    for response in (
        await http.post("/api/keys", headers=reader, json={"scope": "admin"}),
        await http.post(f"/api/keys/{admin_id}/rotate", headers=reader),
        await http.delete(f"/api/keys/{admin_id}", headers=reader),
    ):
        assert response.status_code == 403, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert "'read'" in response.json()["detail"]
    assert await _status(http, org.admin_key) == 200


async def test_another_orgs_key_is_not_found(
    http: httpx.AsyncClient, org: Org, pool: asyncpg.Pool[Any]
) -> None:
    _other_id, other_key = await create_org(pool, f"keys-other-{secrets.token_hex(3)}")
    other = (await http.get("/api/keys", headers=_bearer(other_key))).json()
    assert [entry["scope"] for entry in other] == ["admin"]
    other_key_id = other[0]["id"]
    admin = _bearer(org.admin_key)
    assert (await http.delete(f"/api/keys/{other_key_id}", headers=admin)).status_code == 404
    assert (await http.post(f"/api/keys/{other_key_id}/rotate", headers=admin)).status_code == 404
    assert await _status(http, other_key) == 200
    assert other_key_id not in (await http.get("/api/keys", headers=admin)).text


async def test_the_last_admin_key_cannot_be_revoked_and_the_key_in_use_neither(
    http: httpx.AsyncClient, org: Org
) -> None:
    admin = _bearer(org.admin_key)
    keys = (await http.get("/api/keys", headers=admin)).json()
    own_id = next(entry["id"] for entry in keys if entry["inUse"])
    last = await http.delete(f"/api/keys/{own_id}", headers=admin)
    assert last.status_code == 409
    assert last.headers["content-type"] == "application/problem+json"
    assert "last admin key" in last.json()["detail"]

    second = (await http.post("/api/keys", headers=admin, json={"scope": "admin"})).json()
    in_use = await http.delete(f"/api/keys/{own_id}", headers=admin)
    assert in_use.status_code == 409
    assert "authenticated by that key" in in_use.json()["detail"]
    assert await _status(http, org.admin_key) == 200

    # With the second admin key the first one goes; then the second is the last and stays.
    assert (await http.delete(f"/api/keys/{own_id}", headers=_bearer(second["secret"]))).status_code == 204
    assert await _status(http, org.admin_key) == 401
    assert (await http.delete(f"/api/keys/{own_id}", headers=_bearer(second["secret"]))).status_code == 404
    again = await http.delete(f"/api/keys/{second['key']['id']}", headers=_bearer(second["secret"]))
    assert again.status_code == 409
    assert await _status(http, second["secret"]) == 200


async def test_rotating_replaces_a_key_by_one_of_its_scope_at_once(http: httpx.AsyncClient, org: Org) -> None:
    admin = _bearer(org.admin_key)
    read_id = next(
        entry["id"]
        for entry in (await http.get("/api/keys", headers=admin)).json()
        if entry["scope"] == "read"
    )
    rotated = await http.post(f"/api/keys/{read_id}/rotate", headers=admin)
    assert rotated.status_code == 201, rotated.text
    body = rotated.json()
    assert body["replacedKeyId"] == read_id
    assert body["key"]["scope"] == "read"
    assert await _status(http, org.read_key) == 401
    assert await _status(http, body["secret"]) == 200
    live = {entry["id"] for entry in (await http.get("/api/keys", headers=admin)).json()}
    assert read_id not in live
    assert body["key"]["id"] in live


async def test_a_console_session_sees_its_key_in_use_and_cannot_revoke_it(
    gateway_url: str, org: Org, http: httpx.AsyncClient
) -> None:
    second = (await http.post("/api/keys", headers=_bearer(org.admin_key), json={"scope": "admin"})).json()
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as browser:
        session = (await browser.post("/api/session", json={"apiKey": org.admin_key})).json()
        csrf = {"X-CSRF-Token": session["csrfToken"]}
        keys = (await browser.get("/api/keys")).json()
        own_id = next(entry["id"] for entry in keys if entry["inUse"])
        assert own_id != second["key"]["id"]
        refused = await browser.delete(f"/api/keys/{own_id}", headers=csrf)
        assert refused.status_code == 409
        assert "console session" in refused.json()["detail"]
        no_csrf = await browser.delete(f"/api/keys/{second['key']['id']}")
        assert no_csrf.status_code == 403
        assert (await browser.delete(f"/api/keys/{second['key']['id']}", headers=csrf)).status_code == 204
        assert (await browser.get("/api/session")).status_code == 200
