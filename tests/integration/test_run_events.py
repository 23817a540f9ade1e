"""GET /api/runs/{runId}/events: snapshots on change, each error once, `end`, resumable; view tokens; the page."""

from __future__ import annotations

import secrets
import time
import uuid
from typing import Any

import asyncpg
import httpx
import pytest

from services.cli_client.sse import ServerSentEvent, SseParser
from services.gateway.view_tokens import mint, token_secret
from shared.db.orgs import create_org
from shared.settings import Settings
from tests.support.connections import outbound_custom_api

pytestmark = pytest.mark.integration

CONNECTION = outbound_custom_api("events")


class EventReader:
    """Reads one SSE response event by event."""

    def __init__(self, response: httpx.Response) -> None:
        self._lines = response.aiter_lines()
        self._parser = SseParser()

    async def next(self) -> ServerSentEvent | None:
        async for line in self._lines:
            event = self._parser.feed(line)
            if event is not None:
                return event
        return None

    async def rest(self) -> list[ServerSentEvent]:
        events = []
        while (event := await self.next()) is not None:
            events.append(event)
        return events


@pytest.fixture
async def step_run(api: httpx.AsyncClient) -> str:
    """A step-mode push run of 3 topics: nothing moves it but the test's own writes."""
    connection = (await api.post("/api/connections", json=CONNECTION)).json()["id"]
    topics = [{"name": f"Topic {index}", "externalId": f"ev-{index}"} for index in range(3)]
    assert (await api.post("/api/topics/bulk", json={"topics": topics})).status_code == 200
    started = await api.post(f"/api/connections/{connection}/push/run", json={"mode": "step"})
    assert started.status_code == 202, started.text
    run_id: str = started.json()["runId"]
    return run_id


async def _progress(pool: asyncpg.Pool[Any], run_id: str, item: str, outcome: str) -> None:
    run = uuid.UUID(run_id)
    failed = outcome == "failed"
    async with pool.acquire() as connection, connection.transaction():
        await connection.execute(
            "INSERT INTO run_items (run_id, item_id, outcome, event_id, at) VALUES ($1, $2, $3, $4, now())",
            run,
            item,
            outcome,
            uuid.uuid4(),
        )
        if failed:
            await connection.execute(
                "INSERT INTO run_errors (run_id, item_id, code, message, at) VALUES ($1, $2, 'permanent', $3, now())",
                run,
                item,
                f"<b>{item}</b> refused",
            )
        await connection.execute(
            """UPDATE runs SET status = 'running', started_at = COALESCE(started_at, now()), processed = processed + 1,
                   succeeded = succeeded + $2, failed = failed + $3, error_count = error_count + $3 WHERE id = $1""",
            run,
            0 if failed else 1,
            1 if failed else 0,
        )


async def test_the_stream_follows_the_run_to_its_end_and_resumes_where_the_client_left(
    api: httpx.AsyncClient, pool: asyncpg.Pool[Any], step_run: str
) -> None:
    url = f"/api/runs/{step_run}/events"
    async with api.stream("GET", url) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        reader = EventReader(response)
        first = await reader.next()
        assert first is not None
        assert first.event == "run"
        assert '"status":"queued"' in first.data
        after_first = first.id

        await _progress(pool, step_run, "item-a", "created")
        second = await reader.next()
        assert second is not None
        assert second.event == "run"
        assert '"processed":1' in second.data
        assert '"outcomes":{"created":1}' in second.data

        await _progress(pool, step_run, "item-b", "failed")
        await _progress(pool, step_run, "item-c", "created")
        await pool.execute(
            "UPDATE runs SET status = 'partial', finished_at = now() WHERE id = $1", uuid.UUID(step_run)
        )
        rest = await reader.rest()  # the server ends the stream once the run is final
    kinds = [event.event for event in rest]
    assert kinds[-1] == "end"
    assert kinds.count("item_error") == 1
    error = next(event for event in rest if event.event == "item_error")
    assert '"itemId":"item-b"' in error.data
    assert '"code":"permanent"' in error.data
    final = [event for event in rest if event.event == "run"][-1]
    assert '"status":"partial"' in final.data
    assert '"outcomes":{"created":2,"failed":1}' in final.data

    # Seen everything: 204, which stops EventSource from reconnecting.
    done = await api.get(url, headers={"Last-Event-ID": rest[-1].id or ""})
    assert done.status_code == 204
    # Back from the first snapshot: only what came after it, the error record once.
    async with api.stream("GET", url, headers={"Last-Event-ID": after_first or ""}) as response:
        resumed = await EventReader(response).rest()
    assert [event.event for event in resumed] == ["item_error", "run", "end"]
    assert resumed[1].data == final.data


async def test_view_tokens_open_one_run_only_and_expire(
    api: httpx.AsyncClient, gateway_url: str, pool: asyncpg.Pool[Any], settings: Settings, step_run: str
) -> None:
    minted = await api.post(f"/api/runs/{step_run}/view-token")
    assert minted.status_code == 201
    token = minted.json()["token"]
    assert minted.json()["url"] == f"/ui/runs/{step_run}?token={token}"
    await pool.execute(
        "UPDATE runs SET status = 'failed', finished_at = now() WHERE id = $1", uuid.UUID(step_run)
    )

    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as browser:
        status = await browser.get(f"/api/runs/{step_run}", params={"token": token})
        assert (status.status_code, status.json()["status"]) == (200, "failed")
        async with browser.stream("GET", f"/api/runs/{step_run}/events", params={"token": token}) as response:
            assert [event.event for event in await EventReader(response).rest()] == ["run", "end"]

        other_run = str(uuid.uuid4())
        assert (
            await browser.get(f"/api/runs/{other_run}/events", params={"token": token})
        ).status_code == 401
        tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
        assert (await browser.get(f"/api/runs/{step_run}", params={"token": tampered})).status_code == 401
        org_hex = token.split(".")[0]
        expired = mint(
            token_secret(settings.require_encryption_key()),
            uuid.UUID(hex=org_hex),
            uuid.UUID(step_run),
            int(time.time()) - 1,
        )
        assert (await browser.get(f"/api/runs/{step_run}", params={"token": expired})).status_code == 401
        assert (await browser.get(f"/api/runs/{step_run}/events")).status_code == 401

        _org, stranger_key = await create_org(pool, f"stranger-{secrets.token_hex(3)}")
        stranger = {"Authorization": f"Bearer {stranger_key}"}
        assert (await browser.get(f"/api/runs/{step_run}/events", headers=stranger)).status_code == 404
        assert (await browser.post(f"/api/runs/{step_run}/view-token", headers=stranger)).status_code == 404


async def test_the_page_and_its_script_are_served_with_a_strict_policy(
    api: httpx.AsyncClient, step_run: str
) -> None:
    page = await api.get(f"/ui/runs/{step_run}", headers={"Authorization": ""})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["referrer-policy"] == "no-referrer"
    assert '<script src="/ui/static/run.js">' in page.text
    script = await api.get("/ui/static/run.js")
    assert script.status_code == 200
    assert "EventSource" in script.text
