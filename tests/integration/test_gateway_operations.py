"""What operators and API clients rely on: metrics, OpenAPI examples, body limits, clean conflicts."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from shared.settings import Settings
from tests.integration.test_connections_api import custom_api_connection
from tests.support.metrics import prometheus_sample

pytestmark = pytest.mark.integration


async def test_metrics_count_requests_by_route_template_and_runs_by_kind(
    api: httpx.AsyncClient, gateway_url: str
) -> None:
    async with httpx.AsyncClient(base_url=gateway_url) as anonymous:
        before = (await anonymous.get("/metrics")).text
        topic_route = {"method": "GET", "route": "/api/topics/{topic_id}", "status": "404"}
        for _ in range(3):
            missing = await api.get("/api/topics/00000000-0000-0000-0000-000000000000")
            assert missing.status_code == 404
        connection = (await api.post("/api/connections", json=custom_api_connection())).json()
        started = await api.post(f"/api/connections/{connection['id']}/push/run", json={"dryRun": True})
        assert started.status_code == 202
        await anonymous.get("/no/such/path")
        after = (await anonymous.get("/metrics")).text

    assert prometheus_sample(after, "activator_http_requests_total", **topic_route) - prometheus_sample(
        before, "activator_http_requests_total", **topic_route
    ) == pytest.approx(3)
    assert prometheus_sample(after, "activator_http_request_duration_seconds_count", **topic_route) >= 3
    assert prometheus_sample(after, "activator_runs_started_total", kind="push") - prometheus_sample(
        before, "activator_runs_started_total", kind="push"
    ) == pytest.approx(1)
    assert prometheus_sample(after, "activator_http_requests_total", route="unmatched", status="404") >= 1
    assert "activator_outbox_lag" in after
    assert "00000000-0000" not in after  # ids never become labels


async def test_every_request_body_in_the_openapi_document_has_an_example(gateway_url: str) -> None:
    async with httpx.AsyncClient(base_url=gateway_url) as client:
        document = (await client.get("/openapi.json")).json()
        docs = await client.get("/docs")
    assert docs.status_code == 200
    schemas = document["components"]["schemas"]
    bodies = 0
    missing = []
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            for media in content.values():
                bodies += 1
                schema = media.get("schema", {})
                if "$ref" in schema:
                    schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
                if not ({"example", "examples"} & (media.keys() | schema.keys())):
                    missing.append(f"{method.upper()} {path}")
    assert bodies >= 8
    assert missing == []


async def test_a_topic_renamed_to_a_taken_external_id_is_a_conflict(api: httpx.AsyncClient) -> None:
    first = (await api.post("/api/topics", json={"name": "One", "externalId": "ext-1"})).json()
    second = (await api.post("/api/topics", json={"name": "Two", "externalId": "ext-2"})).json()
    response = await api.put(f"/api/topics/{second['id']}", json={"name": "Two", "externalId": "ext-1"})
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "externalId" in response.json()["detail"]
    assert (await api.get(f"/api/topics/{second['id']}")).json()["externalId"] == "ext-2"
    assert (await api.get(f"/api/topics/{first['id']}")).json()["externalId"] == "ext-1"
    duplicate = await api.post("/api/topics", json={"name": "Three", "externalId": "ext-1"})
    assert duplicate.status_code == 409


async def test_ten_thousand_topics_fit_in_one_bulk_request(
    api: httpx.AsyncClient, settings: Settings
) -> None:
    topics = [
        {
            "name": f"Segment {index}",
            "parentCategory": "Interests",
            "path": ["Interests", "Sports", f"Segment {index}"],
            "description": "People who read about this subject several times a month " * 3,
            "externalId": f"ten-k-{index}",
            "cpm": 1.25,
            "attributes": {"source": "dmp", "reach": index},
        }
        for index in range(10_000)
    ]
    body = json.dumps({"topics": topics}).encode()
    assert len(body) < settings.max_request_body_bytes
    response = await api.post(
        "/api/topics/bulk", content=body, headers={"content-type": "application/json"}, timeout=120
    )
    assert response.status_code == 200, response.text[:500]
    assert response.json() == {"created": 10_000, "updated": 0}


async def test_a_body_over_the_limit_is_a_413_problem(api: httpx.AsyncClient, settings: Settings) -> None:
    oversized = b'{"topics": [' + b" " * settings.max_request_body_bytes + b"]}"
    declared = await api.post(
        "/api/topics/bulk", content=oversized, headers={"content-type": "application/json"}
    )
    assert declared.status_code == 413
    assert declared.headers["content-type"].startswith("application/problem+json")
    assert declared.json()["title"] == "Content Too Large"

    async def chunks() -> AsyncIterator[bytes]:
        # No Content-Length: the limit is enforced while the body streams in.
        for start in range(0, len(oversized), 1 << 20):
            yield oversized[start : start + (1 << 20)]

    streamed = await api.post(
        "/api/topics/bulk", content=chunks(), headers={"content-type": "application/json"}
    )
    assert streamed.status_code == 413
    problem: dict[str, Any] = streamed.json()
    assert (problem["status"], problem["title"]) == (413, "Content Too Large")
