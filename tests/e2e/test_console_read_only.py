"""The console signed in with a `read` key, in headless Chromium: every page is there to look at, none offers
a control that changes state, and every state-changing call those controls make, sent with the session's
cookie and CSRF token, is refused by the API with a 403 problem document (nothing changed)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from shared.db.orgs import create_org
from tests.e2e.browser import Page, ensure_chromium, headless_page, sign_in_to_console, text
from tests.e2e.conftest import System
from tests.e2e.helpers import create_connection
from tests.e2e.sync_helpers import create_dmp_connection, feed_records, set_records, sync_to_end
from tests.support.connections import outbound_custom_api

pytestmark = pytest.mark.e2e

TEMPLATE = "dashboards"
NO_RUN = "00000000-0000-4000-8000-000000000000"


@dataclass
class Org:
    """What an admin set up for the dashboards to look at."""

    admin: httpx.AsyncClient
    read_key: str
    admin_key_id: str
    outbound_id: str
    inbound_id: str
    sync_run_id: str


@pytest.fixture(scope="module")
def chromium() -> Path:
    return ensure_chromium()


@pytest.fixture
async def org(system: System, pool: asyncpg.Pool[Any]) -> AsyncIterator[Org]:
    _org_id, admin_key = await create_org(pool, f"read-only-{uuid.uuid4().hex[:6]}")
    async with (
        httpx.AsyncClient(base_url=system.mock_url, timeout=60) as mock,
        httpx.AsyncClient(
            base_url=system.gateway_url, headers={"Authorization": f"Bearer {admin_key}"}, timeout=60
        ) as admin,
    ):
        await set_records(mock, feed_records(10))
        inbound_id = await create_dmp_connection(admin, system.mock_url)
        synced = await sync_to_end(admin, inbound_id)
        assert synced["status"] == "succeeded", synced
        outbound_id = await create_connection(admin, outbound_custom_api("pushed by the admins"))
        scheduled = await admin.put(
            f"/api/connections/{outbound_id}/schedules/push", json={"everyMinutes": 60}
        )
        assert scheduled.status_code == 200, scheduled.text
        template = await admin.post("/api/output-templates", json={"key": TEMPLATE, "pathFields": ["name"]})
        assert template.status_code == 201, template.text
        (admin_key_row,) = (await admin.get("/api/keys")).json()
        created = await admin.post("/api/keys", json={"scope": "read"})
        assert created.status_code == 201, created.text
        yield Org(
            admin=admin,
            read_key=created.json()["secret"],
            admin_key_id=admin_key_row["id"],
            outbound_id=outbound_id,
            inbound_id=inbound_id,
            sync_run_id=synced["runId"],
        )


async def _offers_no_change(page: Page, ready: str, marked: list[str]) -> None:
    """Once `ready` holds: no state-changing control is shown or enabled, and each of `marked` is there,
    hidden (and disabled where it is a control)."""
    await page.wait_until(ready)
    seen = json.loads(
        await page.evaluate(
            f"""JSON.stringify({{
            shown: [...document.querySelectorAll('[data-changes]')]
                .filter((element) => element.getClientRects().length || !element.disabled)
                .map((element) => element.outerHTML.slice(0, 120)),
            marked: {json.dumps(marked)}.map((selector) => [...document.querySelectorAll(selector)])
                .map((found) => found.length > 0 && found.every((element) => element.dataset.changes === 'true'
                    && !element.getClientRects().length)),
        }})"""
        )
    )
    assert seen == {"shown": [], "marked": [True] * len(marked)}, seen


def _calls(org: Org) -> list[tuple[str, str, dict[str, Any] | None]]:
    """Every state-changing request a console control makes, against the org's real objects."""
    connection = f"/api/connections/{org.outbound_id}"
    template = f"/api/output-templates/{TEMPLATE}"
    return [
        ("POST", "/api/connections", outbound_custom_api("made by a dashboard")),
        ("PUT", connection, {**outbound_custom_api("renamed by a dashboard"), "enabled": False}),
        ("DELETE", connection, None),
        ("POST", f"{connection}/test", None),
        ("POST", f"{connection}/push/run", {}),
        ("POST", f"{connection}/push/run", {"dryRun": True}),
        ("POST", f"{connection}/push/run/{NO_RUN}/retry", None),
        ("POST", f"/api/connections/{org.inbound_id}/sync/run", {}),
        ("POST", f"/api/connections/{org.inbound_id}/sync/run/{org.sync_run_id}/cancel", None),
        ("PUT", f"{connection}/schedules/push", {"everyMinutes": 5}),
        ("DELETE", f"{connection}/schedules/push", None),
        ("POST", "/api/output-templates", {"key": "by-a-dashboard", "pathFields": ["name"]}),
        ("PUT", template, {"pathFields": ["path"]}),
        ("POST", f"{template}/deactivate", None),
        ("POST", f"{template}/activate", None),
        ("DELETE", template, None),
        ("POST", "/api/keys", {"scope": "admin"}),
        ("POST", f"/api/keys/{org.admin_key_id}/rotate", None),
        ("DELETE", f"/api/keys/{org.admin_key_id}", None),
        ("POST", "/api/dead-letters/0-0/replay", None),
    ]


