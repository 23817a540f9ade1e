"""/api/connections: the org's platform connections, credentials encrypted, never returned."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Response

from services.gateway.deps import AppSettings, OrgId, Pool
from services.gateway.problems import Problem, not_found
from services.gateway.schemas import ConnectionInput, ConnectionOut, LastRunOut
from shared.connections.config import check_connection
from shared.connectors.errors import ConnectorConfigError
from shared.db import connections as repo
from shared.db.output_templates import get_template
from shared.db.run_history import ConnectionRuns, connection_runs
from shared.egress import EgressRefused, check_url
from shared.settings import Settings

router = APIRouter(prefix="/api/connections", tags=["connections"])

_URL_KEYS = ("api_base_url", "base_url", "token_url", "count_endpoint")


def _fields(body: ConnectionInput, config: dict[str, Any]) -> repo.ConnectionFields:
    return repo.ConnectionFields(
        name=body.name,
        platform=body.platform,
        direction=body.direction,
        auth_type=body.auth_type,
        credentials=body.auth_credentials,
        config=config,
        enabled=body.enabled,
    )


def _out(connection: repo.Connection, runs: ConnectionRuns | None = None) -> ConnectionOut:
    out = ConnectionOut.model_validate(connection, from_attributes=True)
    if runs is None:
        return out
    last_run = LastRunOut.model_validate(runs.last_run, from_attributes=True) if runs.last_run else None
    return out.model_copy(update={"last_run": last_run, "last_success_at": runs.last_success_at})


# The connector layer names fields as the Python models do; the client knows the wire's names.
_WIRE_SECTIONS = {"credentials": "authCredentials", "auth_type": "authType"}


def _wire_field(field: str) -> str:
    section, dot, rest = field.partition(".")
    return _WIRE_SECTIONS.get(section, section) + dot + rest


def _config_problem(error: ConnectorConfigError) -> Problem:
    """The 422 for a connection whose config or credentials do not fit: every field at fault in errors[]."""
    errors = [{"field": _wire_field(field), "message": reason} for field, reason in error.field_errors]
    return Problem(422, "Validation failed", str(error), errors=errors)


async def _validate(
    body: ConnectionInput, settings: Settings, pool: Pool, org_id: uuid.UUID, *, creating: bool
) -> dict[str, Any]:
    """The config to store; a 422 naming each field at fault. Omitted credentials are checked on create
    (the auth type may need some) and mean "keep the stored ones" on update."""
    credentials = (body.auth_credentials or {}) if creating else body.auth_credentials
    try:
        config = check_connection(body.platform, body.direction, body.auth_type, credentials, body.config)
    except ConnectorConfigError as exc:
        raise _config_problem(exc) from exc
    template_key = config.get("output_template_key")
    if template_key is not None and await get_template(pool, org_id, template_key) is None:
        message = f"the org has no output template {template_key!r} (GET /api/output-templates lists them)"
        raise Problem(
            422,
            "Validation failed",
            f"config.output_template_key: {message}",
            errors=[{"field": "config.output_template_key", "message": message}],
        )
    for key in _URL_KEYS:
        url = config.get(key)
        if isinstance(url, str) and "://" in url:
            try:
                await check_url(
                    url,
                    allow_private=settings.activator_egress_allow_private,
                    allowed=settings.egress_allowed_networks,
                )
            except EgressRefused as exc:
                raise Problem(
                    422,
                    "Egress refused",
                    f"config.{key}: {exc}",
                    errors=[{"field": f"config.{key}", "message": str(exc)}],
                ) from exc
    return config


@router.get("")
async def list_connections(org_id: OrgId, pool: Pool) -> list[ConnectionOut]:
    """All of the org's connections, each with its newest run and last success."""
    listed = await repo.list_connections(pool, org_id)
    runs = await connection_runs(pool, [connection.id for connection in listed])
    return [_out(connection, runs.get(connection.id)) for connection in listed]


@router.post("", status_code=201)
async def create_connection(
    body: ConnectionInput, org_id: OrgId, pool: Pool, settings: AppSettings
) -> ConnectionOut:
    """Create a connection; credentials are encrypted in Postgres."""
    config = await _validate(body, settings, pool, org_id, creating=True)
    try:
        connection = await repo.create_connection(
            pool,
            org_id,
            _fields(body, config),
            encryption_key=settings.require_encryption_key(),
            limit=settings.max_connections_per_org,
        )
    except repo.ConnectionLimitReached as exc:
        raise Problem(
            409,
            "Connection limit reached",
            f"An org may have at most {settings.max_connections_per_org} connections",
        ) from exc
    return _out(connection)


@router.get("/{connection_id}")
async def get_connection(connection_id: uuid.UUID, org_id: OrgId, pool: Pool) -> ConnectionOut:
    """One connection, with `hasCredentials` instead of its credentials, its newest run and last success."""
    connection = await repo.get_connection(pool, org_id, connection_id)
    if connection is None:
        raise not_found("connection")
    return _out(connection, (await connection_runs(pool, [connection.id])).get(connection.id))


@router.put("/{connection_id}")
async def update_connection(
    connection_id: uuid.UUID, body: ConnectionInput, org_id: OrgId, pool: Pool, settings: AppSettings
) -> ConnectionOut:
    """Replace a connection; omitting `authCredentials` keeps the stored ones."""
    config = await _validate(body, settings, pool, org_id, creating=False)
    connection = await repo.update_connection(
        pool, org_id, connection_id, _fields(body, config), encryption_key=settings.require_encryption_key()
    )
    if connection is None:
        raise not_found("connection")
    return _out(connection)


@router.delete("/{connection_id}", status_code=204)
async def delete_connection(connection_id: uuid.UUID, org_id: OrgId, pool: Pool) -> Response:
    """Delete a connection with its runs and activations."""
    if not await repo.delete_connection(pool, org_id, connection_id):
        raise not_found("connection")
    return Response(status_code=204)
