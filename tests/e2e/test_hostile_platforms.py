"""Hostile platforms, through the real processes: every fault the mock platforms inject.

For each fault, the item it hits fails with the right error class (and retrying it later creates no
duplicate), the run goes on and the other items succeed. Then the 500-error cap: every failure is
counted, only the first 500 are kept.

The system here has a short platform timeout and backoff (so the tests stay quick) and a database
and topic prefix of its own. The connections push one request at a time (`max_concurrency: 1`), so
the faulted requests, which the mock picks by their order, are the attempts of one item.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, quote_plus

import asyncpg
import httpx
import pytest

from tests.e2e.conftest import System, running_system
from tests.e2e.helpers import (
    add_topics,
    connection_body,
    create_connection,
    org_client,
    start_push,
    wait_for_run,
)
from tests.e2e.sync_helpers import dmp_connection, start_sync
from tests.support.infra import isolated_settings, own_database_pool, required_env

pytestmark = pytest.mark.e2e

ATTEMPTS = 3  # REQUEST_ATTEMPTS: a fault on this many requests in a row fails one item for good
TIMEOUT_S = 2.0
TOPICS = 20
SHORT_TIMEOUTS = {
    "REQUEST_ATTEMPTS": str(ATTEMPTS),
    "REQUEST_TIMEOUT_S": str(TIMEOUT_S),
    "REQUEST_BACKOFF_BASE_S": "0.05",
    "RETRY_AFTER_CAP_S": "5",
}


@dataclass
class HostileWorld:
    system: System
    pool: asyncpg.Pool[Any]


@pytest.fixture(scope="module")
async def hostile(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[HostileWorld]:
    """Every service with a 2 s platform timeout and a 50 ms backoff, on a database of its own."""
    async with own_database_pool(max_size=4) as (database_url, pool):
        settings = isolated_settings(
            database_url, required_env("KAFKA_BOOTSTRAP_SERVERS"), f"h{secrets.token_hex(3)}.activator"
        )
        async with running_system(settings, tmp_path_factory.mktemp("hostile"), SHORT_TIMEOUTS) as system:
            yield HostileWorld(system, pool)


@pytest.fixture
async def mock(hostile: HostileWorld) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=hostile.system.mock_url, timeout=30) as client:
        await client.post("/admin/reset")
        yield client


async def _failed_items(pool: asyncpg.Pool[Any], run_id: str) -> list[asyncpg.Record]:
    return await pool.fetch(
        "SELECT item_id, error_code, error_message FROM run_items WHERE run_id = $1 AND outcome = 'failed'",
        uuid.UUID(run_id),
    )


FAULTS = [
    pytest.param({"latency_ms": int(TIMEOUT_S * 1000) + 1500, "count": ATTEMPTS}, "retryable", id="latency"),
    pytest.param(
        {"status": 429, "retry_after": 1, "count": ATTEMPTS}, "rate_limited:429", id="429-retry-after"
    ),
    pytest.param({"status": 429, "count": ATTEMPTS}, "rate_limited:429", id="429"),
    pytest.param({"status": 500, "count": ATTEMPTS}, "retryable:500", id="500"),
    pytest.param({"status": 502, "count": ATTEMPTS}, "retryable:502", id="502"),
    pytest.param({"status": 503, "count": ATTEMPTS}, "retryable:503", id="503"),
    pytest.param({"html_error": True, "status": 502, "count": ATTEMPTS}, "retryable:502", id="html-page"),
    pytest.param({"drop_connection": True, "count": ATTEMPTS}, "retryable", id="connection-reset"),
    # Not retried: a 200 whose body is not the promised JSON is a permanent error at once.
    pytest.param({"malformed_json": True, "count": 1}, "permanent", id="malformed-json"),
    # One item's 401 while the connection's test passes: that item fails, the run goes on.
    pytest.param({"status": 401, "count": 1}, "auth:401", id="401-one-item"),
]


@pytest.mark.parametrize(("faults", "code"), FAULTS)
async def test_a_faulted_item_fails_with_its_class_and_the_run_goes_on(
    hostile: HostileWorld, mock: httpx.AsyncClient, faults: dict[str, Any], code: str
) -> None:
    async with await org_client(hostile.pool, hostile.system.gateway_url) as api:
        connection_id = await create_connection(
            api,
            connection_body(
                "custom_api", hostile.system.mock_url, hostile.system.mock_sftp_port, max_concurrency=1
            ),
        )
        await add_topics(api, TOPICS)
        await mock.put("/admin/faults/custom_api", json=faults)
        run_id = await start_push(api, connection_id)
        status = await wait_for_run(api, connection_id, run_id)
        failed = await _failed_items(hostile.pool, run_id)
        faults_left = (await mock.get("/admin/faults/custom_api")).json()

        # Once the platform behaves, a retry of the failed item creates it, once.
        retry = await api.post(f"/api/connections/{connection_id}/push/run/{run_id}/retry")
        assert retry.status_code == 202, retry.text
        child = await wait_for_run(api, connection_id, retry.json()["runId"])
        stats = (await mock.get("/admin/stats/custom_api")).json()

    assert faults_left["remaining"] == 0  # every faulted request was one of the run's
    assert (status["status"], status["succeeded"], status["failed"]) == ("partial", TOPICS - 1, 1), status
    assert (status["processed"], status["errorCount"]) == (TOPICS, 1)
    [error] = status["errors"]
    assert error["code"] == code or error["code"].startswith(f"{code}:"), error
    # The record counts the platform calls made for the item, not the command's delivery.
    assert error["attempt"] == (1 if code.partition(":")[0] in ("permanent", "auth") else ATTEMPTS), error
    assert "<" not in error["message"]  # an HTML page is reduced to its text
    assert [(row["item_id"], row["error_code"]) for row in failed] == [(error["itemId"], error["code"])]
    assert (child["status"], child["succeeded"]) == ("succeeded", 1)
    assert stats["segments"] == len(stats["creates_by_key"]) == TOPICS


async def test_a_token_expired_mid_run_is_renewed_and_the_run_completes(
    hostile: HostileWorld, mock: httpx.AsyncClient
) -> None:
    topics = 300
    async with await org_client(hostile.pool, hostile.system.gateway_url) as api:
        connection_id = await create_connection(
            api,
            connection_body(
                "liveramp", hostile.system.mock_url, hostile.system.mock_sftp_port, max_concurrency=1
            ),
        )
        await add_topics(api, topics)
        slow = {"latency_ms": 20, "count": 100_000_000}
        await mock.put("/admin/faults/liveramp", json=slow)
        run_id = await start_push(api, connection_id)
        status: dict[str, Any] = {}
        for _ in range(1200):
            status = (await api.get(f"/api/connections/{connection_id}/push/run/{run_id}/status")).json()
            if status["processed"] >= 50:
                break
            await asyncio.sleep(0.05)
        before = (await mock.get("/admin/stats/liveramp")).json()["requests"]
        await mock.put("/admin/faults/liveramp", json={**slow, "expire_tokens": True})
        final = await wait_for_run(api, connection_id, run_id)
        await mock.delete("/admin/faults/liveramp")
        stats = (await mock.get("/admin/stats/liveramp")).json()

    assert status["status"] == "running"
    assert before < topics  # the tokens expired with most of the run still to go
    assert (final["status"], final["succeeded"], final["failed"]) == ("succeeded", topics, 0), final
    # One create per topic, the first token, then one rejected call and the renewed token at least.
    assert stats["requests"] >= topics + 3
    assert stats["segments"] == len(stats["creates_by_key"]) == topics


async def test_600_failures_are_all_counted_and_500_kept(
    hostile: HostileWorld, mock: httpx.AsyncClient
) -> None:
    failing, passing = 600, 50
    async with await org_client(hostile.pool, hostile.system.gateway_url) as api:
        connection_id = await create_connection(
            api, connection_body("custom_api", hostile.system.mock_url, hostile.system.mock_sftp_port)
        )
        await add_topics(api, failing + passing)
        rejected = [f"Segment seg-{index}" for index in range(failing)]
        await mock.put("/admin/faults/custom_api", json={"reject_names": rejected})
        run_id = await start_push(api, connection_id)
        status = await wait_for_run(api, connection_id, run_id)
    stored = await hostile.pool.fetchval(
        "SELECT count(*) FROM run_errors WHERE run_id = $1", uuid.UUID(run_id)
    )
    failed = await _failed_items(hostile.pool, run_id)

    assert (status["status"], status["succeeded"], status["failed"]) == ("partial", passing, failing)
    assert (status["processed"], status["errorCount"]) == (failing + passing, failing)
    assert len(status["errors"]) == stored == 500
    assert len(failed) == failing
    assert {row["error_code"] for row in failed} == {"permanent:400"}
    assert {error["code"] for error in status["errors"]} == {"permanent:400"}
    assert len({error["itemId"] for error in status["errors"]}) == 500


# A bearer token that URL-encoding and JSON-escaping both change, so each echoed form is its own text.
ECHOED_KEY = f'e2e-echo/bearer+"{secrets.token_hex(4)}"=key'


def _echoed_forms(secret: str) -> list[str]:
    return [secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]]


def _leaked(texts: dict[str, str], secret: str) -> list[str]:
    """The texts showing any form of the secret (ignoring case, as percent escapes may be lower-case)."""
    return [
        f"{where}: {form!r}"
        for where, text in texts.items()
        for form in _echoed_forms(secret)
        if form.lower() in text.lower()
    ]


def _service_logs(system: System) -> dict[str, str]:
    return {str(path): path.read_text(errors="replace") for path in system.log_dir.rglob("*.log")}


async def test_a_bearer_token_echoed_by_the_platform_never_comes_back(
    hostile: HostileWorld, mock: httpx.AsyncClient
) -> None:
    async with await org_client(hostile.pool, hostile.system.gateway_url) as api:
        body = connection_body(
            "custom_api", hostile.system.mock_url, hostile.system.mock_sftp_port, max_concurrency=1
        )
        body |= {"authType": "bearer", "authCredentials": {"api_key": ECHOED_KEY}}
        connection_id = await create_connection(api, body)
        await add_topics(api, 3, prefix="echo")
        await mock.put("/admin/faults/custom_api", json={"echo_credentials": True})
        tested = await api.post(f"/api/connections/{connection_id}/test")
        run_id = await start_push(api, connection_id)
        status = await wait_for_run(api, connection_id, run_id)
        document = await api.get(f"/api/runs/{run_id}")
        stream = await api.get(f"/api/runs/{run_id}/events")
    stored = await hostile.pool.fetch(
        """SELECT message FROM run_errors WHERE run_id = $1
           UNION ALL SELECT error_message FROM run_items WHERE run_id = $1 AND error_message IS NOT NULL
           UNION ALL SELECT coalesce(status_reason, '') FROM runs WHERE id = $1""",
        uuid.UUID(run_id),
    )
    echoed = (await mock.get("/admin/stats/custom_api")).json()["requests"]

    assert echoed >= 2  # the test and the run's first create were both answered with the echo
    assert tested.json()["success"] is False
    assert "invalid token ***" in tested.json()["error"]
    assert status["status"] == "failed"
    assert status["errors"]
    assert all("***" in error["message"] for error in status["errors"])
    assert "event: item_error" in stream.text
    assert (
        _leaked(
            {
                "test": tested.text,
                "status": json.dumps(status),
                "GET /api/runs/{id}": document.text,
                "SSE": stream.text,
                "database": " ".join(row[0] for row in stored),
                **_service_logs(hostile.system),
            },
            ECHOED_KEY,
        )
        == []
    )


async def test_a_bearer_token_echoed_by_the_source_is_not_in_the_sync_reason(
    hostile: HostileWorld, mock: httpx.AsyncClient
) -> None:
    async with await org_client(hostile.pool, hostile.system.gateway_url) as api:
        body = dmp_connection(hostile.system.mock_url)
        body |= {"authType": "bearer", "authCredentials": {"api_key": ECHOED_KEY}}
        connection_id = await create_connection(api, body)
        await mock.put("/admin/faults/dmp", json={"echo_credentials": True})
        run_id = await start_sync(api, connection_id)
        status = await wait_for_run(api, connection_id, run_id, kind="sync")
        document = await api.get(f"/api/runs/{run_id}")

    assert status["status"] == "failed"
    assert status["statusReason"].startswith("count endpoint: the source refused the credentials: HTTP 401")
    assert "***" in status["statusReason"]  # the echo reached the reason, the token hidden
    assert (
        _leaked(
            {
                "status": json.dumps(status),
                "GET /api/runs/{id}": document.text,
                **_service_logs(hostile.system),
            },
            ECHOED_KEY,
        )
        == []
    )
