"""The live status page in headless Chromium: it follows a run batch by batch and ends with the API's numbers."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.e2e.browser import Page, ensure_chromium, headless_page
from tests.e2e.conftest import System
from tests.e2e.helpers import org_client, outcomes, push_new_topics

pytestmark = pytest.mark.e2e

COUNTS = ("processed", "total", "succeeded", "failed", "skipped", "errorCount")


class PageNumbers(HTMLParser):
    """What the dumped DOM shows: every `data-field`, the outcome rows and the error rows."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.fields: dict[str, set[str]] = {}
        self.outcomes: dict[str, int] = {}
        self.error_rows: list[list[str]] = []
        self.state = ""
        self._field: str | None = None
        self._outcome: str | None = None
        self._cells: list[str] | None = None
        self._in_errors = False
        self._text = ""
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "body":
            self.state = values.get("data-state") or ""
        if values.get("data-field"):
            self._field, self._text = values["data-field"], ""
        if tag == "tbody" and values.get("id") == "errors":
            self._in_errors = True
        if tag == "tr" and (values.get("data-outcome") or self._in_errors):
            self._outcome = values.get("data-outcome")
            self._cells = []
        if tag == "td":
            self._text = ""

    def handle_data(self, data: str) -> None:
        self._text += data

    def handle_endtag(self, tag: str) -> None:
        if self._field is not None and tag in {"span", "td", "p"}:
            self.fields.setdefault(self._field, set()).add(self._text.strip())
            self._field = None
        if tag == "td" and self._cells is not None:
            self._cells.append(self._text.strip())
        if tag == "tr" and self._cells is not None:
            if self._outcome is not None:
                self.outcomes[self._outcome] = int(self._cells[1])
            else:
                self.error_rows.append(self._cells)
            self._cells, self._outcome = None, None
        if tag == "tbody":
            self._in_errors = False

    def number(self, field: str) -> int:
        [value] = self.fields[field]  # every place showing the field agrees
        return int(value)


@pytest.fixture(scope="module")
def chromium() -> Path:
    return ensure_chromium()


@pytest.fixture
async def failing_first_creates(system: System) -> AsyncIterator[httpx.AsyncClient]:
    """The custom API refuses its next 3 requests with a 400 (permanent: those items fail)."""
    async with httpx.AsyncClient(base_url=system.mock_url, timeout=30) as mock:
        yield mock
        await mock.delete("/admin/faults/custom_api")


async def _shows(page: Page, processed: int) -> None:
    await page.wait_until(f"document.querySelector('[data-field=processed]').textContent === '{processed}'")


@pytest.mark.timeout(1800)  # on a fresh machine the fixture installs chromium first
async def test_the_page_follows_a_run_live_and_ends_with_the_numbers_of_the_api(
    system: System,
    pool: asyncpg.Pool[Any],
    chromium: Path,
    failing_first_creates: httpx.AsyncClient,
    tmp_path: Path,
) -> None:
    del chromium  # installed by the fixture when missing
    async with await org_client(pool, system.gateway_url) as api:
        connection_id, run_id = await push_new_topics(
            api,
            system.mock_url,
            system.mock_sftp_port,
            60,
            prefix=f"page-{uuid.uuid4().hex[:4]}",
            mode="step",  # moves only when the test says so
        )
        minted = (await api.post(f"/api/runs/{run_id}/view-token")).json()

        async with headless_page(tmp_path / "profile", system.log_dir / "chromium.log") as page:
            await page.send("Page.navigate", {"url": system.gateway_url + minted["url"]})
            await page.wait_until("document.body.dataset.state === 'live'")
            await page.wait_until("document.querySelector('[data-field=status]').textContent === 'queued'")
            await _shows(page, 0)

            fault = {"status": 400, "count": 3}
            assert (
                await failing_first_creates.put("/admin/faults/custom_api", json=fault)
            ).status_code == 200
            step_url = f"/api/connections/{connection_id}/push/run/{run_id}/push"
            assert (await api.post(step_url)).json()["processed"] == 25
            await _shows(page, 25)  # without a reload: the page follows the stream
            await failing_first_creates.delete("/admin/faults/custom_api")
            assert (await api.post(step_url)).json()["processed"] == 50
            await _shows(page, 50)
            assert (await api.post(step_url)).json()["processed"] == 60
            await page.wait_until("document.body.dataset.state === 'final'")

            dom = await page.dom()
            screenshot = await page.screenshot(system.log_dir / f"run-{run_id}.png")
        status = (await api.get(f"/api/runs/{run_id}")).json()

    shown = PageNumbers(dom)
    assert shown.state == "final"
    assert status["status"] in {"partial", "succeeded"}
    assert shown.fields["status"] == {status["status"]}
    assert {field: shown.number(field) for field in COUNTS} == {field: status[field] for field in COUNTS}
    assert status["failed"] == 3
    assert shown.outcomes == await outcomes(pool, run_id)
    assert sorted(row[0] for row in shown.error_rows) == sorted(error["itemId"] for error in status["errors"])
    assert {row[1] for row in shown.error_rows} == {error["code"] for error in status["errors"]}
    assert _is_rendered_png(screenshot)


def _is_rendered_png(path: Path) -> bool:
    content = path.read_bytes()
    return content.startswith(b"\x89PNG\r\n\x1a\n") and len(content) > 10_000  # not an empty canvas
