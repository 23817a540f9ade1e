"""Console sign-in over real HTTP and Postgres: the cookie's flags, CSRF on state changes, sign-out."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import httpx
import pytest

from shared.db.orgs import create_org, revoke_api_keys
from tests.support.connections import NOTHING_LISTENS, outbound_custom_api

pytestmark = pytest.mark.integration

CONNECTION = outbound_custom_api("console", api_base_url=f"{NOTHING_LISTENS}/api", default_cpm=1.5)


@pytest.fixture
async def org(pool: asyncpg.Pool[Any]) -> tuple[uuid.UUID, str]:
    return await create_org(pool, f"console-{secrets.token_hex(3)}")


@pytest.fixture
async def browser(gateway_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client that keeps cookies as a browser does and sends no Authorization header."""
    async with httpx.AsyncClient(base_url=gateway_url, timeout=30) as client:
        yield client


async def _sign_in(browser: httpx.AsyncClient, api_key: str) -> dict[str, Any]:
    response = await browser.post("/api/session", json={"apiKey": api_key})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_sign_in_sets_an_httponly_strict_cookie_and_never_echoes_the_key(
    browser: httpx.AsyncClient, org: tuple[uuid.UUID, str]
) -> None:
    org_id, api_key = org
    response = await browser.post("/api/session", json={"apiKey": api_key})
    assert response.status_code == 201
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("activator_session=")
    flags = {part.strip().lower() for part in cookie.split(";")}
    assert {"httponly", "samesite=strict", "path=/"} <= flags
    assert "secure" not in flags  # plain http here; over https the cookie is Secure
    assert api_key not in cookie
    assert api_key not in response.text
    assert response.json()["orgId"] == str(org_id)
    assert (await browser.get("/api/session")).json()["csrfToken"] == response.json()["csrfToken"]


async def test_the_cookie_is_secure_when_tls_ended_at_the_proxy(
    browser: httpx.AsyncClient, org: tuple[uuid.UUID, str]
) -> None:
    # uvicorn trusts X-Forwarded-Proto from loopback, as from a TLS-terminating proxy in front of it.
    response = await browser.post(
        "/api/session", json={"apiKey": org[1]}, headers={"X-Forwarded-Proto": "https"}
    )
    assert response.status_code == 201
    assert "secure" in {part.strip().lower() for part in response.headers["set-cookie"].split(";")}


async def test_a_wrong_key_or_a_form_post_gets_no_session(
    browser: httpx.AsyncClient, org: tuple[uuid.UUID, str]
) -> None:
    wrong = await browser.post("/api/session", json={"apiKey": "act_not-a-key"})
    assert wrong.status_code == 401
    assert "set-cookie" not in wrong.headers
    form = await browser.post(
        "/api/session", content=f'{{"apiKey": "{org[1]}"}}', headers={"Content-Type": "text/plain"}
    )
    assert form.status_code == 422  # a cross-site <form> cannot send JSON: no login CSRF
    assert "set-cookie" not in form.headers
    assert (await browser.get("/api/connections")).status_code == 401


async def test_cookie_reads_work_and_state_changes_need_the_csrf_token(
    browser: httpx.AsyncClient, org: tuple[uuid.UUID, str]
) -> None:
    session = await _sign_in(browser, org[1])
    assert (await browser.get("/api/connections")).json() == []

    refused = await browser.post("/api/connections", json=CONNECTION)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    forged = await browser.post("/api/connections", json=CONNECTION, headers={"X-CSRF-Token": "forged"})
    assert forged.status_code == 403
    assert (await browser.get("/api/connections")).json() == []  # nothing was created

    created = await browser.post(
        "/api/connections", json=CONNECTION, headers={"X-CSRF-Token": session["csrfToken"]}
    )
    assert created.status_code == 201, created.text
    deleted = await browser.delete(f"/api/connections/{created.json()['id']}")
    assert deleted.status_code == 403
    assert len((await browser.get("/api/connections")).json()) == 1


async def test_another_sessions_csrf_token_does_not_pass(
    gateway_url: str, org: tuple[uuid.UUID, str]
) -> None:
    async with (
        httpx.AsyncClient(base_url=gateway_url) as first,
        httpx.AsyncClient(base_url=gateway_url) as second,
    ):
        await _sign_in(first, org[1])
        other = await _sign_in(second, org[1])
        response = await first.post(
            "/api/connections", json=CONNECTION, headers={"X-CSRF-Token": other["csrfToken"]}
        )
    assert response.status_code == 403


async def test_sign_out_invalidates_the_cookie_even_when_replayed(
    browser: httpx.AsyncClient, org: tuple[uuid.UUID, str]
) -> None:
    session = await _sign_in(browser, org[1])
    cookie = browser.cookies["activator_session"]
    assert (await browser.delete("/api/session")).status_code == 403  # sign-out is a state change too
    signed_out = await browser.delete("/api/session", headers={"X-CSRF-Token": session["csrfToken"]})
    assert signed_out.status_code == 204
    assert (
        'activator_session=""' in signed_out.headers["set-cookie"]
        or "Max-Age=0" in signed_out.headers["set-cookie"]
    )
    browser.cookies.set("activator_session", cookie)  # a copy kept by an attacker
    assert (await browser.get("/api/connections")).status_code == 401
    assert (await browser.get("/api/session")).status_code == 401


async def test_revoking_the_key_ends_its_sessions(
    browser: httpx.AsyncClient, pool: asyncpg.Pool[Any], org: tuple[uuid.UUID, str]
) -> None:
    await _sign_in(browser, org[1])
    assert (await browser.get("/api/connections")).status_code == 200
    await revoke_api_keys(pool, org[0], keep_newest=False)
    assert (await browser.get("/api/connections")).status_code == 401


async def test_a_bearer_key_is_checked_as_one_even_beside_a_session_cookie(
    browser: httpx.AsyncClient, org: tuple[uuid.UUID, str]
) -> None:
    await _sign_in(browser, org[1])
    wrong = await browser.get("/api/connections", headers={"Authorization": "Bearer act_wrong"})
    assert wrong.status_code == 401
    bearer = await browser.post(
        "/api/connections", json=CONNECTION, headers={"Authorization": f"Bearer {org[1]}"}
    )
    assert bearer.status_code == 201  # no CSRF token needed: a browser never attaches a Bearer key by itself


async def test_the_form_schemas_are_the_models_the_api_validates_with(
    browser: httpx.AsyncClient, org: tuple[uuid.UUID, str]
) -> None:
    await _sign_in(browser, org[1])
    schemas = (await browser.get("/api/connection-schemas")).json()
    custom = schemas["outbound"]["custom_api"]
    assert {"api_base_url", "default_cpm", "currency"} <= set(custom["config"]["required"])
    assert set(custom["credentials"]) >= {"bearer", "api_key", "none"}
    assert "field_mappings" in schemas["inbound"]["config"]["properties"]