async def _send_from_the_page(page: Page, calls: list[tuple[str, str, dict[str, Any] | None]]) -> list[Any]:
    """The calls made as the console makes them: same-origin fetch, the session cookie, its CSRF token."""
    answers: list[Any] = await page.evaluate(
        f"""(async () => {{
            const session = await (await fetch('/api/session', {{ credentials: 'same-origin' }})).json();
            const answers = [];
            for (const [method, path, body] of {json.dumps(calls)}) {{
                const headers = {{ 'X-CSRF-Token': session.csrfToken, Accept: 'application/json' }};
                if (body !== null) headers['Content-Type'] = 'application/json';
                const response = await fetch(path, {{ method, headers, credentials: 'same-origin',
                    body: body === null ? undefined : JSON.stringify(body) }});
                const type = response.headers.get('content-type') || '';
                const problem = type.includes('json') ? await response.json() : {{}};
                answers.push([method, path, response.status, type, problem.detail || '']);
            }}
            return answers;
        }})()"""
    )
    return answers


async def _look_around(page: Page, org: Org, log_dir: Path) -> None:
    """Each page of the console, as a read session sees it."""
    await page.evaluate("location.hash = '#/connections'")
    await _offers_no_change(
        page, f"document.querySelector('tr[data-connection-id=\"{org.outbound_id}\"]')", ["#new-connection"]
    )
    await page.evaluate(f"location.hash = '#/connections/{org.outbound_id}'")
    await _offers_no_change(
        page,
        f"{text('#schedule-push-next')}.startsWith('Every 60 minutes · next ')",
        ["#test", "#push", "#dry-run", "#toggle", "#edit", "#delete", "#schedule-push-form"],
    )
    await page.screenshot(log_dir / "console-read-only-connection.png")
    await page.evaluate(f"location.hash = '#/connections/{org.inbound_id}'")
    await _offers_no_change(
        page, "document.getElementById('schedule-sync-next')", ["#sync-now", "#schedule-sync-form"]
    )
    await page.evaluate(f"location.hash = '#/runs/{org.sync_run_id}'")
    await _offers_no_change(
        page, f"document.getElementById('run-state')?.dataset.runId === '{org.sync_run_id}'", []
    )
    assert await page.evaluate("document.getElementById('live')?.getClientRects().length > 0")  # reads only
    await page.evaluate("location.hash = '#/templates'")
    await _offers_no_change(
        page, f"document.querySelector('tr[data-key=\"{TEMPLATE}\"]')", ["#create-template", "button.toggle"]
    )
    await page.evaluate("location.hash = '#/keys'")
    await _offers_no_change(
        page,
        "document.querySelector('#keys-list tr[data-in-use=\"true\"]')",
        ["#new-key-form", "button[data-action=rotate]", "button[data-action=revoke]"],
    )
    await page.evaluate("location.hash = '#/connections/new'")
    await page.wait_until("document.getElementById('read-only-page')")
    assert await page.evaluate("!document.getElementById('connection-form')")


@pytest.mark.timeout(600)
async def test_a_read_key_session_is_offered_and_granted_no_change(
    system: System, org: Org, chromium: Path, tmp_path: Path
) -> None:
    del chromium  # installed by the fixture when missing
    before = {
        "connections": (await org.admin.get("/api/connections")).json(),
        "schedule": (await org.admin.get(f"/api/connections/{org.outbound_id}/schedules/push")).json(),
        "templates": (await org.admin.get("/api/output-templates")).json(),
        "keys": (await org.admin.get("/api/keys")).json(),
        "runs": (await org.admin.get("/api/runs")).json()["items"],
    }
    async with headless_page(tmp_path / "profile", system.log_dir / "chromium-console-read-only.log") as page:
        await sign_in_to_console(page, system.gateway_url, org.read_key)
        assert await page.evaluate("document.body.dataset.scope") == "read"
        assert await page.evaluate("document.getElementById('read-only').getClientRects().length > 0")
        await _look_around(page, org, system.log_dir)

        calls = _calls(org)
        refused = await _send_from_the_page(page, calls)
        reads = await _send_from_the_page(
            page,
            [
                ("POST", "/api/output-template-previews", {"template": {"pathFields": ["name"]}, "limit": 2}),
                ("POST", f"/api/runs/{org.sync_run_id}/view-token", None),
            ],
        )
        await page.click("#sign-out")
        await page.wait_until("document.body.dataset.state === 'signed-out'")

    assert [answer[:4] for answer in refused] == [
        [method, path, 403, "application/problem+json"] for method, path, _body in calls
    ]
    assert all("scope 'read'" in answer[4] for answer in refused), refused
    assert [answer[2] for answer in reads] == [200, 201]  # what a read session may still ask for
    after = {
        "connections": (await org.admin.get("/api/connections")).json(),
        "schedule": (await org.admin.get(f"/api/connections/{org.outbound_id}/schedules/push")).json(),
        "templates": (await org.admin.get("/api/output-templates")).json(),
        "keys": (await org.admin.get("/api/keys")).json(),
        "runs": (await org.admin.get("/api/runs")).json()["items"],
    }
    assert after == before
