"""The LiveRamp fake: OAuth2 token grants, bearer + LR-Org-Id auth, the Data Seller API's segment rules."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest

from tests.unit.mock_platforms.mock_platforms_fakes import FakeClock

TOKEN_URL = "/liveramp/oauth2/token"
CLIENT = {"client_id": "lr-client", "client_secret": "lr-secret", "org_id": "org-1"}
SEGMENT: dict[str, Any] = {
    "activationSegmentId": "fp-1",
    "name": "Auto Intenders",
    "description": "In market for a car",
    "type": "SYNDICATED",
    "dataSourceLocation": "US",
    "restrictions": {"permittedUseCases": ["DIGITAL_AD_TARGETING"]},
    "pricing": {"currency": "USD", "prices": [{"useCase": "DIGITAL_AD_TARGETING", "cpm": 1.5}]},
}


@pytest.fixture
async def liveramp(client: httpx.AsyncClient) -> httpx.AsyncClient:
    await client.post("/admin/tenants", json={"platform": "liveramp", "credentials": CLIENT})
    user = {"username": "ana", "password": "pw", "client_id": "lr-client", "org_id": "org-1"}
    await client.post("/admin/tenants", json={"platform": "liveramp", "credentials": user})
    return client


async def token(client: httpx.AsyncClient) -> str:
    form = {"grant_type": "client_credentials", "client_id": "lr-client", "client_secret": "lr-secret"}
    response = await client.post(TOKEN_URL, data=form)
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def api_headers(client: httpx.AsyncClient) -> dict[str, str]:
    return {"Authorization": f"Bearer {await token(client)}", "LR-Org-Id": "org-1"}


async def test_client_credentials_grant(liveramp: httpx.AsyncClient) -> None:
    form = {
        "grant_type": "client_credentials",
        "client_id": "lr-client",
        "client_secret": "lr-secret",
        "scope": "s",
    }
    response = await liveramp.post(TOKEN_URL, data=form)
    body = response.json()
    assert response.status_code == 200
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 600  # as in LiveRamp's documented example
    assert body["access_token"]
    assert body["scope"] == "s"
    assert response.headers["cache-control"] == "no-store"


async def test_client_credentials_in_a_basic_header(liveramp: httpx.AsyncClient) -> None:
    basic = base64.b64encode(b"lr-client:lr-secret").decode()
    response = await liveramp.post(
        TOKEN_URL, data={"grant_type": "client_credentials"}, headers={"Authorization": f"Basic {basic}"}
    )
    assert response.status_code == 200


async def test_password_grant(liveramp: httpx.AsyncClient) -> None:
    form = {"grant_type": "password", "username": "ana", "password": "pw", "client_id": "lr-client"}
    response = await liveramp.post(TOKEN_URL, data=form)
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        (
            {"grant_type": "client_credentials", "client_id": "lr-client", "client_secret": "no"},
            401,
            "invalid_client",
        ),
        ({"grant_type": "password", "username": "ana", "password": "no"}, 400, "invalid_grant"),
        (
            {"grant_type": "password", "username": "ana", "password": "pw", "client_id": "x"},
            401,
            "invalid_client",
        ),
        ({"grant_type": "authorization_code", "code": "c"}, 400, "unsupported_grant_type"),
        ({"client_id": "lr-client"}, 400, "invalid_request"),
    ],
)
async def test_token_request_errors(
    liveramp: httpx.AsyncClient, form: dict[str, str], status: int, error: str
) -> None:
    response = await liveramp.post(TOKEN_URL, data=form)
    assert response.status_code == status
    assert response.json()["error"] == error


async def test_token_request_must_be_form_encoded(liveramp: httpx.AsyncClient) -> None:
    form = {"grant_type": "client_credentials", "client_id": "lr-client", "client_secret": "lr-secret"}
    response = await liveramp.post(TOKEN_URL, json=form)
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


async def test_api_without_token_or_org_header(liveramp: httpx.AsyncClient) -> None:
    no_token = await liveramp.post("/liveramp/v1/segments", json=SEGMENT, headers={"LR-Org-Id": "org-1"})
    headers = await api_headers(liveramp)
    no_org = await liveramp.post("/liveramp/v1/segments", json=SEGMENT, headers={**headers, "LR-Org-Id": ""})
    wrong_org = await liveramp.post(
        "/liveramp/v1/segments", json=SEGMENT, headers={**headers, "LR-Org-Id": "x"}
    )

    assert no_token.status_code == 401
    assert no_token.json()["error"] == "invalid_token"
    assert no_token.headers["www-authenticate"].startswith("Bearer")
    assert (no_org.status_code, no_org.json()["error"]) == (403, "forbidden")
    assert wrong_org.status_code == 403


async def test_create_answers_the_segment_with_an_integer_id(liveramp: httpx.AsyncClient) -> None:
    headers = await api_headers(liveramp)
    first = await liveramp.post("/liveramp/v1/segments", json=SEGMENT, headers=headers)
    again = await liveramp.post("/liveramp/v1/segments", json=SEGMENT, headers=headers)

    assert first.status_code == 201
    body = first.json()
    assert body == {
        "id": body["id"],
        **SEGMENT,
        "status": "ACTIVE",  # review_delay_s is 0 by default
        "distributed": True,  # the fake's stand-in: a reviewed segment counts as distributed
    }
    assert isinstance(body["id"], int)
    # No idempotency key is documented: a second create is a second segment.
    assert (again.status_code, again.json()["id"]) == (201, body["id"] + 1)
    stats = (await liveramp.get("/admin/stats/liveramp")).json()
    assert (stats["segments"], stats["creates_by_key"]) == (2, {"name:Auto Intenders": 2})


def _without(body: dict[str, Any], key: str) -> dict[str, Any]:
    return {name: value for name, value in body.items() if name != key}


@pytest.mark.parametrize(
    ("body", "named"),
    [
        (_without(SEGMENT, "activationSegmentId"), "activationSegmentId: Field required"),
        (_without(SEGMENT, "type"), "type: Field required"),
        ({**SEGMENT, "type": "OPEN"}, "type: Input should be"),
        ({**SEGMENT, "type": "CUSTOM"}, "allowedPlatforms is required for CUSTOM segments"),
        ({**SEGMENT, "type": "DIRECT", "allowedPlatforms": []}, "allowedPlatforms is required for DIRECT"),
        ({**SEGMENT, "allowedPlatforms": ["TTD"]}, "allowedPlatforms must not be used for SYNDICATED"),
        (_without(SEGMENT, "restrictions"), "restrictions.permittedUseCases: at least one use case"),
        ({**SEGMENT, "restrictions": {"permittedUseCases": []}}, "at least one use case is required"),
        ({**SEGMENT, "restrictions": {"permittedUseCases": ["SPAM"]}}, "restrictions.permittedUseCases.0"),
        (_without(SEGMENT, "pricing"), "pricing is required"),
        (
            {**SEGMENT, "pricing": {"currency": "USD", "prices": []}},
            "permitted use case DIGITAL_AD_TARGETING needs a price",
        ),
        (
            {
                **SEGMENT,
                "pricing": {
                    "currency": "USD",
                    "prices": [
                        {"useCase": "DIGITAL_AD_TARGETING", "cpm": 1.5},
                        {"useCase": "TV_TARGETING", "cpm": 2},
                    ],
                },
            },
            "TV_TARGETING is not a permitted use case",
        ),
        (
            {
                **SEGMENT,
                "restrictions": {"permittedUseCases": ["AUDIENCE_EXTENSION"]},
                "pricing": {"currency": "USD", "prices": [{"useCase": "AUDIENCE_EXTENSION", "cpm": 1}]},
            },
            "AUDIENCE_EXTENSION has no CPM price",
        ),
        ({**SEGMENT, "pricing": {"currency": "US", "prices": []}}, "pricing.currency"),
    ],
)
async def test_create_refuses_a_body_against_the_documented_rules(
    liveramp: httpx.AsyncClient, body: dict[str, Any], named: str
) -> None:
    response = await liveramp.post("/liveramp/v1/segments", json=body, headers=await api_headers(liveramp))
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"
    assert named in response.json()["message"]
    assert (await liveramp.get("/admin/stats/liveramp")).json()["segments"] == 0


async def test_custom_and_direct_segments_with_platforms_and_flat_fee_use_cases(
    liveramp: httpx.AsyncClient,
) -> None:
    headers = await api_headers(liveramp)
    flat_fee = {
        **SEGMENT,
        "type": "DIRECT",
        "allowedPlatforms": ["The Trade Desk"],
        "restrictions": {"permittedUseCases": ["MEASUREMENT_ENABLEMENT"]},
        "pricing": {"currency": "EUR", "prices": []},
    }
    custom = {**SEGMENT, "type": "CUSTOM", "allowedPlatforms": ["The Trade Desk"]}
    for body in (flat_fee, custom):
        response = await liveramp.post("/liveramp/v1/segments", json=body, headers=headers)
        assert response.status_code == 201, response.text
        assert response.json()["allowedPlatforms"] == ["The Trade Desk"]


async def test_modify_disable_and_get(liveramp: httpx.AsyncClient) -> None:
    headers = await api_headers(liveramp)
    segment_id = (await liveramp.post("/liveramp/v1/segments", json=SEGMENT, headers=headers)).json()["id"]
    path = f"/liveramp/v1/segments/{segment_id}"

    renamed = await liveramp.patch(path, json={"name": "Car"}, headers=headers)
    to_custom = await liveramp.patch(
        path, json={"type": "CUSTOM", "allowedPlatforms": ["X"]}, headers=headers
    )
    back = await liveramp.patch(path, json={"type": "SYNDICATED"}, headers=headers)
    disabled = await liveramp.patch(path, json={"status": "DISABLED"}, headers=headers)
    fetched = await liveramp.get(path, headers=headers)
    bad_status = await liveramp.patch(path, json={"status": "GONE"}, headers=headers)

    assert renamed.json()["name"] == "Car"
    assert to_custom.json()["allowedPlatforms"] == ["X"]
    assert "allowedPlatforms" not in back.json()  # a syndicated segment has none
    assert disabled.json()["status"] == "DISABLED"
    assert fetched.json() == {
        **SEGMENT,
        "id": segment_id,
        "name": "Car",
        "status": "DISABLED",
        "distributed": True,
    }
    assert bad_status.status_code == 400


@pytest.mark.parametrize(
    ("patch", "named"),
    [
        ({"activationSegmentId": "fp-2"}, "activationSegmentId cannot be updated"),
        ({"segmentId": 7}, "segmentId cannot be updated"),
        ({"type": "CUSTOM"}, "allowedPlatforms is required for CUSTOM segments"),
        ({"restrictions": {"permittedUseCases": []}}, "at least one use case is required"),
        (
            {"restrictions": {"permittedUseCases": ["DIGITAL_AD_TARGETING", "TV_TARGETING"]}},
            "permitted use case TV_TARGETING needs a price",
        ),
    ],
)
async def test_modify_refuses_what_the_docs_do_not_let_change(
    liveramp: httpx.AsyncClient, patch: dict[str, Any], named: str
) -> None:
    headers = await api_headers(liveramp)
    created = (await liveramp.post("/liveramp/v1/segments", json=SEGMENT, headers=headers)).json()
    path = f"/liveramp/v1/segments/{created['id']}"
    response = await liveramp.patch(path, json=patch, headers=headers)
    assert response.status_code == 400, response.text
    assert named in response.json()["message"]
    assert (await liveramp.get(path, headers=headers)).json() == created


async def test_pricing_is_frozen_once_the_segment_is_distributed(
    liveramp: httpx.AsyncClient, clock: FakeClock
) -> None:
    await liveramp.put("/admin/settings/liveramp", json={"review_delay_s": 30})
    headers = await api_headers(liveramp)
    created = (await liveramp.post("/liveramp/v1/segments", json=SEGMENT, headers=headers)).json()
    path = f"/liveramp/v1/segments/{created['id']}"
    dearer = {"currency": "USD", "prices": [{"useCase": "DIGITAL_AD_TARGETING", "cpm": 2.5}]}
    in_review = await liveramp.patch(path, json={"pricing": dearer}, headers=headers)
    clock.advance(30)
    distributed = (await liveramp.get(path, headers=headers)).json()
    same_price = await liveramp.patch(path, json={"name": "Car", "pricing": dearer}, headers=headers)
    cheaper = {"currency": "USD", "prices": [{"useCase": "DIGITAL_AD_TARGETING", "cpm": 1.0}]}
    refused = await liveramp.patch(path, json={"name": "Car 2", "pricing": cheaper}, headers=headers)
    other_currency = await liveramp.patch(
        path, json={"pricing": {**dearer, "currency": "EUR"}}, headers=headers
    )

    assert (created["distributed"], in_review.status_code) == (False, 200)
    assert (distributed["status"], distributed["distributed"]) == ("ACTIVE", True)
    assert same_price.status_code == 200  # not a change
    assert (refused.status_code, refused.json()["error"]) == (409, "conflict")
    assert "prices and currency cannot change" in refused.json()["message"]
    assert other_currency.status_code == 409
    after = (await liveramp.get(path, headers=headers)).json()
    assert (after["name"], after["pricing"]) == ("Car", dearer)  # the refused patch changed nothing


async def test_unknown_segment_and_another_orgs_segment_are_404(client: httpx.AsyncClient) -> None:
    headers = await api_headers(client)
    segment_id = (await client.post("/liveramp/v1/segments", json=SEGMENT, headers=headers)).json()["id"]
    missing = await client.get("/liveramp/v1/segments/999", headers=headers)
    other_org = await client.get(
        f"/liveramp/v1/segments/{segment_id}", headers={**headers, "LR-Org-Id": "org-2"}
    )
    assert missing.status_code == 404
    assert other_org.status_code == 404


async def test_token_expires_after_expires_in(liveramp: httpx.AsyncClient, clock: FakeClock) -> None:
    await liveramp.put("/admin/settings/liveramp", json={"token_ttl_s": 60})
    headers = await api_headers(liveramp)
    segment_id = (await liveramp.post("/liveramp/v1/segments", json=SEGMENT, headers=headers)).json()["id"]
    clock.advance(59)
    assert (await liveramp.get(f"/liveramp/v1/segments/{segment_id}", headers=headers)).status_code == 200
    clock.advance(1)
    expired = await liveramp.get(f"/liveramp/v1/segments/{segment_id}", headers=headers)
    # LiveRamp: "fetch a new token if you receive a 403 status code for token expiration".
    assert (expired.status_code, expired.json()["error"]) == (403, "invalid_token")


async def test_expire_tokens_fault_invalidates_issued_tokens_only(liveramp: httpx.AsyncClient) -> None:
    old = await api_headers(liveramp)
    await liveramp.put("/admin/faults/liveramp", json={"expire_tokens": True})
    refused = await liveramp.post("/liveramp/v1/segments", json=SEGMENT, headers=old)
    fresh = await liveramp.post("/liveramp/v1/segments", json=SEGMENT, headers=await api_headers(liveramp))
    assert refused.status_code == 403
    assert fresh.status_code == 201


async def test_a_new_segment_is_in_review_until_the_review_delay_passes(
    liveramp: httpx.AsyncClient, clock: FakeClock
) -> None:
    await liveramp.put("/admin/settings/liveramp", json={"review_delay_s": 30})
    headers = await api_headers(liveramp)
    created = (await liveramp.post("/liveramp/v1/segments", json=SEGMENT, headers=headers)).json()
    path = f"/liveramp/v1/segments/{created['id']}"
    clock.advance(29)
    in_review = (await liveramp.get(path, headers=headers)).json()
    clock.advance(1)
    reviewed = (await liveramp.get(path, headers=headers)).json()
    assert (created["status"], in_review["status"], reviewed["status"]) == (
        "IN_REVIEW",
        "IN_REVIEW",
        "ACTIVE",
    )


async def test_segment_ids_in_paths_are_integers(liveramp: httpx.AsyncClient) -> None:
    response = await liveramp.get("/liveramp/v1/segments/not-a-number", headers=await api_headers(liveramp))
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")
