"""Run requests over Kafka: the same runs as over HTTP, answered on activator.status, idempotent, refused with a reason."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from shared.db.orgs import create_org
from shared.messaging.dlq import read_dead_letters
from shared.settings import Settings
from tests.e2e.conftest import System
from tests.e2e.helpers import add_topics, connection_body, create_connection, outcomes, wait_for_run
from tests.e2e.status_tail import publish_request, status_tail

pytestmark = pytest.mark.e2e


class Upstream:
    """An org whose upstream service requests runs over Kafka, with an HTTP client to check them."""

    def __init__(self, org_id: uuid.UUID, api_key: str, api: httpx.AsyncClient, connection_id: str) -> None:
        self.org_id = org_id
        self.api_key = api_key
        self.api = api
        self.connection_id = connection_id

    def push(self, idempotency_key: str, **fields: Any) -> dict[str, Any]:
        return {
            "type": "push_request",
            "idempotency_key": idempotency_key,
            "connection_id": self.connection_id,
            "event_id": str(uuid.uuid4()),
            **fields,
        }


@pytest.fixture
async def upstream(system: System, pool: asyncpg.Pool[Any]) -> AsyncIterator[Upstream]:
    org_id, api_key = await create_org(pool, f"upstream-{uuid.uuid4().hex[:6]}")
    async with httpx.AsyncClient(
        base_url=system.gateway_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=60
    ) as api:
        connection_id = await create_connection(
            api, connection_body("custom_api", system.mock_url, system.mock_sftp_port)
        )
        await add_topics(api, 40, prefix=f"intake-{uuid.uuid4().hex[:4]}")
        yield Upstream(org_id, api_key, api, connection_id)


async def test_a_push_request_runs_to_completion_and_is_visible_on_the_status_api_and_topic(
    upstream: Upstream, settings: Settings, pool: asyncpg.Pool[Any]
) -> None:
    async with status_tail(settings) as tail:
        request = upstream.push("order-4711")
        await publish_request(settings, request, api_key=upstream.api_key, key=str(upstream.org_id))
        [accepted] = await tail.wait_for(
            lambda event: event["type"] == "request_accepted" and event["idempotency_key"] == "order-4711"
        )
        assert accepted["request_event_id"] == request["event_id"]
        assert (accepted["kind"], accepted["connection_id"]) == ("push", upstream.connection_id)
        assert accepted["duplicate"] is False
        run_id = accepted["run_id"]

        status = await wait_for_run(upstream.api, upstream.connection_id, run_id)
        assert (status["status"], status["total"], status["succeeded"]) == ("succeeded", 40, 40)
        assert await outcomes(pool, run_id) == {"created": 40}
        run_events = await tail.wait_for(
            lambda event: event.get("run_id") == run_id and event["type"] in {"item", "run_finished"},
            count=41,
        )
        assert sum(event["type"] == "run_finished" for event in run_events) == 1
    # The status-recorder read the intake's answer beside the run's events and left it alone.
    letters = await read_dead_letters(settings)
    assert not [letter for letter in letters if b"request_accepted" in letter.value]


async def test_a_repeated_idempotency_key_names_the_first_run_and_starts_no_other(
    upstream: Upstream, settings: Settings, pool: asyncpg.Pool[Any]
) -> None:
    async with status_tail(settings) as tail:
        for _ in range(3):  # three deliveries of the same business request, each a new message
            await publish_request(
                settings,
                upstream.push("nightly-2024-06-01"),
                api_key=upstream.api_key,
                key=str(upstream.org_id),
            )
        answers = await tail.wait_for(
            lambda event: (
                event["type"] == "request_accepted" and event["idempotency_key"] == "nightly-2024-06-01"
            ),
            count=3,
        )
        assert len({answer["run_id"] for answer in answers}) == 1
        assert sorted(answer["duplicate"] for answer in answers) == [False, True, True]
        run_id = answers[0]["run_id"]
        status = await wait_for_run(upstream.api, upstream.connection_id, run_id)
        assert (status["status"], status["succeeded"]) == ("succeeded", 40)

        # Over HTTP, the same key of the org names the same run too.
        replay = await upstream.api.post(
            f"/api/connections/{upstream.connection_id}/push/run",
            json={},
            headers={"Idempotency-Key": "nightly-2024-06-01"},
        )
        assert (replay.status_code, replay.json()["runId"]) == (202, run_id)
        assert replay.headers["Idempotent-Replayed"] == "true"
    runs = await pool.fetchval("SELECT count(*) FROM runs WHERE org_id = $1", upstream.org_id)
    assert runs == 1


async def test_refused_requests_are_answered_with_the_reason_and_start_nothing(
    upstream: Upstream, settings: Settings, pool: asyncpg.Pool[Any]
) -> None:
    org = str(upstream.org_id)
    cases: list[tuple[str, dict[str, Any] | bytes, str | None, str]] = [
        ("bad-key", upstream.push("r-bad-key"), "act_not_a_real_key_000000000000000000", "unauthorized"),
        ("no-key", upstream.push("r-no-key"), None, "unauthorized"),
        (
            "unknown-connection",
            upstream.push("r-unknown", connection_id=str(uuid.uuid4())),
            upstream.api_key,
            "not_found",
        ),
        (
            "wrong-direction",
            {**upstream.push("r-direction"), "type": "sync_request"},
            upstream.api_key,
            "wrong_direction",
        ),
        ("invalid", {"type": "push_request", "idempotency_key": "r-invalid"}, upstream.api_key, "invalid"),
        ("not-json", b"{not json", upstream.api_key, "invalid"),
    ]
    async with status_tail(settings) as tail:
        for _name, body, api_key, _code in cases:
            await publish_request(settings, body, api_key=api_key, key=org)
        # Only this test publishes requests while the tail is open.
        rejections = await tail.wait_for(lambda event: event["type"] == "request_rejected", count=len(cases))
    by_key = {event["idempotency_key"]: event for event in rejections}
    assert by_key["r-bad-key"]["code"] == "unauthorized"
    assert by_key["r-bad-key"]["reason"] == "the API key is unknown or revoked"
    assert by_key["r-bad-key"]["org_id"] is None
    assert by_key["r-no-key"]["reason"] == "the x-activator-api-key header is missing"
    assert (by_key["r-unknown"]["code"], by_key["r-unknown"]["reason"]) == (
        "not_found",
        "connection not found",
    )
    assert by_key["r-direction"]["code"] == "wrong_direction"
    assert "cannot run a sync" in by_key["r-direction"]["reason"]
    assert by_key["r-invalid"]["code"] == "invalid"
    assert "connection_id" in by_key["r-invalid"]["reason"]
    assert by_key[None]["code"] == "invalid"
    assert by_key["r-unknown"]["org_id"] == org
    assert await pool.fetchval("SELECT count(*) FROM runs WHERE org_id = $1", upstream.org_id) == 0
