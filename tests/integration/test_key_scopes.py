"""Scoped API keys over real HTTP and Postgres: a `read` key reads every route and changes nothing.

The routes are taken from the app itself, so a route added later is covered without touching this file.
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from services.gateway.app import build_app
from services.gateway.deps import SCOPE_EXTENSION
from shared.db.orgs import KeyScope, add_api_key, create_org, new_api_key
from shared.db.runs import insert_run
from shared.settings import Settings
from tests.support.cli import activator, activator_fails, output_field
from tests.support.connections import outbound_custom_api

pytestmark = pytest.mark.integration

OUTBOUND = outbound_custom_api("scoped-out")
INBOUND = {
    "name": "scoped-in",
    "platform": "custom_api",
    "direction": "inbound",
    "authType": "none",
    "config": {
        "base_url": "http://127.0.0.1:9/segments",
        "response_path": "data.items",
        "field_mappings": [{"source": "segment_name", "target": "topic_name"}],
        "source_id_field": "id",
    },
}
# The session's own routes authenticate by the cookie alone (tested with a read session below).
_SESSION_PATHS = {"/api/session"}


def _api_routes(settings: Settings) -> list[tuple[str, str, bool]]:
    """(method, path template, open to read keys) of every API operation the gateway documents."""
    operations: list[tuple[str, str, bool]] = []
    for path, methods in build_app(settings).openapi()["paths"].items():
        if not path.startswith("/api/") or path in _SESSION_PATHS:
            continue
        for method, operation in methods.items():
            read = method == "get" or operation.get(SCOPE_EXTENSION) == "read"
            operations.append((method.upper(), path, read))
    return operations


class World:
    """One org with a read key and an admin key, and one of each thing a read route may be asked about."""

    def __init__(self, org_id: uuid.UUID, admin_key: str, read_key: str) -> None:
        self.org_id = org_id
        self.admin_key = admin_key
        self.read_key = read_key
        self.ids: dict[str, str] = {}

    def path(self, template: str) -> str:
        """The template's parameters filled with this org's real ids (a sync route gets the sync run)."""
        sync = "/sync/" in template
        values = {
            "connection_id": self.ids["inbound" if sync else "outbound"],
            "run_id": self.ids["sync_run" if sync else "push_run"],
            "topic_id": self.ids["topic"],
            "key": self.ids["template"],
            "kind": "push",
        }
        return re.sub(r"\{(\w+)\}", lambda match: values.get(match.group(1), str(uuid.uuid4())), template)


async def _finished_run(pool: asyncpg.Pool[Any], org_id: uuid.UUID, connection_id: str, kind: str) -> str:
    async with pool.acquire() as connection, connection.transaction():
        run = await insert_run(
            connection,
            org_id=org_id,
            connection_id=uuid.UUID(connection_id),
            kind=kind,
            mode="auto",
            dry_run=False,
            total=0,
            request={},
        )
        # Finished, so the run's event stream ends after its snapshot.
        await connection.execute(
            "UPDATE runs SET status = 'succeeded', started_at = now(), finished_at = now() WHERE id = $1",
            run.id,
        )
    return str(run.id)


@pytest.fixture
async def world(gateway_url: str, pool: asyncpg.Pool[Any]) -> World:
    org_id, admin_key = await create_org(pool, f"scopes-{secrets.token_hex(3)}")
    read_key = new_api_key()
    await add_api_key(pool, org_id, read_key, scope=KeyScope.READ)
    world = World(org_id, admin_key, read_key)
    async with httpx.AsyncClient(
        base_url=gateway_url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=30
    ) as admin:
        for name, body in (("outbound", OUTBOUND), ("inbound", INBOUND)):
            created = await admin.post("/api/connections", json=body)
            assert created.status_code == 201, created.text
            world.ids[name] = created.json()["id"]
        topic = await admin.post("/api/topics", json={"name": "Autos", "externalId": "scoped-1"})
        assert topic.status_code == 201, topic.text
        world.ids["topic"] = topic.json()["id"]
        template = await admin.post(
            "/api/output-templates", json={"key": "scoped", "pathFields": ["name"], "separator": " > "}
        )
        assert template.status_code == 201, template.text
        world.ids["template"] = "scoped"
        schedule = await admin.put(
            f"/api/connections/{world.ids['outbound']}/schedules/push", json={"everyMinutes": 60}
        )
        assert schedule.status_code == 200, schedule.text
    world.ids["push_run"] = await _finished_run(pool, org_id, world.ids["outbound"], "push")
    world.ids["sync_run"] = await _finished_run(pool, org_id, world.ids["inbound"], "sync")
    return world


@pytest.fixture
async def http(gateway_url: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:
        yield client


async def _call(http: httpx.AsyncClient, method: str, path: str, api_key: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {api_key}"}
    body: dict[str, Any] | None = None if method in ("GET", "DELETE") else {}
    async with http.stream(method, path, headers=headers, json=body) as response:
        if "text/event-stream" not in response.headers.get("content-type", ""):
            await response.aread()
        return response  # a stream's status is enough; its frames are the run events tests' business


async def test_a_read_key_gets_every_list_and_document(
    settings: Settings, world: World, http: httpx.AsyncClient
) -> None:
    reads = [(method, path) for method, path, _read in _api_routes(settings) if method == "GET"]
    assert len(reads) >= 15
    refused = {}
    for method, template in reads:
        response = await _call(http, method, world.path(template), world.read_key)
        if response.status_code != 200:
            refused[template] = (response.status_code, response.text[:200])
    assert refused == {}


async def test_a_read_key_is_refused_every_change_with_a_problem_naming_its_scope(
    settings: Settings, world: World, http: httpx.AsyncClient, pool: asyncpg.Pool[Any]
) -> None:
    changes = [(method, path) for method, path, read in _api_routes(settings) if not read]
    assert len(changes) >= 20
    runs_before = await pool.fetchval("SELECT count(*) FROM runs WHERE org_id = $1", world.org_id)
    wrong = {}
    for method, template in changes:
        response = await _call(http, method, world.path(template), world.read_key)
        problem = response.json() if response.status_code == 403 else {}
        if (
            response.status_code != 403
            or response.headers["content-type"] != "application/problem+json"
            or "'read'" not in problem.get("detail", "")
        ):
            wrong[f"{method} {template}"] = (response.status_code, response.text[:200])
    assert wrong == {}
    # Nothing was changed on the way: the connections, the template and the schedule are all still there.
    assert await pool.fetchval("SELECT count(*) FROM runs WHERE org_id = $1", world.org_id) == runs_before
    async with httpx.AsyncClient(
        base_url=str(http.base_url), headers={"Authorization": f"Bearer {world.read_key}"}
    ) as reader:
        assert len((await reader.get("/api/connections")).json()) == 2
        assert (await reader.get(f"/api/output-templates/{world.ids['template']}")).status_code == 200
        schedules = (await reader.get(f"/api/connections/{world.ids['outbound']}/schedules")).json()
        assert [schedule["kind"] for schedule in schedules] == ["push"]


async def test_the_reads_that_take_a_body_are_open_to_a_read_key(
    settings: Settings, world: World, http: httpx.AsyncClient
) -> None:
    marked = {(method, path) for method, path, read in _api_routes(settings) if read and method != "GET"}
    assert marked == {
        ("POST", "/api/runs/{run_id}/view-token"),
        ("POST", "/api/output-templates/{key}/preview"),
        ("POST", "/api/output-template-previews"),
    }
    headers = {"Authorization": f"Bearer {world.read_key}"}
    token = await http.post(f"/api/runs/{world.ids['push_run']}/view-token", headers=headers)
    assert token.status_code == 201, token.text
    preview = await http.post(
        f"/api/output-templates/{world.ids['template']}/preview",
        headers=headers,
        json={"topicIds": [world.ids["topic"]]},
    )
    assert preview.status_code == 200, preview.text
    assert preview.json()["items"][0]["name"] == "Autos"


async def test_an_admin_key_still_reaches_every_change(
    settings: Settings, world: World, http: httpx.AsyncClient
) -> None:
    # Unknown ids and empty bodies: each route answers 404 or 422 (or does its harmless thing), never 403.
    wrong = {}
    for method, template, _read in _api_routes(settings):
        if method == "GET":
            continue
        path = re.sub(r"\{\w+\}", lambda _match: str(uuid.uuid4()), template)
        response = await _call(http, method, path, world.admin_key)
        if response.status_code in (401, 403) or response.status_code >= 500:
            wrong[f"{method} {template}"] = (response.status_code, response.text[:200])
    assert wrong == {}


async def test_a_console_session_of_a_read_key_is_read_only(world: World, http: httpx.AsyncClient) -> None:
    signed_in = await http.post("/api/session", json={"apiKey": world.read_key})
    assert signed_in.status_code == 201, signed_in.text
    assert signed_in.json()["scope"] == "read"
    csrf = {"X-CSRF-Token": signed_in.json()["csrfToken"]}
    assert (await http.get("/api/connections")).status_code == 200
    refused = await http.post(f"/api/connections/{world.ids['outbound']}/push/run", headers=csrf, json={})
    assert refused.status_code == 403
    assert "'read'" in refused.json()["detail"]
    assert (await http.delete("/api/session", headers=csrf)).status_code == 204  # signing out is allowed


async def test_the_cli_makes_read_keys_and_revoking_keeps_the_newest_of_each_scope(
    settings: Settings, gateway_url: str
) -> None:
    created = await activator(settings, "org", "create", "--name", "dashboards", "--scope", "read")
    org_id, read_key = output_field(created, "org_id"), output_field(created, "api_key")
    assert output_field(created, "scope") == "read"
    rotated = await activator(settings, "org", "key", "rotate", "--org", org_id)
    admin_key = output_field(rotated, "api_key")
    assert output_field(rotated, "scope") == "admin"  # the default, as for every key made before scopes
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as http:
        for key, expected in ((read_key, 403), (admin_key, 201)):
            response = await http.post(
                "/api/topics", headers={"Authorization": f"Bearer {key}"}, json={"name": "t"}
            )
            assert response.status_code == expected, response.text
        revoked = await activator(settings, "org", "key", "revoke", "--org", org_id)
        assert "revoked 0 key(s)" in revoked  # one key of each scope: both are the newest of theirs
        assert f"{read_key[:8]}… (read)" in revoked
        assert f"{admin_key[:8]}… (admin)" in revoked
        bad = await activator_fails(settings, "org", "key", "rotate", "--org", org_id, "--scope", "write")
        assert "write" in bad
