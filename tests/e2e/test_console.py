"""The console in headless Chromium: sign in, create an inbound connection through the generated form
(a field error shown, then fixed), Test it, Sync Now from the mock DMP and watch the run finish; and the
operations pages: a connection's next scheduled run, a read key created (shown once) and revoked, the
dead letters."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from shared.db.orgs import create_org
from tests.e2e.browser import Page, ensure_chromium, headless_page, text
from tests.e2e.conftest import System
from tests.e2e.sync_helpers import dmp_connection, feed_records, set_records
from tests.support.connections import outbound_custom_api

pytestmark = pytest.mark.e2e

RECORDS = 120


@pytest.fixture(scope="module")
def chromium() -> Path:
    return ensure_chromium()


@pytest.fixture
async def mock(system: System) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=system.mock_url, timeout=60) as client:
        yield client


async def _sign_in(page: Page, api_key: str) -> None:
    """A wrong key is refused beside the field; the right one signs in and leaves nothing in the page."""
    await page.fill("api-key", "act_wrong-key")
    await page.evaluate("document.getElementById('sign-in-form').requestSubmit()")
    await page.wait_until(f"{text('#api-key-error')}.includes('unknown')")
    await page.fill("api-key", api_key)
    await page.evaluate("document.getElementById('sign-in-form').requestSubmit()")
    await page.wait_until("document.body.dataset.state === 'signed-in'")
    stored = await page.evaluate(
        "JSON.stringify([localStorage.length, sessionStorage.length, document.cookie, location.href])"
    )
    assert api_key not in stored
    assert json.loads(stored)[:3] == [0, 0, ""]  # nothing kept by the page; the cookie is HttpOnly


async def _create_connection(page: Page, config: dict[str, Any], log_dir: Path) -> str:
    """The inbound form filled from the DMP config, saved once without a required field, then fixed."""
    await page.evaluate("location.hash = '#/connections/new'")
    await page.wait_until("document.getElementById('config-api_base_url')")  # outbound first
    await page.fill("name", "DMP from the console")
    await page.fill("direction", "inbound")
    await page.wait_until("document.getElementById('config-field_mappings')")
    for key, value in config.items():
        if key != "source_id_field":  # left out first: the API names it, the form shows it there
            await page.fill(f"config-{key}", value if isinstance(value, str) else json.dumps(value))
    await page.click("#save")
    await page.wait_until(f"{text('#config-source_id_field-error')} !== ''")
    assert (
        await page.evaluate("document.getElementById('config-source_id_field').getAttribute('aria-invalid')")
        == "true"
    )
    await page.screenshot(log_dir / "console-field-error.png")

    await page.fill("config-source_id_field", config["source_id_field"])
    await page.click("#save")
    await page.wait_until("location.hash.startsWith('#/connections/') && document.getElementById('test')")
    hash_route: str = await page.evaluate("location.hash")
    return hash_route.rsplit("/", maxsplit=1)[-1]


async def _create_template_with_preview(page: Page) -> None:
    """The draft is previewed over the synced topics as it is typed; a bad placeholder is shown at its field."""
    await page.evaluate("location.hash = '#/templates'")
    await page.click("#create-template")
    await page.wait_until("document.getElementById('template-key')")
    await page.fill("template-key", "console")
    await page.fill("template-pathFields", "parent_category, name")
    await page.fill("template-separator", " | ")
    await page.wait_until(f"{text('#preview-rows')}.includes(' | ')")
    await page.fill("template-nameTemplate", "{{nope}}")
    await page.wait_until(f"{text('#template-nameTemplate-error')}.includes('nope')")
    await page.fill("template-nameTemplate", "{{name}} ({{attributes.country}})")
    await page.wait_until(
        f"{text('#template-nameTemplate-error')} === '' && {text('#preview-rows')}.includes(' (')"
    )
    await page.click("#save-template")
    await page.wait_until("document.querySelector('tr[data-key=\"console\"]')?.dataset.active === 'true'")


@pytest.mark.timeout(1800)  # on a fresh machine the fixture installs chromium first
async def test_sign_in_create_test_and_sync_now_in_the_browser(
    system: System, pool: asyncpg.Pool[Any], chromium: Path, mock: httpx.AsyncClient, tmp_path: Path
) -> None:
    del chromium  # installed by the fixture when missing
    await set_records(mock, feed_records(RECORDS))
    _org_id, api_key = await create_org(pool, f"console-{uuid.uuid4().hex[:6]}")
    config: dict[str, Any] = dmp_connection(system.mock_url)["config"]

    async with headless_page(tmp_path / "profile", system.log_dir / "chromium-console.log") as page:
        await page.send("Page.navigate", {"url": system.gateway_url + "/ui/"})
        await page.wait_until(
            "document.body.dataset.state === 'signed-out' && document.getElementById('api-key')"
        )
        await _sign_in(page, api_key)
        connection_id = await _create_connection(page, config, system.log_dir)

        await page.click("#test")
        await page.wait_until("document.getElementById('test-result')")
        assert await page.evaluate("document.getElementById('test-result').dataset.success") == "true", (
            await page.evaluate(text("#test-result"))
        )

        await page.click("#sync-now")
        await page.wait_until("location.hash.startsWith('#/runs/')")
        run_id = (await page.evaluate("location.hash")).split("/")[-1]
        await page.wait_until("document.getElementById('run-state')?.dataset.done === 'true'", timeout=180)
        shown_status = await page.evaluate("document.getElementById('run-state').dataset.status")
        shown_inserted = await page.evaluate(text("[data-field=inserted]"))
        await page.screenshot(system.log_dir / "console-sync-run.png")

        await page.evaluate(f"location.hash = '#/connections/{connection_id}'")
        await page.wait_until(f"document.querySelector('tr[data-run-id=\"{run_id}\"]')")
        history_status = await page.evaluate(
            f"document.querySelector('tr[data-run-id=\"{run_id}\"]').dataset.status"
        )

        await _create_template_with_preview(page)
        await page.screenshot(system.log_dir / "console-templates.png")

        await page.click("#sign-out")
        await page.wait_until("document.body.dataset.state === 'signed-out'")

    async with httpx.AsyncClient(
        base_url=system.gateway_url, headers={"Authorization": f"Bearer {api_key}"}
    ) as api:
        status = (await api.get(f"/api/runs/{run_id}")).json()
        connection = (await api.get(f"/api/connections/{connection_id}")).json()
    assert connection["name"] == "DMP from the console"
    assert connection["config"]["source_id_field"] == config["source_id_field"]
    assert status["status"] == "succeeded"
    assert shown_status == history_status == "succeeded"
    assert int(shown_inserted) == status["inserted"] == RECORDS


async def _create_and_revoke_a_read_key(page: Page, gateway_url: str, log_dir: Path) -> None:
    """Admin > API keys: a read key created (its secret shown once, working, read-only), then revoked."""
    await page.evaluate("location.hash = '#/keys'")
    await page.wait_until("document.querySelector('#keys-list tr[data-in-use=\"true\"]')")
    await page.fill("new-key-scope", "read")
    await page.click("#create-key")
    await page.wait_until("document.getElementById('new-secret-value')?.value")
    secret: str = await page.evaluate("document.getElementById('new-secret-value').value")
    key_id: str = await page.evaluate("document.getElementById('new-secret').dataset.keyId")
    assert secret.startswith("act_")
    row = f'#keys-list tr[data-key-id="{key_id}"]'
    await page.wait_until(f"document.querySelector({json.dumps(row)})?.dataset.scope === 'read'")
    assert secret not in await page.evaluate(text("#keys-list"))  # listed by its prefix only
    stored = await page.evaluate(
        "JSON.stringify([localStorage.length, sessionStorage.length, location.href])"
    )
    assert secret not in stored
    assert json.loads(stored)[:2] == [0, 0]
    async with httpx.AsyncClient(
        base_url=gateway_url, headers={"Authorization": f"Bearer {secret}"}
    ) as reader:
        assert (await reader.get("/api/connections")).status_code == 200
        assert (await reader.post("/api/topics", json={"name": "nope"})).status_code == 403

    await page.click("#dismiss-secret")
    await page.wait_until("!document.getElementById('new-secret')")  # shown once: gone from the page
    await page.click(f"{row} button[data-action=revoke]")
    await page.click(f"{row} button[data-confirm]")
    await page.wait_until(f"!document.querySelector({json.dumps(row)})")
    await page.screenshot(log_dir / "console-api-keys.png")
    async with httpx.AsyncClient(
        base_url=gateway_url, headers={"Authorization": f"Bearer {secret}"}
    ) as reader:
        assert (await reader.get("/api/connections")).status_code == 401


@pytest.mark.timeout(600)
async def test_api_keys_dead_letters_and_next_runs_in_the_browser(
    system: System, pool: asyncpg.Pool[Any], chromium: Path, tmp_path: Path
) -> None:
    del chromium  # installed by the fixture when missing
    _org_id, api_key = await create_org(pool, f"console-ops-{uuid.uuid4().hex[:6]}")
    async with httpx.AsyncClient(
        base_url=system.gateway_url, headers={"Authorization": f"Bearer {api_key}"}
    ) as api:
        created = await api.post("/api/connections", json=outbound_custom_api("scheduled from the console"))
        assert created.status_code == 201, created.text
        connection_id = created.json()["id"]
        schedule = await api.put(
            f"/api/connections/{connection_id}/schedules/push", json={"everyMinutes": 60}
        )
        assert schedule.status_code == 200, schedule.text

    async with headless_page(tmp_path / "profile", system.log_dir / "chromium-console-ops.log") as page:
        await page.send("Page.navigate", {"url": system.gateway_url + "/ui/"})
        await page.wait_until(
            "document.body.dataset.state === 'signed-out' && document.getElementById('api-key')"
        )
        await _sign_in(page, api_key)
        next_run = f'tr[data-connection-id="{connection_id}"] td[data-field=next-run]'
        await page.wait_until(f"{text(next_run)}.startsWith('push ')")

        await _create_and_revoke_a_read_key(page, system.gateway_url, system.log_dir)

        await page.evaluate("location.hash = '#/dead-letters'")
        await page.wait_until("document.getElementById('dead-letters-empty')", timeout=90)
        await page.screenshot(system.log_dir / "console-dead-letters.png")
        await page.click("#sign-out")
        await page.wait_until("document.body.dataset.state === 'signed-out'")
