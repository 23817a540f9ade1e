"""The DMP fake: deterministic records, offset and cursor paging, count, filters, and its sync-guard knobs."""

from __future__ import annotations

import time
from typing import Any

import httpx

SEGMENTS = "/dmp/api/v1/segments"


async def generate(client: httpx.AsyncClient, count: int, seed: int = 7) -> None:
    response = await client.post("/admin/dmp/generate", json={"count": count, "seed": seed})
    assert response.json() == {"total": count}


async def all_offset_pages(
    client: httpx.AsyncClient, filters: dict[str, str] | None = None, limit: int = 100
) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    offset = 0
    while True:
        params: dict[str, str | int] = {"offset": offset, "limit": limit, **(filters or {})}
        body = (await client.get(SEGMENTS, params=params)).json()
        records.extend(body["data"]["items"])
        offset += limit
        if offset >= body["meta"][0]["total"]:
            return records


async def all_cursor_pages(client: httpx.AsyncClient, page_size: int = 100) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    cursor = ""
    while True:
        params: dict[str, str | int] = {"page_size": page_size, **({"cursor": cursor} if cursor else {})}
        body = (await client.get(f"{SEGMENTS}/cursor", params=params)).json()
        records.extend(body["data"]["items"])
        cursor = body["paging"]["next_cursor"]
        if not cursor:
            return records


async def test_generated_records_are_deterministic_and_shaped(client: httpx.AsyncClient) -> None:
    await generate(client, 50, seed=3)
    first = (await client.get("/admin/segments/dmp")).json()["segments"]
    await generate(client, 50, seed=3)
    again = (await client.get("/admin/segments/dmp")).json()["segments"]
    await generate(client, 50, seed=4)
    other = (await client.get("/admin/segments/dmp")).json()["segments"]

    assert first == again
    assert first != other
    assert set(first[0]) == {
        "segment_id",
        "segment_name",
        "category",
        "description",
        "price",
        "updated_at",
        "attributes",
    }
    assert set(first[0]["category"]) == {"name"}
    assert set(first[0]["price"]) == {"cpm"}


async def test_offset_paging_sees_every_record_once(client: httpx.AsyncClient) -> None:
    await generate(client, 1_005)
    records = await all_offset_pages(client)
    ids = [record["segment_id"] for record in records]
    assert len(ids) == 1_005
    assert len(set(ids)) == 1_005


async def test_offset_page_shape(client: httpx.AsyncClient) -> None:
    await generate(client, 3)
    body = (await client.get(SEGMENTS, params={"offset": 1, "limit": 5})).json()
    assert set(body) == {"data", "meta"}
    assert [r["segment_id"] for r in body["data"]["items"]] == ["dmp-0000002", "dmp-0000003"]
    assert body["meta"] == [{"total": 3}]


async def test_cursor_paging_sees_every_record_once_and_ends_with_null(client: httpx.AsyncClient) -> None:
    await generate(client, 250)
    records = await all_cursor_pages(client, page_size=100)
    last = (await client.get(f"{SEGMENTS}/cursor", params={"page_size": 300})).json()
    assert [r["segment_id"] for r in records] == [f"dmp-{n:07d}" for n in range(1, 251)]
    assert last["paging"] == {"next_cursor": None}


async def test_count_endpoint(client: httpx.AsyncClient) -> None:
    await generate(client, 321)
    assert (await client.get(f"{SEGMENTS}/count")).json() == {"meta": [{"total": 321}]}


async def test_field_filters_apply_to_pages_and_count(client: httpx.AsyncClient) -> None:
    await generate(client, 500)
    everything = (await client.get("/admin/segments/dmp")).json()["segments"]
    travel = [r["segment_id"] for r in everything if r["category"]["name"] == "Travel"]
    partner = [r for r in everything if r["attributes"]["source"] == "partner"]

    filtered = await all_offset_pages(client, {"category.name": "Travel"})
    count = (await client.get(f"{SEGMENTS}/count", params={"category.name": "Travel"})).json()
    by_source = await all_offset_pages(client, {"attributes.source": "partner"})

    assert travel
    assert [r["segment_id"] for r in filtered] == travel
    assert count == {"meta": [{"total": len(travel)}]}
    assert len(by_source) == len(partner)


