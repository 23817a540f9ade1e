"""After everything else has run: no credential used by the session appears in any log it produced.

The logs are the services' own files (every `*.log` under the session's temporary directory: the e2e
system's `log_dir`, the outage test's gateway, ...) and what pytest captured from every test
(stdout, stderr, log records of the in-process gateway and clients). The secrets are the encryption
key, every API key (recognised by their `act_` shape), and every connection credential: those still
stored (decrypted here) and those the tests send.
"""

from __future__ import annotations

import json
import re
from typing import Any

import asyncpg
import pytest

from shared.settings import Settings
from tests.e2e.conftest import System
from tests.e2e.helpers import connection_body
from tests.e2e.test_outbox_kafka_outage import CONNECTION
from tests.integration.test_connections_api import SECRET
from tests.support.infra import TEST_DEV_API_KEY
from tests.support.log_capture import CAPTURED, LAST

pytestmark = [pytest.mark.e2e, pytest.mark.last]

API_KEY = re.compile(r"act_[A-Za-z0-9_-]{20,}")
MIN_SECRET_LENGTH = 6  # shorter values (e.g. "none") would match ordinary words


async def _stored_credentials(pool: asyncpg.Pool[Any], settings: Settings) -> set[str]:
    rows = await pool.fetch(
        """SELECT pgp_sym_decrypt(auth_credentials_enc, $1) AS credentials
           FROM platform_connections WHERE auth_credentials_enc IS NOT NULL""",
        settings.credentials_encryption_key.get_secret_value(),
    )
    return {value for row in rows for value in json.loads(row["credentials"]).values()}


def _sent_credentials() -> set[str]:
    bodies = [
        connection_body(platform, "http://127.0.0.1:1", 1)
        for platform in ("custom_api", "tradedesk", "liveramp", "indexexchange")
    ]
    sent = [CONNECTION["authCredentials"], *(body.get("authCredentials", {}) for body in bodies)]
    return {SECRET, *(value for credentials in sent for value in credentials.values())}


async def test_no_credential_appears_in_any_log(
    request: pytest.FixtureRequest,
    system: System,
    pool: asyncpg.Pool[Any],
    settings: Settings,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    assert request.node.get_closest_marker(LAST) is not None
    secrets = {
        settings.credentials_encryption_key.get_secret_value(),
        TEST_DEV_API_KEY,
        *await _stored_credentials(pool, settings),
        *_sent_credentials(),
    }
    secrets = {secret for secret in secrets if isinstance(secret, str) and len(secret) >= MIN_SECRET_LENGTH}

    logs = [
        (str(path), path.read_text(errors="replace"))
        for path in tmp_path_factory.getbasetemp().rglob("*.log")
        if path.is_file()
    ]
    logs += request.config.stash[CAPTURED].sections
    assert any(str(system.log_dir) in name for name, _text in logs), "the e2e services left no log to check"
    assert sum(len(text) for _name, text in logs) > 0

    leaks: list[str] = []
    for name, text in logs:
        leaks += [f"{name}: credential {secret[:3]}…" for secret in secrets if secret in text]
        leaks += [f"{name}: API key {match.group()[:8]}…" for match in API_KEY.finditer(text)]
    assert leaks == []
