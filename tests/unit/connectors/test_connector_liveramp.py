"""LiveRamp client: OAuth2 token, LR-Org-Id on API calls, clientReference, PATCH to disable."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

import httpx

from shared.connectors import (
    ConnectorDeps,
    CreateSegmentParams,
    HttpSettings,
    PlatformClient,
    PlatformSegment,
    UpdateSegmentParams,
    create_platform_client,
)
from shared.connectors.protocol import ConfirmingPlatformClient
from tests.unit.connectors.connector_fakes import FakeSleep, ScriptedPlatform

BASE = "http://127.0.0.1:8090/liveramp"
CONFIG = {
    "api_base_url": BASE,
    "token_url": f"{BASE}/oauth2/token",
    "org_id": "org-7",
    "scope": "segments",
    "default_cpm": 1.0,
    "currency": "USD",
}
CREDENTIALS = {"client_id": "activator", "client_secret": "lr-secret-42"}
PARAMS = CreateSegmentParams(
    name="Travel",
    description="Frequent flyers",
    cpm=3.0,
    currency="USD",
    data_source_location="dmp",
    external_key="k1",
)


class FakeLiveRamp:
    """Token endpoint plus segments keyed by clientReference; expires tokens on demand."""

    def __init__(self) -> None:
        self.tokens: list[str] = []
        self.segments: dict[str, dict[str, Any]] = {}
        self.expired: set[str] = set()
        self.server = ScriptedPlatform(self.handle)

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path.removeprefix("/liveramp")
        if path == "/oauth2/token":
            form = parse_qs(request.content.decode())
            if form.get("client_secret") != ["lr-secret-42"]:
                return httpx.Response(401, json={"error": "invalid_client"})
            self.tokens.append(f"lr-{len(self.tokens) + 1}")
            return httpx.Response(
                200, json={"access_token": self.tokens[-1], "token_type": "Bearer", "expires_in": 3600}
            )
        if request.headers.get("Authorization") in {f"Bearer {token}" for token in self.expired}:
            return httpx.Response(403, json={"error": "invalid_token"})  # LiveRamp's expiry answer
        if request.headers.get("Authorization") != f"Bearer {self.tokens[-1] if self.tokens else ''}":
            return httpx.Response(401, json={"error": "invalid_token"})
        if request.headers.get("LR-Org-Id") != "org-7":
            return httpx.Response(403, json={"error": "forbidden"})
        body = json.loads(request.content) if request.content else {}
        if (request.method, path) == ("POST", "/v1/segments"):
            existing = next(
                (s for s in self.segments.values() if s["clientReference"] == body["clientReference"]), None
            )
            if existing:
                return httpx.Response(200, json=existing)
            segment = {**body, "id": f"lr-seg-{len(self.segments) + 1}", "status": "ACTIVE"}
            self.segments[segment["id"]] = segment
            return httpx.Response(201, json=segment)
        segment_id = path.removeprefix("/v1/segments/")
        if segment_id not in self.segments:
            return httpx.Response(404, json={"error": "not_found"})
        if request.method == "PATCH":
            self.segments[segment_id].update(body)
        return httpx.Response(200, json=self.segments[segment_id])


def client_for(
    liveramp: FakeLiveRamp, sleep: FakeSleep, credentials: dict[str, str] = CREDENTIALS
) -> PlatformClient:
    return create_platform_client(
        "liveramp",
        "oauth2",
        credentials,
        CONFIG,
        settings=HttpSettings(),
        deps=ConnectorDeps(transport=liveramp.server.transport, sleep=sleep),
    )


async def test_create_sends_org_header_token_and_client_reference(fake_sleep: FakeSleep) -> None:
    liveramp = FakeLiveRamp()
    assert await client_for(liveramp, fake_sleep).create_segment(PARAMS) == "lr-seg-1"
    token_request, create = liveramp.server.requests
    assert parse_qs(token_request.content.decode())["scope"] == ["segments"]
    assert "LR-Org-Id" not in token_request.headers
    assert create.headers["LR-Org-Id"] == "org-7"
    assert json.loads(create.content) == {
        "name": "Travel",
        "description": "Frequent flyers",
        "dataSourceLocation": "dmp",
        "pricing": {"cpm": 3.0, "currency": "USD"},
        "clientReference": "k1",
    }


async def test_repeated_create_returns_the_existing_segment(fake_sleep: FakeSleep) -> None:
    liveramp = FakeLiveRamp()
    client = client_for(liveramp, fake_sleep)
    assert await client.create_segment(PARAMS) == await client.create_segment(PARAMS)
    assert len(liveramp.segments) == 1


async def test_update_and_deactivate_patch_the_segment(fake_sleep: FakeSleep) -> None:
    liveramp = FakeLiveRamp()
    client = client_for(liveramp, fake_sleep)
    segment_id = await client.create_segment(PARAMS)
    await client.update_segment(segment_id, UpdateSegmentParams(name="Travel+", description="d", cpm=5.0))
    assert liveramp.segments[segment_id]["pricing"] == {"cpm": 5.0, "currency": "USD"}
    await client.deactivate_segment(segment_id)
    assert await client.get_segment(segment_id) == PlatformSegment(
        id=segment_id, name="Travel+", status="DISABLED"
    )
    assert liveramp.server.paths()[-2] == f"PATCH /liveramp/v1/segments/{segment_id}"
    assert await client.get_segment("lr-seg-404") is None


async def test_expired_token_mid_run_is_refreshed_transparently(fake_sleep: FakeSleep) -> None:
    liveramp = FakeLiveRamp()
    client = client_for(liveramp, fake_sleep)
    await client.create_segment(PARAMS)
    liveramp.tokens.append("issued-to-someone-else")  # the platform no longer accepts lr-1
    await client.create_segment(PARAMS.model_copy(update={"external_key": "k2"}))
    assert liveramp.tokens[-1] == "lr-3"
    assert len(liveramp.segments) == 2


async def test_connection_test_proves_token_and_org(fake_sleep: FakeSleep) -> None:
    liveramp = FakeLiveRamp()
    assert (await client_for(liveramp, fake_sleep).test_connection()).success is True
    bad = await client_for(
        liveramp, fake_sleep, {"client_id": "activator", "client_secret": "wrong"}
    ).test_connection()
    assert bad.success is False
    assert bad.error == "HTTP 401: invalid_client"
    assert "wrong" not in (bad.error or "")
    assert liveramp.segments == {}


async def test_a_token_answered_403_as_expired_is_renewed_once(fake_sleep: FakeSleep) -> None:
    liveramp = FakeLiveRamp()
    client = client_for(liveramp, fake_sleep)
    segment_id = await client.create_segment(PARAMS)
    liveramp.expired.add(liveramp.tokens[-1])
    assert await client.get_segment(segment_id) is not None
    assert len(liveramp.tokens) == 2


async def test_confirm_reports_segments_in_review_as_pending(fake_sleep: FakeSleep) -> None:
    liveramp = FakeLiveRamp()
    client = client_for(liveramp, fake_sleep)
    assert isinstance(client, ConfirmingPlatformClient)
    reviewed = await client.create_segment(PARAMS)
    waiting = await client.create_segment(PARAMS.model_copy(update={"external_key": "k2"}))
    liveramp.segments[waiting]["status"] = "IN_REVIEW"
    confirmed = await client.confirm([reviewed, waiting, "lr-seg-404"])
    assert {key: found.state for key, found in confirmed.items()} == {
        reviewed: "active",
        waiting: "pending",
        "lr-seg-404": "failed",
    }
    assert confirmed[waiting].message == "LiveRamp status IN_REVIEW"
