"""LiveRamp client: OAuth2 token, LR-Org-Id on API calls, the Data Seller API's segment bodies."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from services.mock_platforms.app import build_app
from services.mock_platforms.state import MockState
from shared.connections.config import check_connection
from shared.connectors import (
    ConnectorConfigError,
    ConnectorDeps,
    CreateSegmentParams,
    HttpSettings,
    PlatformClient,
    PlatformError,
    PlatformSegment,
    UpdateSegmentParams,
    create_platform_client,
)
from shared.connectors.errors import ErrorClass
from shared.connectors.factory import outbound_config
from shared.connectors.protocol import ConfirmingPlatformClient, PendingWrite, UnkeyedCreatePlatformClient
from tests.unit.connectors.connector_fakes import FakeSleep, ScriptedPlatform

BASE = "http://127.0.0.1:8090/liveramp"
CONFIG: dict[str, Any] = {
    "api_base_url": BASE,
    "token_url": f"{BASE}/oauth2/token",
    "org_id": "org-7",
    "scope": "segments",
    "default_cpm": 1.0,
    "currency": "USD",
    "activation_segment_id": "fp-123",
    "segment_type": "SYNDICATED",
    "permitted_use_cases": ["DIGITAL_AD_TARGETING"],
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
    """Token endpoint plus segments with integer ids; expires tokens on demand."""

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
                200, json={"access_token": self.tokens[-1], "token_type": "Bearer", "expires_in": 600}
            )
        if request.headers.get("Authorization") in {f"Bearer {token}" for token in self.expired}:
            return httpx.Response(403, json={"error": "invalid_token"})  # LiveRamp's expiry answer
        if request.headers.get("Authorization") != f"Bearer {self.tokens[-1] if self.tokens else ''}":
            return httpx.Response(401, json={"error": "invalid_token"})
        if request.headers.get("LR-Org-Id") != "org-7":
            return httpx.Response(403, json={"error": "forbidden"})
        body = json.loads(request.content) if request.content else {}
        if (request.method, path) == ("POST", "/v1/segments"):
            segment = {**body, "id": 500 + len(self.segments), "status": "ACTIVE"}
            self.segments[str(segment["id"])] = segment
            return httpx.Response(201, json=segment)
        segment_id = path.removeprefix("/v1/segments/")
        if segment_id not in self.segments:
            return httpx.Response(404, json={"error": "not_found"})
        if request.method == "PATCH":
            self.segments[segment_id].update(body)
        return httpx.Response(200, json=self.segments[segment_id])


def client_for(
    liveramp: FakeLiveRamp,
    sleep: FakeSleep,
    credentials: dict[str, str] = CREDENTIALS,
    config: dict[str, Any] = CONFIG,
) -> PlatformClient:
    return create_platform_client(
        "liveramp",
        "oauth2",
        credentials,
        config,
        settings=HttpSettings(),
        deps=ConnectorDeps(transport=liveramp.server.transport, sleep=sleep),
    )


async def test_create_sends_the_documented_body_with_org_header_and_token(fake_sleep: FakeSleep) -> None:
    liveramp = FakeLiveRamp()
    assert await client_for(liveramp, fake_sleep).create_segment(PARAMS) == "500"
    token_request, create = liveramp.server.requests
    assert parse_qs(token_request.content.decode())["scope"] == ["segments"]
    assert "LR-Org-Id" not in token_request.headers
    assert create.headers["LR-Org-Id"] == "org-7"
    assert json.loads(create.content) == {
        "activationSegmentId": "fp-123",
        "name": "Travel",
        "description": "Frequent flyers",
        "type": "SYNDICATED",
        "restrictions": {"permittedUseCases": ["DIGITAL_AD_TARGETING"]},
        "pricing": {"currency": "USD", "prices": [{"useCase": "DIGITAL_AD_TARGETING", "cpm": 3.0}]},
        "dataSourceLocation": "dmp",
    }


async def test_custom_segment_names_its_platforms_and_prices_each_cpm_use_case(fake_sleep: FakeSleep) -> None:
    liveramp = FakeLiveRamp()
    config = {
        **CONFIG,
        "segment_type": "CUSTOM",
        "allowed_platforms": ["The Trade Desk"],
        "permitted_use_cases": ["DIGITAL_AD_TARGETING", "AUDIENCE_EXTENSION", "TV_TARGETING"],
    }
    await client_for(liveramp, fake_sleep, config=config).create_segment(
        PARAMS.model_copy(update={"data_source_location": ""})
    )
    [body] = liveramp.server.bodies("/v1/segments")
    assert (body["type"], body["allowedPlatforms"]) == ("CUSTOM", ["The Trade Desk"])
    # Audience extension is a flat-fee licence: no CPM is sent for it.
    assert body["pricing"]["prices"] == [
        {"useCase": "DIGITAL_AD_TARGETING", "cpm": 3.0},
        {"useCase": "TV_TARGETING", "cpm": 3.0},
    ]
    assert "dataSourceLocation" not in body  # LiveRamp then uses the provider's default


@pytest.mark.parametrize(
    ("changes", "field", "reason"),
    [
        ({"permitted_use_cases": None}, "config.permitted_use_cases", "Field required"),
        ({"permitted_use_cases": []}, "config.permitted_use_cases", "at least 1 item"),
        (
            {"permitted_use_cases": ["DIGITAL_AD_TARGETING", "DIGITAL_AD_TARGETING"]},
            "config.permitted_use_cases",
            "must not name a use case twice",
        ),
        ({"permitted_use_cases": ["SPAM"]}, "config.permitted_use_cases.0", "DIGITAL_AD_TARGETING"),
        ({"segment_type": "CUSTOM"}, "config.allowed_platforms", "required with segment_type CUSTOM"),
        (
            {"segment_type": "DIRECT", "allowed_platforms": []},
            "config.allowed_platforms",
            "required with segment_type DIRECT",
        ),
        (
            {"allowed_platforms": ["The Trade Desk"]},
            "config.allowed_platforms",
            "must not be set with segment_type SYNDICATED",
        ),
        ({"segment_type": "OPEN"}, "config.segment_type", "SYNDICATED"),
        ({"segment_type": None}, "config.segment_type", "Field required"),
        (
            {"activation_segment_id": None},
            "config.activation_segment_id",
            "required unless activation_segment_attribute",
        ),
        ({"activation_segment_id": ""}, "config.activation_segment_id", "at least 1 character"),
    ],
)
def test_segment_config_is_checked_when_the_connection_is_saved(
    changes: dict[str, Any], field: str, reason: str
) -> None:
    config = {key: value for key, value in {**CONFIG, **changes}.items() if value is not None}
    with pytest.raises(ConnectorConfigError) as caught:
        check_connection("liveramp", "outbound", "oauth2", CREDENTIALS, config)
    reasons = dict(caught.value.field_errors)
    assert field in reasons, reasons
    assert reason in reasons[field]


def test_a_saved_connection_without_the_segment_fields_fails_naming_each() -> None:
    saved_before = {
        key: CONFIG[key] for key in ("api_base_url", "token_url", "org_id", "default_cpm", "currency")
    }
    with pytest.raises(ConnectorConfigError) as caught:
        outbound_config("liveramp", saved_before)
    assert [field for field, _reason in caught.value.field_errors] == [
        "config.activation_segment_id",
        "config.segment_type",
        "config.permitted_use_cases",
    ]


def test_custom_and_direct_segments_save_with_their_platforms() -> None:
    for segment_type in ("CUSTOM", "DIRECT"):
        config = {**CONFIG, "segment_type": segment_type, "allowed_platforms": ["The Trade Desk"]}
        saved = check_connection("liveramp", "outbound", "oauth2", CREDENTIALS, config)
        assert saved["allowed_platforms"] == ["The Trade Desk"]


async def test_every_create_is_a_new_segment(fake_sleep: FakeSleep) -> None:
    liveramp = FakeLiveRamp()
    client = client_for(liveramp, fake_sleep)
    # The Data Seller API documents no idempotency key: the ledger's segment id is what prevents repeats.
    assert await client.create_segment(PARAMS) != await client.create_segment(PARAMS)
    assert len(liveramp.segments) == 2


async def test_update_and_deactivate_patch_the_segment(fake_sleep: FakeSleep) -> None:
    liveramp = FakeLiveRamp()
    client = client_for(liveramp, fake_sleep)
    segment_id = await client.create_segment(PARAMS)
    await client.update_segment(segment_id, UpdateSegmentParams(name="Travel+", description="d", cpm=5.0))
    [patch] = liveramp.server.bodies(f"/v1/segments/{segment_id}")
    assert patch == {
        "name": "Travel+",
        "description": "d",
        "type": "SYNDICATED",
        "restrictions": {"permittedUseCases": ["DIGITAL_AD_TARGETING"]},
        "pricing": {"currency": "USD", "prices": [{"useCase": "DIGITAL_AD_TARGETING", "cpm": 5.0}]},
    }
    await client.update_segment(segment_id, UpdateSegmentParams(name="Travel+", description="d"))
    assert "pricing" not in liveramp.server.bodies(f"/v1/segments/{segment_id}")[-1]
    await client.deactivate_segment(segment_id)
    assert await client.get_segment(segment_id) == PlatformSegment(
        id=segment_id, name="Travel+", status="DISABLED", cpms=(5.0,)
    )
    assert liveramp.server.paths()[-2] == f"PATCH /liveramp/v1/segments/{segment_id}"
    assert await client.get_segment("404") is None


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
    confirmed = await client.confirm(
        [PendingWrite(platform_segment_id=key) for key in (reviewed, waiting, "404")]
    )
    assert {key: found.state for key, found in confirmed.items()} == {
        reviewed: "active",
        waiting: "pending",
        "404": "failed",
    }
    assert confirmed[waiting].message == "LiveRamp status IN_REVIEW"


@pytest.fixture
async def mock_liveramp(fake_sleep: FakeSleep) -> AsyncIterator[tuple[httpx.AsyncClient, PlatformClient]]:
    """The mock platform in-process and a client of it: both sides of the wire page at once."""
    transport = httpx.ASGITransport(app=build_app(MockState()))
    config = {
        **CONFIG,
        "api_base_url": "http://mock/liveramp",
        "token_url": "http://mock/liveramp/oauth2/token",
    }
    client = create_platform_client(
        "liveramp",
        "oauth2",
        CREDENTIALS,
        config,
        settings=HttpSettings(),
        deps=ConnectorDeps(transport=transport, sleep=fake_sleep),
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://mock") as admin:
        yield admin, client
    await client.aclose()


async def test_a_new_price_on_a_distributed_segment_is_a_permanent_error_naming_the_rule(
    mock_liveramp: tuple[httpx.AsyncClient, PlatformClient],
) -> None:
    admin, client = mock_liveramp
    await admin.put("/admin/settings/liveramp", json={"review_delay_s": 3600})
    in_review = await client.create_segment(PARAMS)
    # Not distributed yet: its price may still change.
    await client.update_segment(in_review, UpdateSegmentParams(name="Travel", description="d", cpm=4.0))
    await admin.put("/admin/settings/liveramp", json={"review_delay_s": 0})
    assert await client.get_segment(in_review) == PlatformSegment(
        id=in_review, name="Travel", status="ACTIVE", cpms=(4.0,)
    )

    # Reviewed, hence distributed (the mock's stand-in): a rename at the same price goes through.
    await client.update_segment(in_review, UpdateSegmentParams(name="Travel 2", description="d", cpm=4.0))
    with pytest.raises(PlatformError) as caught:
        await client.update_segment(in_review, UpdateSegmentParams(name="Travel 3", description="d", cpm=5.0))

    error = caught.value
    assert (error.error_class, error.code) == (ErrorClass.PERMANENT, "permanent:409")
    assert not error.transient
    assert "pricing is frozen once a segment is distributed" in error.message
    assert error.attempts == 1  # not retried
    assert (await client.get_segment(in_review)) == PlatformSegment(
        id=in_review,
        name="Travel 2",
        status="ACTIVE",
        cpms=(4.0,),  # the price it was distributed with
    )


async def test_the_client_says_its_creates_carry_no_idempotency_key(fake_sleep: FakeSleep) -> None:
    # The push records each of its new segments as it is made (services/push_worker/execute.py).
    client = client_for(FakeLiveRamp(), fake_sleep)
    assert isinstance(client, UnkeyedCreatePlatformClient)
