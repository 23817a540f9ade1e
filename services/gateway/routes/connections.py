"""/api/connections: the org's platform connections, credentials encrypted, never returned."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Response
from pydantic import ValidationError

from services.gateway.deps import AppSettings, OrgId, Pool
from services.gateway.problems import Problem, not_found
from services.gateway.schemas import ConnectionInput, ConnectionOut
from shared.connectors.errors import ConnectorConfigError
from shared.connectors.factory import validate_outbound_config
from shared.db import connections as repo
from shared.egress import EgressRefused, check_url
from shared.inbound.config import InboundConfig
from shared.settings import Settings

router = APIRouter(prefix="/api/connections", tags=["connections"])

_URL_KEYS = ("api_base_url", "base_url", "token_url", "count_endpoint")


def _fields(body: ConnectionInput) -> repo.ConnectionFields:
    return repo.ConnectionFields(
        name=body.name,
        platform=body.platform,
        direction=body.direction,
        auth_type=body.auth_type,
        credentials=body.auth_credentials,
        config=body.config,
        enabled=body.enabled,
    )


def _out(connection: repo.Connection) -> ConnectionOut:
    return ConnectionOut.model_validate(connection, from_attributes=True)


def _validation_problem(field_prefix: str, error: ValidationError) -> Problem:
    errors = [
        {
            "field": ".".join([field_prefix, *(str(part) for part in item["loc"])]),
            "message": item["msg"],
            "type": item["type"],
        }
        for item in error.errors(include_input=False)
    ]
    return Problem(422, "Validation failed", "The connection config is not valid", errors=errors)


async def _validate(body: ConnectionInput, settings: Settings, *, credentials_required: bool) -> None:
    if body.direction in ("inbound", "bidirectional"):
        try:
            InboundConfig.model_validate(body.config)
        except ValidationError as exc:
            raise _validation_problem("config", exc) from exc
    if body.direction in ("outbound", "bidirectional"):
        try:
            validate_outbound_config(
                body.platform,
                body.auth_type,
                body.auth_credentials if credentials_required or body.auth_credentials is not None else None,
                body.config,
            )
        except ConnectorConfigError as exc:
            raise Problem(422, "Validation failed", str(exc)) from exc
    for key in _URL_KEYS:
        url = body.config.get(key)
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


@router.get("")
async def list_connections(org_id: OrgId, pool: Pool) -> list[ConnectionOut]:
    """All of the org's connections."""
    return [_out(connection) for connection in await repo.list_connections(pool, org_id)]


@router.post("", status_code=201)
async def create_connection(
    body: ConnectionInput, org_id: OrgId, pool: Pool, settings: AppSettings
) -> ConnectionOut:
    """Create a connection; credentials are encrypted in Postgres."""
    await _validate(body, settings, credentials_required=body.auth_type != "none")
    try:
        connection = await repo.create_connection(
            pool,
            org_id,
            _fields(body),
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
    """One connection, with `hasCredentials` instead of its credentials."""
    connection = await repo.get_connection(pool, org_id, connection_id)
    if connection is None:
        raise not_found("connection")
    return _out(connection)


@router.put("/{connection_id}")
async def update_connection(
    connection_id: uuid.UUID, body: ConnectionInput, org_id: OrgId, pool: Pool, settings: AppSettings
) -> ConnectionOut:
    """Replace a connection; omitting `authCredentials` keeps the stored ones."""
    await _validate(body, settings, credentials_required=False)
    connection = await repo.update_connection(
        pool, org_id, connection_id, _fields(body), encryption_key=settings.require_encryption_key()
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
