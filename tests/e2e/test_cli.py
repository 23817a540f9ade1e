"""The `activator` client commands against the running system: topics import, connections, push and runs watch."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from typer.testing import CliRunner, Result

from services.cli import app
from shared.db.orgs import create_org
from tests.e2e.conftest import System

pytestmark = pytest.mark.e2e


class Cli:
    """`activator ...` as a user of one org runs it (gateway and key from the environment)."""

    def __init__(self, gateway_url: str, api_key: str) -> None:
        self.env = {"ACTIVATOR_URL": gateway_url, "ACTIVATOR_API_KEY": api_key, "COLUMNS": "200"}
        self.api = httpx.AsyncClient(
            base_url=gateway_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=60
        )

    async def __call__(self, *args: str) -> Result:
        def run() -> Result:  # in a thread: the command blocks on HTTP
            return CliRunner().invoke(app, list(args), env=self.env, catch_exceptions=False)

        return await asyncio.to_thread(run)


@pytest.fixture
async def cli(system: System, pool: asyncpg.Pool[Any]) -> AsyncIterator[Cli]:
    _org, api_key = await create_org(pool, f"cli-{uuid.uuid4().hex[:6]}")
    runner = Cli(system.gateway_url, api_key)
    async with runner.api:
        yield runner


@pytest.fixture
async def mock(system: System) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=system.mock_url, timeout=30) as client:
        yield client
        await client.delete("/admin/faults/custom_api")


def _topics_csv(path: Path, count: int, prefix: str) -> Path:
    rows = ["name,parent_category,path,external_id,cpm,attributes.source"]
    rows += [
        f"Segment {index},Auto,Auto > Segment {index},{prefix}-{index},1.25,cli" for index in range(count)
    ]
    path.write_text("\n".join(rows) + "\n")
    return path


async def test_topics_import_creates_then_updates_and_points_at_the_bad_row(cli: Cli, tmp_path: Path) -> None:
    csv_file = _topics_csv(tmp_path / "taxonomy.csv", 30, "cli-import")
    first = await cli("topics", "import", str(csv_file))
    assert first.exit_code == 0, first.output
    assert "imported 30 topic(s) from taxonomy.csv: 30 created, 0 updated" in first.output
    again = await cli("topics", "import", str(csv_file))
    assert "30 topic(s) from taxonomy.csv: 0 created, 30 updated" in again.output
    listed = (await cli.api.get("/api/topics", params={"limit": 100})).json()["items"]
    assert len(listed) == 30
    sample = next(topic for topic in listed if topic["externalId"] == "cli-import-7")
    assert (sample["path"], sample["cpm"], sample["attributes"]) == (
        ["Auto", "Segment 7"],
        "1.2500",
        {"source": "cli"},
    )

    json_file = tmp_path / "taxonomy.json"
    json_file.write_text(json.dumps({"topics": [{"name": "Fine"}, {"name": "x" * 501}]}))
    refused = await cli("topics", "import", str(json_file))
    assert refused.exit_code == 1
    assert "topic 1.name" in refused.output


async def test_push_then_runs_watch_shows_progress_and_a_final_table_matching_the_api(
    cli: Cli, system: System, mock: httpx.AsyncClient, tmp_path: Path
) -> None:
    credentials = tmp_path / "credentials.json"
    credentials.write_text(json.dumps({"api_key": "cli-custom-key"}))
    created = await cli(
        "connections", "create", "--name", "CLI REST", "--platform", "custom_api", "--direction", "outbound",
        "--auth-type", "api_key", "--credentials-file", str(credentials),
        "--config", json.dumps({"api_base_url": f"{system.mock_url}/custom", "default_cpm": 1.5, "currency": "USD"}),
    )  # fmt: skip
    assert created.exit_code == 0, created.output
    listed = await cli("connections", "list")
    assert "CLI REST" in listed.output
    assert "stored" in listed.output
    tested = await cli("connections", "test", "CLI REST")
    assert (tested.exit_code, "ok" in tested.output) == (0, True)
    await cli("topics", "import", str(_topics_csv(tmp_path / "t.csv", 40, "cli-push")))

    # The first two platform calls are refused (permanent 400s): the run ends partial.
    assert (await mock.put("/admin/faults/custom_api", json={"status": 400, "count": 2})).status_code == 200
    started = await cli("push", "CLI REST")
    assert started.exit_code == 0, started.output
    match = re.search(r"push run ([0-9a-f-]{36}) queued: 40 topic\(s\)", started.output)
    assert match, started.output
    run_id = match.group(1)

    watched = await cli("runs", "watch", run_id)
    status = (await cli.api.get(f"/api/runs/{run_id}")).json()
    assert (status["status"], status["succeeded"], status["failed"]) == ("partial", 38, 2)
    assert watched.exit_code == 1  # anything but succeeded
    output = watched.output
    assert "40/40" in output  # the progress bar at its end
    row = re.search(r"│ partial\s+│\s+40\s+│\s+40\s+│\s+38\s+│\s+2\s+│\s+0\s+│\s+2\s+│", output)
    assert row, output
    assert re.search(r"│ created\s+│\s+38\s+│", output), output
    assert re.search(r"│ failed\s+│\s+2\s+│", output), output
    for error in status["errors"]:
        assert error["itemId"] in output
    assert output.count("permanent") == 2

    shown = await cli("runs", "show", run_id)
    assert shown.exit_code == 0
    assert row.group(0) in shown.output

    await mock.delete("/admin/faults/custom_api")
    rerun = await cli(
        "push", "CLI REST", "--watch"
    )  # the two failed ones are created now, the rest unchanged
    assert rerun.exit_code == 0, rerun.output
    assert re.search(r"│ succeeded\s+│\s+40\s+│\s+40\s+│\s+2\s+│\s+0\s+│\s+38\s+│\s+0\s+│", rerun.output), (
        rerun.output
    )
