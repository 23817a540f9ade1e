"""The Trade Desk fake's /v3/authentication: tokens minted from a tenant's login, refused once expired."""

from __future__ import annotations

import httpx
import pytest

from tests.unit.mock_platforms.mock_platforms_fakes import FakeClock

LOGIN = {"Login": "api-user", "Password": "api-password"}
QUERY = {"ProviderId": "activator", "PageStartIndex": 0, "PageSize": 1}


@pytest.fixture
async def ttd(client: httpx.AsyncClient) -> httpx.AsyncClient:
    tenant = {"api_key": "ttd-token", "login": "api-user", "password": "api-password"}
    await client.post("/admin/tenants", json={"platform": "tradedesk", "credentials": tenant})
    return client


async def _query(client: httpx.AsyncClient, token: str) -> int:
    response = await client.post("/ttd/v3/thirdpartydata/query", json=QUERY, headers={"TTD-Auth": token})
    return response.status_code


async def test_a_minted_token_works_until_its_minutes_run_out(
    ttd: httpx.AsyncClient, clock: FakeClock
) -> None:
    minted = await ttd.post("/ttd/v3/authentication", json={**LOGIN, "TokenExpirationInMinutes": 10})
    token = minted.json()["Token"]
    fresh = await _query(ttd, token)
    clock.advance(10 * 60)
    expired = await ttd.post("/ttd/v3/thirdpartydata/query", json=QUERY, headers={"TTD-Auth": token})

    assert minted.status_code == 200
    assert list(minted.json()) == ["Token"]
    assert fresh == 200
    assert expired.status_code == 401
    assert expired.json() == {"Message": "Invalid or expired token"}
    assert await _query(ttd, "ttd-token") == 200  # the pasted token of the same tenant still works


async def test_the_default_lifetime_is_a_day(ttd: httpx.AsyncClient, clock: FakeClock) -> None:
    token = (await ttd.post("/ttd/v3/authentication", json=LOGIN)).json()["Token"]
    clock.advance(1440 * 60 - 1)
    assert await _query(ttd, token) == 200
    clock.advance(1)
    assert await _query(ttd, token) == 401


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"Login": "api-user", "Password": "wrong"}, 401),
        ({"Login": "someone", "Password": "api-password"}, 401),
        ({"Login": "api-user"}, 400),
        ({**LOGIN, "TokenExpirationInMinutes": 1441}, 400),
    ],
)
async def test_a_wrong_login_or_body_mints_nothing(
    ttd: httpx.AsyncClient, body: dict[str, object], status: int
) -> None:
    response = await ttd.post("/ttd/v3/authentication", json=body)
    assert response.status_code == status
    assert "Token" not in response.json()
    assert "wrong" not in response.text  # the refusal quotes no password


async def test_without_tenants_any_login_mints_but_expiry_still_applies(
    client: httpx.AsyncClient, clock: FakeClock
) -> None:
    token = (await client.post("/ttd/v3/authentication", json={"Login": "a", "Password": "b"})).json()[
        "Token"
    ]
    assert await _query(client, token) == 200
    clock.advance(1440 * 60)
    assert await _query(client, token) == 401
