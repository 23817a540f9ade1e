"""The guide's walk-through in headless Chromium, every step through the console: sign in, create a custom
API connection through the form (a field error shown at its field, then fixed), Test it, Sync Now from the
mock DMP, create an output template with its live preview and activate it, point the connection at it,
Push with one item refused by the platform, find both runs in the history, Retry failed until the retry
succeeds, and schedule the connection with a cron expression in a time zone (an error, then fixed)."""

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
from tests.e2e.browser import Page, ensure_chromium, headless_page, sign_in_to_console, text
from tests.e2e.conftest import System
from tests.e2e.helpers import create_connection
from tests.e2e.sync_helpers import dmp_connection, feed_records, set_records

pytestmark = pytest.mark.e2e

RECORDS = 60
TEMPLATE = "walkthrough"


@pytest.fixture(scope="module")
def chromium() -> Path:
    return ensure_chromium()


@pytest.fixture
async def mock(system: System) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=system.mock_url, timeout=60) as client:
        await client.post("/admin/reset")  # no tenant or fault of an earlier test
        yield client
        await client.delete("/admin/faults/custom_api")


async def _hash_id(page: Page, prefix: str) -> str:
    await page.wait_until(f"location.hash.startsWith({json.dumps(prefix)})")
    route: str = await page.evaluate("location.hash")
    return route.rsplit("/", maxsplit=1)[-1]


async def _follow_run(page: Page, run_id: str, log_dir: Path, name: str) -> dict[str, str]:
    """The run's page, followed until it says the run is final: its status and counts as shown."""
    state = "document.getElementById('run-state')"
    await page.wait_until(
        f"{state}.dataset.runId === {json.dumps(run_id)} && {state}.dataset.done === 'true'", timeout=180
    )
    await page.screenshot(log_dir / f"console-walkthrough-{name}.png")
    shown: dict[str, str] = await page.evaluate(
        """Object.fromEntries([['status', document.getElementById('run-state').dataset.status],
            ['progress', `${document.querySelector('progress').value}/${document.querySelector('progress').max}`],
            ...[...document.querySelectorAll('[data-field]')].map((cell) => [cell.dataset.field, cell.textContent])])"""
    )
    return shown


async def _create_custom_api_connection(page: Page, mock_url: str, log_dir: Path) -> str:
    """An outbound custom API connection typed into the form: a lower-case currency is refused at its field."""
    await page.evaluate("location.hash = '#/connections/new'")
    await page.wait_until("document.getElementById('config-api_base_url')")
    await page.fill("name", "Custom API from the walk-through")
    await page.fill("authType", "api_key")
    await page.wait_until("document.getElementById('authCredentials-api_key')")
    await page.fill("authCredentials-api_key", "walkthrough-key")
    await page.fill("config-api_base_url", f"{mock_url}/custom")
    await page.fill("config-default_cpm", "1.5")
    await page.fill("config-currency", "usd")
    await page.click("#save")
    await page.wait_until(f"{text('#config-currency-error')} !== ''")
    assert (
        await page.evaluate("document.getElementById('config-currency').getAttribute('aria-invalid')")
        == "true"
    )
    assert await page.evaluate("location.hash") == "#/connections/new"  # nothing saved
    await page.screenshot(log_dir / "console-walkthrough-field-error.png")
    await page.fill("config-currency", "USD")
    await page.click("#save")
    await page.wait_until("location.hash !== '#/connections/new' && document.getElementById('test')")
    return await _hash_id(page, "#/connections/")


async def _preview(page: Page) -> str:
    preview: str = await page.evaluate(text("#preview-rows"))
    return preview


async def _create_and_activate_template(page: Page, log_dir: Path) -> str:
    """The preview follows the draft as it is typed; saved inactive, then activated from the list.
    Returns the first previewed segment name (the name the push will send for that topic)."""
    await page.evaluate("location.hash = '#/templates'")
    await page.click("#create-template")
    await page.wait_until("document.getElementById('template-key')")
    before = await _preview(page)
    await page.fill("template-key", TEMPLATE)
    await page.fill("template-pathFields", "parent_category, name")
    await page.fill("template-separator", " / ")
    await page.wait_until(f"{text('#preview-rows')}.includes(' / ')")
    with_separator = await _preview(page)
    assert "no topics" not in with_separator  # the synced taxonomy is what is previewed
    await page.fill("template-nameTemplate", "{{name}} [{{attributes.country}}]")
    await page.wait_until(
        f"{text('#preview-rows')}.includes(' [') && !{text('#preview-rows')}.includes(' / ')"
    )
    with_name = await _preview(page)
    assert len({before, with_separator, with_name}) == 3, (before, with_separator, with_name)
    first_name: str = await page.evaluate("document.querySelector('#preview-rows tr td').textContent")
    await page.screenshot(log_dir / "console-walkthrough-template-preview.png")

    await page.evaluate("document.getElementById('template-active').checked = false")
    await page.click("#save-template")
    row = f'tr[data-key="{TEMPLATE}"]'
    await page.wait_until(f"document.querySelector({json.dumps(row)})?.dataset.active === 'false'")
    await page.click(f"{row} button.toggle")
    await page.wait_until(f"document.querySelector({json.dumps(row)})?.dataset.active === 'true'")
    return first_name


