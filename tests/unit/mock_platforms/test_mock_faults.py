"""Injected faults: what a client of each platform sees, how `count` and `status_rate` bound them."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from services.mock_platforms.fault_middleware import ConnectionDroppedError

SEGMENT = {"name": "Auto Intenders", "description": "d", "price": 1.0, "currency": "USD"}


async def test_429_with_retry_after_clears_after_count(client: httpx.AsyncClient) -> None:
    await client.put("/admin/faults/custom_api", json={"status": 429, "retry_after": 2, "count": 2})
    answers = [await client.post("/custom/segments", json=SEGMENT) for _ in range(3)]

    assert [a.status_code for a in answers] == [429, 429, 201]
    assert answers[0].headers["retry-after"] == "2"
    assert answers[0].json()["error"] == "rate_limited"
    faults = (await client.get("/admin/faults/custom_api")).json()
    assert faults["request_faults_active"] is False
    stats = (await client.get("/admin/stats/custom_api")).json()
    assert (stats["requests"], stats["writes"], stats["segments"]) == (3, 1, 1)


async def test_status_fault_uses_the_platform_error_shape(client: httpx.AsyncClient) -> None:
    await client.put("/admin/faults/ttd", json={"status": 503})
    response = await client.post("/ttd/v3/thirdpartydata/query", json={"ProviderId": "p"})
    assert response.status_code == 503
    assert set(response.json()) == {"Message"}


async def test_status_rate_is_a_seeded_probability(client: httpx.AsyncClient) -> None:
    async def failures(seed: int) -> list[int]:
        await client.put("/admin/faults/custom", json={"status": 500, "status_rate": 0.3, "seed": seed})
        codes = [(await client.get("/custom/health")).status_code for _ in range(200)]
        return [n for n, code in enumerate(codes) if code == 500]

    first = await failures(11)
    assert 30 <= len(first) <= 90
    assert await failures(11) == first
    assert await failures(12) != first


async def test_html_error_is_a_502_page(client: httpx.AsyncClient) -> None:
    await client.put("/admin/faults/liveramp", json={"html_error": True, "count": 1})
    response = await client.post("/liveramp/oauth2/token", data={"grant_type": "client_credentials"})
    assert response.status_code == 502
    assert response.headers["content-type"].startswith("text/html")
    assert "<html>" in response.text
    assert "502 Bad Gateway" in response.text


async def test_malformed_json_is_a_200_that_does_not_parse(client: httpx.AsyncClient) -> None:
    await client.put("/admin/faults/custom_api", json={"malformed_json": True})
    response = await client.post("/custom/segments", json=SEGMENT)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        response.json()
    assert (await client.get("/admin/stats/custom_api")).json()["segments"] == 0


async def test_latency_delays_every_request(client: httpx.AsyncClient) -> None:
    await client.put("/admin/faults/dmp", json={"latency_ms": 60})
    started = time.perf_counter()
    response = await client.get("/dmp/api/v1/segments/count")
    assert response.status_code == 200
    assert time.perf_counter() - started >= 0.06


async def test_faults_never_touch_admin(client: httpx.AsyncClient) -> None:
    for platform in ("custom_api", "tradedesk", "liveramp", "dmp"):
        await client.put(f"/admin/faults/{platform}", json={"status": 500, "drop_connection": True})
    assert (await client.get("/admin/stats/custom_api")).status_code == 200
    assert (await client.get("/admin/health")).json() == {"status": "ok"}


async def test_delete_clears_faults(client: httpx.AsyncClient) -> None:
    await client.put("/admin/faults/custom_api", json={"status": 500, "reject_names": ["x"]})
    await client.delete("/admin/faults/custom_api")
    assert (await client.get("/custom/health")).status_code == 200
    assert (await client.post("/custom/segments", json={**SEGMENT, "name": "x"})).status_code == 201


async def test_reject_names_is_a_permanent_400_on_every_platform(client: httpx.AsyncClient) -> None:
    for platform in ("custom_api", "tradedesk", "liveramp"):
        await client.put(f"/admin/faults/{platform}", json={"reject_names": ["Forbidden"], "count": 1})
    custom = [await client.post("/custom/segments", json={**SEGMENT, "name": "Forbidden"}) for _ in range(2)]
    ttd_body = {
        "ProviderId": "p",
        "ProviderElementId": "e",
        "ParentElementId": "ROOT",
        "DisplayName": "Forbidden",
    }
    ttd = await client.post("/ttd/v3/thirdpartydata", json=ttd_body, headers={"TTD-Auth": "t"})
    token = (
        await client.post(
            "/liveramp/oauth2/token",
            data={"grant_type": "client_credentials", "client_id": "c", "client_secret": "s"},
        )
    ).json()["access_token"]
    lr_body = {"name": "Forbidden", "pricing": {"cpm": 1, "currency": "USD"}, "clientReference": "r"}
    lr = await client.post(
        "/liveramp/v1/segments", json=lr_body, headers={"Authorization": f"Bearer {token}", "LR-Org-Id": "o"}
    )

    assert [r.status_code for r in custom] == [400, 400]
    assert "Forbidden" in custom[0].json()["message"]
    assert (ttd.status_code, ttd.json()["ErrorDetails"][0]["Property"]) == (400, "DisplayName")
    assert lr.status_code == 400
    assert (await client.post("/custom/segments", json=SEGMENT)).status_code == 201


async def test_drop_connection_gives_no_response(client: httpx.AsyncClient) -> None:
    await client.put("/admin/faults/custom_api", json={"drop_connection": True, "count": 1})
    with pytest.raises(ConnectionDroppedError):
        await client.post("/custom/segments", json=SEGMENT, headers={"Idempotency-Key": "k"})
    stats = (await client.get("/admin/stats/custom_api")).json()
    assert stats["segments"] == 0


async def test_drop_response_applies_the_write_then_loses_the_answer(client: httpx.AsyncClient) -> None:
    await client.put("/admin/faults/custom_api", json={"drop_response": True, "count": 1})
    with pytest.raises(ConnectionDroppedError):
        await client.post("/custom/segments", json=SEGMENT, headers={"Idempotency-Key": "k"})
    retried = await client.post("/custom/segments", json=SEGMENT, headers={"Idempotency-Key": "k"})
    assert retried.status_code == 200
    assert (await client.get("/admin/stats/custom_api")).json()["segments"] == 1


@pytest.mark.parametrize(
    ("platform", "knob"),
    [
        ("custom_api", {"repeat_cursor": True}),
        ("tradedesk", {"expire_tokens": True}),
        ("ttd", {"shrink_by": 3}),
    ],
)
async def test_platform_only_knobs_are_refused_elsewhere(
    client: httpx.AsyncClient, platform: str, knob: dict[str, object]
) -> None:
    response = await client.put(f"/admin/faults/{platform}", json=knob)
    assert response.status_code == 400


async def test_unknown_fault_field_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.put("/admin/faults/custom_api", json={"statu": 500})
    assert response.status_code == 422


async def test_echo_credentials_quotes_the_credential_bare_url_encoded_and_in_json(
    client: httpx.AsyncClient,
) -> None:
    key = 'k/ey+"q"'
    await client.put("/admin/faults/dmp", json={"echo_credentials": True, "count": 1})
    refused = await client.get("/dmp/api/v1/segments", headers={"Authorization": f"Bearer {key}"})
    after = await client.get("/dmp/api/v1/segments", headers={"Authorization": f"Bearer {key}"})

    assert refused.status_code == 401
    message = refused.json()["message"]
    assert f"invalid token {key} " in message
    assert "k%2Fey%2B%22q%22" in message
    assert json.dumps(key)[1:-1] in message
    assert "Bearer" not in message  # the bare token, as a platform quoting its own check would
    assert after.status_code == 200
