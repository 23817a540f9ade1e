"""The Trade Desk fake's quota: per endpoint and login over a window, 429 with Retry-After beyond it."""

from __future__ import annotations

import httpx
import pytest

from tests.unit.mock_platforms.mock_platforms_fakes import FakeClock
from tests.unit.mock_platforms.test_mock_tradedesk import element

QUERY = {"ProviderId": "activator", "PageStartIndex": 0, "PageSize": 1}


@pytest.fixture
async def ttd(client: httpx.AsyncClient) -> httpx.AsyncClient:
    for token in ("token-a", "token-b"):
        await client.post("/admin/tenants", json={"platform": "tradedesk", "credentials": {"api_key": token}})
    return client


async def _create(ttd: httpx.AsyncClient, element_id: str, login: str = "a") -> httpx.Response:
    return await ttd.post(
        "/ttd/v3/thirdpartydata", json=element(element_id), headers={"TTD-Auth": f"token-{login}"}
    )


async def test_without_a_quota_nothing_is_refused(ttd: httpx.AsyncClient) -> None:
    assert {(await _create(ttd, f"e{n}")).status_code for n in range(50)} == {200}


async def test_over_the_quota_is_429_with_retry_after_and_no_ratelimit_headers(
    ttd: httpx.AsyncClient, clock: FakeClock
) -> None:
    settings = await ttd.put("/admin/settings/ttd", json={"rate_limit": 3, "rate_limit_window_s": 60})
    assert settings.json()["rate_limit"] == 3
    assert [(await _create(ttd, f"e{n}")).status_code for n in range(3)] == [200, 200, 200]
    clock.advance(20)
    refused = await _create(ttd, "e3")
    assert refused.status_code == 429
    assert refused.headers["Retry-After"] == "40"  # the oldest admitted request leaves the window then
    assert "Message" in refused.json()
    assert not [name for name in refused.headers if name.lower().startswith(("x-ratelimit", "ratelimit"))]
    clock.advance(40)
    assert (await _create(ttd, "e3")).status_code == 200
    stats = (await ttd.get("/admin/stats/ttd")).json()
    assert stats["rate_limited"] == 1
    assert stats["segments"] == 4


async def test_the_quota_is_per_endpoint_and_per_login(ttd: httpx.AsyncClient) -> None:
    await ttd.put("/admin/settings/ttd", json={"rate_limit": 2})
    assert [(await _create(ttd, f"e{n}")).status_code for n in range(3)] == [200, 200, 429]
    # Another endpoint of the same login, and the same endpoint for another login, still have their quota.
    query = await ttd.post("/ttd/v3/thirdpartydata/query", json=QUERY, headers={"TTD-Auth": "token-a"})
    assert query.status_code == 200
    assert (await _create(ttd, "e9", login="b")).status_code == 200


async def test_a_refused_request_changes_nothing(ttd: httpx.AsyncClient) -> None:
    await ttd.put("/admin/settings/ttd", json={"rate_limit": 1})
    await _create(ttd, "e1")
    assert (await _create(ttd, "e2")).status_code == 429
    held = (await ttd.get("/admin/segments/ttd")).json()["segments"]
    assert [e["ProviderElementId"] for e in held] == ["e1"]


async def test_the_quota_is_a_tradedesk_setting(client: httpx.AsyncClient) -> None:
    refused = await client.put("/admin/settings/liveramp", json={"rate_limit": 5})
    assert refused.status_code == 400
