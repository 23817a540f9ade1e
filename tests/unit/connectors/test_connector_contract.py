"""Clients against the mock platforms built from the same wire page: both sides must agree."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.mock_platforms.app import build_app
from services.mock_platforms.indexexchange_ssh import start_sftp_server
from services.mock_platforms.state import MockState
from shared.connectors import (
    ConnectorDeps,
    CreateOperation,
    CreateSegmentParams,
    HttpSettings,
    PlatformClient,
    PlatformSegment,
    UpdateSegmentParams,
    apply_batch,
    create_platform_client,
)
from tests.unit.connectors.connector_fakes import FakeSleep

PARAMS = CreateSegmentParams(
    name="Auto",
    description="Car buyers",
    cpm=1.5,
    currency="USD",
    data_source_location="dmp",
    external_key="k1",
)


class Mock:
    def __init__(self, sleep: FakeSleep) -> None:
        self.state = MockState()
        self.transport = httpx.ASGITransport(app=build_app(self.state))
        self.admin = httpx.AsyncClient(transport=self.transport, base_url="http://mock")
        self.deps = ConnectorDeps(transport=self.transport, sleep=sleep)

    def client(
        self, platform: str, auth_type: str, credentials: dict[str, str], config: dict[str, Any]
    ) -> PlatformClient:
        return create_platform_client(
            platform, auth_type, credentials, config, settings=HttpSettings(), deps=self.deps
        )

    async def held(self, platform: str) -> list[dict[str, Any]]:
        segments: list[dict[str, Any]] = (await self.admin.get(f"/admin/segments/{platform}")).json()[
            "segments"
        ]
        return segments


@pytest.fixture
async def mock(fake_sleep: FakeSleep) -> AsyncIterator[Mock]:
    platforms = Mock(fake_sleep)
    yield platforms
    await platforms.admin.aclose()


async def test_custom_api_round_trip_and_faults(mock: Mock, fake_sleep: FakeSleep) -> None:
    await mock.admin.post(
        "/admin/tenants", json={"platform": "custom_api", "credentials": {"api_key": "ck-1234"}}
    )
    config = {"api_base_url": "http://mock/custom", "default_cpm": 1, "currency": "USD"}
    client = mock.client("custom_api", "api_key", {"api_key": "ck-1234"}, config)
    assert (await client.test_connection()).success
    await mock.admin.put("/admin/faults/custom_api", json={"status": 429, "retry_after": 3, "count": 2})
    segment_id = await client.create_segment(PARAMS)
    assert fake_sleep.calls == [3.0, 3.0]
    assert await client.create_segment(PARAMS) == segment_id
    await client.update_segment(segment_id, UpdateSegmentParams(name="Auto 2", description="d", cpm=2))
    await client.deactivate_segment(segment_id)
    assert await client.get_segment(segment_id) == PlatformSegment(
        id=segment_id, name="Auto 2", status="inactive", cpms=(2.0,)
    )
    assert await client.get_segment("seg-missing") is None
    wrong = mock.client("custom_api", "bearer", {"api_key": "nope"}, config)
    assert (await wrong.test_connection()).error == "HTTP 401: missing or invalid credentials"


async def test_custom_api_batch_isolates_a_rejected_name(mock: Mock) -> None:
    config = {"api_base_url": "http://mock/custom", "default_cpm": 1, "currency": "USD"}
    client = mock.client("custom_api", "none", {}, config)
    await mock.admin.put("/admin/faults/custom_api", json={"reject_names": ["N3"]})
    operations = [
        CreateOperation(PARAMS.model_copy(update={"external_key": f"b{n}", "name": f"N{n}"}))
        for n in range(6)
    ]
    outcomes = await apply_batch(client, operations, concurrency=3)
    assert [o.succeeded for o in outcomes] == [True, True, True, False, True, True]
    assert len(await mock.held("custom_api")) == 5


async def test_tradedesk_round_trip(mock: Mock) -> None:
    config = {
        "api_base_url": "http://mock/ttd",
        "provider_id": "acme",
        "brand_id": "acme-brand",
        "partner_id": "p1",
        "default_cpm": 1,
        "currency": "USD",
    }
    client = mock.client("tradedesk", "bearer", {"api_key": "ttd-token"}, config)
    assert (await client.test_connection()).success
    assert await client.create_segment(PARAMS) == "k1"
    assert await client.create_segment(PARAMS) == "k1"  # duplicate recognised, updated instead
    await client.update_segment("k1", UpdateSegmentParams(name="Auto 2", description="d", cpm=3))
    await client.deactivate_segment("k1")
    assert await client.get_segment("k1") == PlatformSegment(id="k1", name="Auto 2", status="inactive")
    [element] = await mock.held("tradedesk")
    assert element["DataRate"]["CPMRate"] == {"Amount": 3.0, "CurrencyCode": "USD"}


async def test_liveramp_round_trip_with_expiring_tokens(mock: Mock) -> None:
    tenant = {"client_id": "cid", "client_secret": "lr-secret", "org_id": "org-1"}
    await mock.admin.post("/admin/tenants", json={"platform": "liveramp", "credentials": tenant})
    config = {
        "api_base_url": "http://mock/liveramp",
        "token_url": "http://mock/liveramp/oauth2/token",
        "org_id": "org-1",
        "default_cpm": 1,
        "currency": "USD",
        "activation_segment_id": "fp-1",
        "segment_type": "SYNDICATED",
        "permitted_use_cases": ["DIGITAL_AD_TARGETING"],
    }
    client = mock.client("liveramp", "oauth2", {"client_id": "cid", "client_secret": "lr-secret"}, config)
    assert (await client.test_connection()).success
    segment_id = await client.create_segment(PARAMS)
    await mock.admin.put("/admin/faults/liveramp", json={"expire_tokens": True, "count": 1})
    await client.update_segment(segment_id, UpdateSegmentParams(name="Auto 2", description="d"))
    await client.deactivate_segment(segment_id)
    assert await client.get_segment(segment_id) == PlatformSegment(
        id=segment_id, name="Auto 2", status="DISABLED", cpms=(1.5,)
    )
    other_org = mock.client(
        "liveramp",
        "oauth2",
        {"client_id": "cid", "client_secret": "lr-secret"},
        {**config, "org_id": "org-2"},
    )
    assert (await other_org.test_connection()).success is False


async def test_indexexchange_batch_over_sftp(mock: Mock) -> None:
    server = await start_sftp_server(mock.state, "127.0.0.1", 0)
    try:
        config = {
            "sftp_host": "127.0.0.1",
            "sftp_port": server.get_port(),
            "remote_dir": "/incoming",
            "default_cpm": 1,
            "currency": "USD",
        }
        client = mock.client("indexexchange", "header", {"username": "ix", "password": "ix-pass"}, config)
        assert (await client.test_connection()).success
        await mock.admin.put("/admin/faults/indexexchange", json={"reject_names": ["N7"]})
        operations = [
            CreateOperation(PARAMS.model_copy(update={"external_key": f"k{n}", "name": f"N{n}"}))
            for n in range(25)
        ]
        outcomes = await apply_batch(client, operations, concurrency=5)
        assert [o.operation for o in outcomes if not o.succeeded] == [operations[7]]
        assert {s["externalSegmentID"] for s in await mock.held("indexexchange")} == {
            f"k{n}" for n in range(25) if n != 7
        }
    finally:
        server.close()
        await server.wait_closed()
