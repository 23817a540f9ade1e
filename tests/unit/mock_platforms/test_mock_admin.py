"""The admin API: platform names, stats, segment listing, reset."""

from __future__ import annotations

import httpx

SEGMENT = {"name": "Auto Intenders", "description": "d", "price": 1.0, "currency": "USD"}


async def test_stats_shape_for_every_platform(client: httpx.AsyncClient) -> None:
    for platform in ("custom_api", "tradedesk", "liveramp", "indexexchange", "dmp", "custom", "ttd", "ix"):
        stats = (await client.get(f"/admin/stats/{platform}")).json()
        assert set(stats) == {
            "platform",
            "segments",
            "creates_by_key",
            "duplicates",
            "requests",
            "writes",
            "rate_limited",
        }


async def test_unknown_platform_is_404(client: httpx.AsyncClient) -> None:
    response = await client.get("/admin/stats/myspace")
    assert response.status_code == 404
    assert "custom_api" in response.json()["message"]


async def test_segments_lists_what_the_platform_holds(client: httpx.AsyncClient) -> None:
    await client.post("/custom/segments", json=SEGMENT)
    held = (await client.get("/admin/segments/custom_api")).json()
    assert held["platform"] == "custom_api"
    assert [s["name"] for s in held["segments"]] == ["Auto Intenders"]


async def test_reset_forgets_segments_tenants_faults_and_records(client: httpx.AsyncClient) -> None:
    await client.post("/custom/segments", json=SEGMENT)
    await client.post("/admin/tenants", json={"platform": "custom_api", "credentials": {"api_key": "k"}})
    await client.put("/admin/faults/dmp", json={"status": 500})
    await client.post("/admin/dmp/generate", json={"count": 10, "seed": 1})

    assert (await client.post("/admin/reset")).status_code == 204

    assert (await client.get("/custom/health")).status_code == 200
    assert (await client.get("/admin/stats/custom_api")).json()["segments"] == 0
    assert (await client.get("/dmp/api/v1/segments/count")).json() == {"meta": [{"total": 0}]}


async def test_forgetting_tenants_opens_the_platform_again(client: httpx.AsyncClient) -> None:
    await client.post("/admin/tenants", json={"platform": "custom_api", "credentials": {"api_key": "k"}})
    assert (await client.get("/custom/health")).status_code == 401
    assert (await client.delete("/admin/tenants/custom_api")).status_code == 204
    assert (await client.get("/custom/health")).status_code == 200


async def test_settings_are_per_platform(client: httpx.AsyncClient) -> None:
    refused = await client.put("/admin/settings/liveramp", json={"processing_delay_s": 0})
    accepted = await client.put("/admin/settings/ttd", json={"processing_delay_s": 0.5})
    assert refused.status_code == 400
    assert accepted.json()["processing_delay_s"] == 0.5


async def test_creates_lists_when_each_create_arrived_since_a_time(client: httpx.AsyncClient) -> None:
    await client.post("/custom/segments", json=SEGMENT)
    first = (await client.get("/admin/creates/custom_api")).json()["create_times"]
    await client.post("/custom/segments", json={**SEGMENT, "name": "Pet Owners"})
    later = (await client.get("/admin/creates/custom_api", params={"since": first[0] + 1e-6})).json()

    assert len(first) == 1
    assert len(later["create_times"]) == 1
    assert later["create_times"][0] > first[0]
    assert (await client.get("/admin/creates/tradedesk")).json() == {"create_times": []}