async def _use_template(page: Page, connection_id: str) -> None:
    """Edit the connection: its pushes name segments with the template (the stored key is kept)."""
    await page.evaluate(f"location.hash = '#/connections/{connection_id}/edit'")
    await page.wait_until("document.getElementById('config-output_template_key')")
    assert "set" in await page.evaluate("document.getElementById('authCredentials-api_key').placeholder")
    await page.fill("config-output_template_key", TEMPLATE)
    await page.click("#save")
    await page.wait_until(
        f"location.hash === '#/connections/{connection_id}' && document.getElementById('push')"
    )


async def _schedule_with_cron(page: Page, connection_id: str, log_dir: Path) -> str:
    """A cron schedule in a time zone: an impossible hour shown at the cron field, then fixed."""
    await page.evaluate(f"location.hash = '#/connections/{connection_id}'")
    await page.wait_until("document.getElementById('schedule-push-form')")
    assert await page.evaluate(text("#schedule-push-next")) == "No schedule."
    await page.fill("schedule-push-mode", "cron")
    await page.wait_until("!document.getElementById('schedule-push-cron').closest('.field').hidden")
    await page.fill("schedule-push-cron", "30 25 * * 1-5")
    await page.fill("schedule-push-timeZone", "Europe/Berlin")
    await page.click("#schedule-push-save")
    await page.wait_until(f"{text('#schedule-push-cron-error')} !== ''")
    assert (
        await page.evaluate("document.getElementById('schedule-push-cron').getAttribute('aria-invalid')")
        == "true"
    )
    await page.fill("schedule-push-cron", "30 6 * * 1-5")
    await page.click("#schedule-push-save")
    await page.wait_until("document.getElementById('schedule-push-next')?.dataset.nextRunAt")
    assert (await page.evaluate(text("#schedule-push-next"))).startswith("Cron 30 6 * * 1-5 (Europe/Berlin)")
    next_run_at: str = await page.evaluate("document.getElementById('schedule-push-next').dataset.nextRunAt")
    await page.screenshot(log_dir / "console-walkthrough-schedule.png", full_page=False)  # docs/console.png
    return next_run_at


async def _test_passes(page: Page) -> None:
    await page.click("#test")
    await page.wait_until("document.getElementById('test-result')")
    assert await page.evaluate("document.getElementById('test-result').dataset.success") == "true", (
        await page.evaluate(text("#test-result"))
    )


async def _start_run(
    page: Page, connection_id: str, button: str, log_dir: Path
) -> tuple[str, dict[str, str]]:
    """Sync Now or Push on the connection's page, then its run page followed to the end."""
    await page.evaluate(f"location.hash = '#/connections/{connection_id}'")
    await page.click(f"#{button}")
    run_id = await _hash_id(page, "#/runs/")
    return run_id, await _follow_run(page, run_id, log_dir, button)


async def _history_shows(page: Page, sync_id: str, push_id: str, log_dir: Path) -> None:
    """Both runs in the org's history; filtered to pushes, the sync is gone."""
    await page.evaluate("location.hash = '#/runs'")
    for run_id in (sync_id, push_id):
        await page.wait_until(f"document.querySelector('tr[data-run-id=\"{run_id}\"]')")
    await page.fill("filter-kind", "push")
    await page.evaluate("document.getElementById('run-filters').requestSubmit()")
    await page.wait_until(f"!document.querySelector('tr[data-run-id=\"{sync_id}\"]')")
    assert await page.evaluate(f"Boolean(document.querySelector('tr[data-run-id=\"{push_id}\"]'))")
    await page.screenshot(log_dir / "console-walkthrough-history.png")


