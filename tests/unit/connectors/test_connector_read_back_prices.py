"""Reading a segment back shows its prices where the platform's answer has them: the custom API's `price`,
LiveRamp's per-use-case `pricing`; The Trade Desk's element query has none."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.mock_platforms import MockState, build_app
from shared.connectors import (
    ConnectorDeps,
    CreateSegmentParams,
    HttpSettings,
    PlatformError,
    UpdateSegmentParams,
    create_platform_client,
)
from tests.unit.connectors.connector_fakes import FakeSleep

PARAMS = CreateSegmentParams(name="Auto", description="", cpm=1.5, currency="USD", external_key="k1")
LIVERAMP = {
    "api_base_url": "http://mock/liveramp",
    "token_url": "http://mock/liveramp/oauth2/token",
    "org_id": "lr-org",
    "activation_segment_id": "fp-1",
    "segment_type": "SYNDICATED",
    "permitted_use_cases": ["DIGITAL_AD_TARGETING", "TV_TARGETING"],
    "default_cpm": 1,
    "currency": "USD",
}


@pytest.fixture
async def admin() -> AsyncIterator[tuple[httpx.AsyncClient, ConnectorDeps]]:
    transport = httpx.ASGITransport(app=build_app(MockState()))
    async with httpx.AsyncClient(transport=transport, base_url="http://mock") as client:
        yield client, ConnectorDeps(transport=transport, sleep=FakeSleep())


async def test_the_custom_apis_read_back_shows_its_price_and_a_change_made_there(
    admin: tuple[httpx.AsyncClient, ConnectorDeps],
) -> None:
    mock, deps = admin
    config: dict[str, Any] = {"api_base_url": "http://mock/custom", "default_cpm": 1, "currency": "USD"}
    client = create_platform_client("custom_api", "none", None, config, settings=HttpSettings(), deps=deps)
    segment_id = await client.create_segment(PARAMS)
    assert (await client.get_segment(segment_id)).cpms == (1.5,)  # type: ignore[union-attr]
    assert (await mock.post(f"/admin/drift/custom_api/{segment_id}", json={"price": 4})).status_code == 200
    assert (await client.get_segment(segment_id)).cpms == (4.0,)  # type: ignore[union-attr]
    await client.aclose()


async def test_liveramps_read_back_shows_every_use_cases_price(
    admin: tuple[httpx.AsyncClient, ConnectorDeps],
) -> None:
    mock, deps = admin
    credentials = {"client_id": "c", "client_secret": "s"}
    client = create_platform_client(
        "liveramp", "oauth2", credentials, LIVERAMP, settings=HttpSettings(), deps=deps
    )
    segment_id = await client.create_segment(PARAMS)
    assert (await client.get_segment(segment_id)).cpms == (1.5, 1.5)  # type: ignore[union-attr]
    await mock.post(f"/admin/drift/liveramp/{segment_id}", json={"price": 0.5})
    assert (await client.get_segment(segment_id)).cpms == (0.5, 0.5)  # type: ignore[union-attr]
    await client.aclose()


async def test_the_trade_desks_element_query_shows_no_price(
    admin: tuple[httpx.AsyncClient, ConnectorDeps],
) -> None:
    _, deps = admin
    config = {
        "api_base_url": "http://mock/ttd",
        "provider_id": "acme",
        "brand_id": "b",
        "partner_id": "p",
        "default_cpm": 1,
        "currency": "USD",
    }
    client = create_platform_client(
        "tradedesk", "bearer", {"api_key": "t"}, config, settings=HttpSettings(), deps=deps
    )
    await client.create_segment(PARAMS)
    assert (await client.get_segment("k1")).cpms == ()  # type: ignore[union-attr]
    await client.aclose()


async def test_a_distributed_liveramp_segment_repriced_there_cannot_be_priced_back(
    admin: tuple[httpx.AsyncClient, ConnectorDeps],
) -> None:
    mock, deps = admin
    credentials = {"client_id": "c", "client_secret": "s"}
    client = create_platform_client(
        "liveramp", "oauth2", credentials, LIVERAMP, settings=HttpSettings(), deps=deps
    )
    segment_id = await client.create_segment(PARAMS)
    assert (await client.get_segment(segment_id)).status == "ACTIVE"  # type: ignore[union-attr]  # reviewed
    await mock.post(f"/admin/drift/liveramp/{segment_id}", json={"price": 0.5})
    # What a reconcile repair sends for `price_differs`: the ledger's name and CPM.
    with pytest.raises(PlatformError) as refused:
        await client.update_segment(segment_id, UpdateSegmentParams(name="Auto", description="", cpm=1.5))
    assert (refused.value.code, refused.value.transient) == ("permanent:409", False)
    assert "pricing is frozen once a segment is distributed" in refused.value.message
    await client.aclose()
