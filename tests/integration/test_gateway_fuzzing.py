"""Hostile input: schemathesis generates requests from the gateway's own OpenAPI document.

Every operation gets valid and invalid bodies, parameters and headers (NUL characters, huge numbers,
wrong types, missing or foreign auth), then sequences of calls linked by the ids they return. No
answer may be a 5xx, and every answer must be one the document declares, with its content type,
headers and schema. Checks left out: `positive_data_acceptance` (a schema-valid connection URL does
not resolve offline; cross-field rules no schema can say), `negative_data_rejection` (pydantic's lax
mode takes 0 for false) and `ensure_resource_availability` / `unsupported_method` (an unknown topic
id in a preview body is a 404 by the tenancy rule; PUT /api/topics/bulk reaches PUT
/api/topics/{topic_id}).

The gateway runs in process with a database and topic prefix of its own: the runs the fuzzer starts
reach no worker of the other tests. Seeded (`SCHEMATHESIS_SEED` picks another exploration).
"""

from __future__ import annotations

import asyncio
import os
import re
import secrets
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from services.gateway.app import build_app
from shared.db.orgs import create_org
from tests.conftest import serve_in_process
from tests.support.infra import isolated_settings, own_database_pool, required_env
from tests.support.processes import free_port

pytestmark = pytest.mark.integration

CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "allow_header_conformance",
    "missing_required_header",
    "ignored_auth",
    "use_after_free",
]
MAX_EXAMPLES = os.environ.get("SCHEMATHESIS_MAX_EXAMPLES", "12")
SEED = os.environ.get("SCHEMATHESIS_SEED", "7")


@pytest.fixture(scope="module")
async def fuzzed_gateway() -> AsyncIterator[tuple[str, str]]:
    """The gateway on a loopback port over a database of its own; its URL and an org's API key."""
    async with own_database_pool() as (database_url, pool):
        settings = isolated_settings(
            database_url,
            required_env("KAFKA_BOOTSTRAP_SERVERS"),
            f"fz{secrets.token_hex(3)}.activator",
            step_wait_timeout_s=1.0,  # no worker answers a step here
        )
        _org_id, api_key = await create_org(pool, "fuzzed")
        async with serve_in_process(build_app(settings), free_port()) as url:
            yield url, api_key


async def test_every_answer_to_generated_requests_is_declared_and_none_is_a_5xx(
    fuzzed_gateway: tuple[str, str], tmp_path: Path
) -> None:
    url, api_key = fuzzed_gateway
    # A subprocess, so the event loop stays free to serve the in-process gateway meanwhile.
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "schemathesis.cli",
        "run",
        f"{url}/openapi.json",
        "--header",
        f"Authorization: Bearer {api_key}",
        "--checks",
        ",".join(CHECKS),
        "--max-examples",
        MAX_EXAMPLES,
        "--seed",
        SEED,
        "--workers",
        "2",
        "--request-timeout",
        "30",
        "--generation-database",
        "none",
        "--no-color",
        cwd=tmp_path,  # its reports stay out of the checkout
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=400)
    report = output.decode(errors="replace")
    assert process.returncode == 0, report[-12_000:]
    generated = re.search(r"(\d+) generated, (\d+) passed", report)
    assert generated is not None, report[-3000:]
    assert generated.group(1) == generated.group(2)