async def _retry_failed(page: Page, push_id: str, log_dir: Path) -> tuple[str, dict[str, str]]:
    """Retry failed on the push's page: a child run, shown as the retry of its parent, followed to the end."""
    await page.evaluate(f"location.hash = '#/runs/{push_id}'")
    await page.click("#retry")
    await page.wait_until(f"location.hash.startsWith('#/runs/') && location.hash !== '#/runs/{push_id}'")
    retry_id = await _hash_id(page, "#/runs/")
    shown = await _follow_run(page, retry_id, log_dir, "retry")
    assert await page.evaluate(f"Boolean(document.querySelector('#run-state a[href=\"#/runs/{push_id}\"]'))")
    return retry_id, shown


@pytest.mark.timeout(900)
async def test_the_guide_walk_through_in_the_browser(
    system: System, pool: asyncpg.Pool[Any], chromium: Path, mock: httpx.AsyncClient, tmp_path: Path
) -> None:
    del chromium  # installed by the fixture when missing
    await set_records(mock, feed_records(RECORDS))
    _org_id, api_key = await create_org(pool, f"walkthrough-{uuid.uuid4().hex[:6]}")
    api = httpx.AsyncClient(base_url=system.gateway_url, headers={"Authorization": f"Bearer {api_key}"})
    async with api:
        inbound_id = await create_connection(api, dmp_connection(system.mock_url))
    log_dir = system.log_dir

    async with headless_page(tmp_path / "profile", log_dir / "chromium-console-walkthrough.log") as page:
        await sign_in_to_console(page, system.gateway_url, api_key)
        outbound_id = await _create_custom_api_connection(page, system.mock_url, log_dir)
        await _test_passes(page)
        sync_id, synced = await _start_run(page, inbound_id, "sync-now", log_dir)

        refused_name = await _create_and_activate_template(page, log_dir)
        await _use_template(page, outbound_id)
        faulted = await mock.put("/admin/faults/custom_api", json={"reject_names": [refused_name]})
        assert faulted.status_code == 200, faulted.text
        push_id, pushed = await _start_run(page, outbound_id, "push", log_dir)
        await _history_shows(page, sync_id, push_id, log_dir)
        assert (await mock.delete("/admin/faults/custom_api")).status_code in (200, 204)
        retry_id, retried = await _retry_failed(page, push_id, log_dir)

        next_run_at = await _schedule_with_cron(page, outbound_id, log_dir)
        await page.evaluate("location.hash = '#/connections'")
        next_cell = f'tr[data-connection-id="{outbound_id}"] td[data-field=next-run]'
        await page.wait_until(f"{text(next_cell)}.startsWith('push ')")
        await page.screenshot(log_dir / "console-walkthrough-connections.png")
        await page.click("#sign-out")
        await page.wait_until("document.body.dataset.state === 'signed-out'")

    async with httpx.AsyncClient(
        base_url=system.gateway_url, headers={"Authorization": f"Bearer {api_key}"}
    ) as api:
        sync = (await api.get(f"/api/runs/{sync_id}")).json()
        push = (await api.get(f"/api/runs/{push_id}")).json()
        retry = (await api.get(f"/api/runs/{retry_id}")).json()
        schedule = (await api.get(f"/api/connections/{outbound_id}/schedules/push")).json()
        outbound = (await api.get(f"/api/connections/{outbound_id}")).json()
        template = (await api.get(f"/api/output-templates/{TEMPLATE}")).json()
    assert (synced["status"], int(synced["inserted"])) == (sync["status"], sync["inserted"])
    assert (sync["status"], sync["inserted"]) == ("succeeded", RECORDS)
    assert (pushed["status"], int(pushed["failed"])) == (push["status"], push["failed"]) == ("partial", 1)
    assert (push["succeeded"], pushed["progress"]) == (RECORDS - 1, f"{RECORDS}/{RECORDS}")
    assert (retried["status"], retry["status"], retry["parentRunId"], retry["succeeded"]) == (
        "succeeded",
        "succeeded",
        push_id,
        1,
    )
    assert (outbound["config"]["output_template_key"], outbound["hasCredentials"]) == (TEMPLATE, True)
    assert (template["active"], template["nameTemplate"]) == (True, "{{name}} [{{attributes.country}}]")
    assert (schedule["cron"], schedule["timeZone"], schedule["nextRunAt"]) == (
        "30 6 * * 1-5",
        "Europe/Berlin",
        next_run_at,
    )