async def test_updated_since_keeps_later_records(client: httpx.AsyncClient) -> None:
    records = [
        {"segment_id": "a", "segment_name": "A", "updated_at": "2024-03-01T00:00:00Z"},
        {"segment_id": "b", "segment_name": "B", "updated_at": "2024-03-02T00:00:00Z"},
        {"segment_id": "c", "segment_name": "C", "updated_at": "2024-03-03T00:00:00+00:00"},
    ]
    await client.put("/admin/dmp/records", json={"records": records})
    body = (await client.get(SEGMENTS, params={"updated_since": "2024-03-02T00:00:00Z"})).json()
    assert [r["segment_id"] for r in body["data"]["items"]] == ["c"]
    assert body["meta"] == [{"total": 1}]


async def test_records_set_by_admin_are_served_as_given(client: httpx.AsyncClient) -> None:
    records = [{"segment_id": "z"}, {"no_id": True}, {"segment_id": "a", "segment_name": "A"}]
    assert (await client.put("/admin/dmp/records", json={"records": records})).json() == {"total": 3}
    body = (await client.get(SEGMENTS)).json()
    assert body["data"]["items"] == records


async def test_bad_paging_parameters_are_400(client: httpx.AsyncClient) -> None:
    await generate(client, 10)
    for params in ({"limit": 0}, {"offset": -1}, {"limit": "ten"}, {"updated_since": "yesterday"}):
        response = await client.get(SEGMENTS, params=params)
        assert response.status_code == 400, params
    bad_cursor = await client.get(f"{SEGMENTS}/cursor", params={"cursor": "not-ours"})
    assert (bad_cursor.status_code, bad_cursor.json()["error"]) == (400, "invalid_request")


async def test_repeat_cursor_fault_returns_the_cursor_it_was_given(client: httpx.AsyncClient) -> None:
    await generate(client, 1_000)
    await client.put("/admin/faults/dmp", json={"repeat_cursor": True})
    first = (await client.get(f"{SEGMENTS}/cursor", params={"page_size": 100})).json()
    cursor = first["paging"]["next_cursor"]
    second = (await client.get(f"{SEGMENTS}/cursor", params={"page_size": 100, "cursor": cursor})).json()
    assert cursor
    assert second["paging"]["next_cursor"] == cursor


async def test_shrink_fault_changes_the_total_mid_run(client: httpx.AsyncClient) -> None:
    await generate(client, 1_000)
    await client.put("/admin/faults/dmp", json={"shrink_after_pages": 2, "shrink_by": 10})
    totals = []
    for page in range(4):
        body = (await client.get(SEGMENTS, params={"offset": page * 100, "limit": 100})).json()
        totals.append(body["meta"][0]["total"])
    count = (await client.get(f"{SEGMENTS}/count")).json()
    assert totals == [1_000, 1_000, 990, 990]
    assert count == {"meta": [{"total": 990}]}


async def test_auth_follows_the_custom_api_rules(client: httpx.AsyncClient) -> None:
    await client.post("/admin/tenants", json={"platform": "dmp", "credentials": {"api_key": "dmp-key"}})
    assert (await client.get(SEGMENTS)).status_code == 401
    assert (await client.get(SEGMENTS, headers={"X-API-Key": "dmp-key"})).status_code == 200


async def test_hundred_thousand_records_page_fast(client: httpx.AsyncClient) -> None:
    await generate(client, 100_000, seed=1)
    started = time.perf_counter()
    for page in range(0, 100_000, 5_000):
        body = (await client.get(SEGMENTS, params={"offset": page, "limit": 100})).json()
        assert len(body["data"]["items"]) == 100
    last = (await client.get(SEGMENTS, params={"offset": 99_950, "limit": 100})).json()
    elapsed = time.perf_counter() - started
    assert last["meta"] == [{"total": 100_000}]
    assert last["data"]["items"][-1]["segment_id"] == "dmp-0100000"
    assert elapsed < 1.0  # 21 pages; each a slice of precomputed JSON, whatever the offset
