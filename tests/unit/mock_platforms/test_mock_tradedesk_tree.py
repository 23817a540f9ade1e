"""The Trade Desk fake's element tree: a parent must exist for the same provider before its child, and an
element never moves; whether a parent may be buyable is not documented, so the fake allows it."""

from __future__ import annotations

import httpx
import pytest

from tests.unit.mock_platforms.test_mock_tradedesk import AUTH, element

ELEMENTS = "/ttd/v3/thirdpartydata"


@pytest.fixture
async def ttd(client: httpx.AsyncClient) -> httpx.AsyncClient:
    await client.post(
        "/admin/tenants", json={"platform": "tradedesk", "credentials": {"api_key": "ttd-token"}}
    )
    return client


def refused_parent(response: httpx.Response) -> bool:
    details = response.json().get("ErrorDetails") or [{}]
    return response.status_code == 400 and details[0].get("Property") == "ParentElementId"


async def test_a_three_level_chain_is_made_top_down_and_not_bottom_up(ttd: httpx.AsyncClient) -> None:
    top = element("autos", "Automotive", Buyable=False)
    mid = element("cars", "Cars", Buyable=False, ParentElementId="autos")
    leaf = element("suv", "SUV", ParentElementId="cars")

    assert refused_parent(await ttd.post(ELEMENTS, json=leaf, headers=AUTH))
    assert refused_parent(await ttd.post(ELEMENTS, json=mid, headers=AUTH))
    for body in (top, mid, leaf):
        assert (await ttd.post(ELEMENTS, json=body, headers=AUTH)).status_code == 200
    held = (await ttd.get("/admin/segments/tradedesk")).json()["segments"]
    assert [(e["ProviderElementId"], e["ParentElementId"]) for e in held] == [
        ("autos", "ROOT"),
        ("cars", "autos"),
        ("suv", "cars"),
    ]


async def test_a_parent_of_another_provider_is_unknown(ttd: httpx.AsyncClient) -> None:
    other = element("autos", "Automotive", Buyable=False, ProviderId="someone-else")
    assert (await ttd.post(ELEMENTS, json=other, headers=AUTH)).status_code == 200
    child = element("suv", "SUV", ParentElementId="autos")
    assert refused_parent(await ttd.post(ELEMENTS, json=child, headers=AUTH))


async def test_a_leaf_cannot_be_moved_under_a_container_made_later(ttd: httpx.AsyncClient) -> None:
    await ttd.post(ELEMENTS, json=element("suv", "SUV"), headers=AUTH)
    await ttd.post(ELEMENTS, json=element("autos", "Automotive", Buyable=False), headers=AUTH)
    moved = await ttd.put(ELEMENTS, json=element("suv", "SUV", ParentElementId="autos"), headers=AUTH)
    assert refused_parent(moved)


async def test_a_buyable_parent_is_accepted_as_the_docs_forbid_nothing(ttd: httpx.AsyncClient) -> None:
    await ttd.post(ELEMENTS, json=element("autos", "Automotive", Buyable=True), headers=AUTH)
    child = await ttd.post(ELEMENTS, json=element("suv", "SUV", ParentElementId="autos"), headers=AUTH)
    assert child.status_code == 200
