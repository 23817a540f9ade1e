"""The OpenAPI document tells a client generator how to authenticate and what each route can answer."""

from __future__ import annotations

from typing import Any

from pydantic import SecretStr

from services.gateway.app import build_app
from shared.settings import Settings
from tests.support.infra import TEST_ENCRYPTION_KEY


def _document() -> dict[str, Any]:
    app = build_app(Settings(credentials_encryption_key=SecretStr(TEST_ENCRYPTION_KEY)))
    document: dict[str, Any] = app.openapi()
    return document


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method, path, operation)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
    ]


def test_every_api_operation_requires_a_declared_credential() -> None:
    document = _document()
    schemes = document["components"]["securitySchemes"]
    assert (schemes["bearerAuth"]["type"], schemes["bearerAuth"]["scheme"]) == ("http", "bearer")
    public = []
    for method, path, operation in _operations(document):
        requirement = operation["security"]
        assert all(set(alternative) <= set(schemes) for alternative in requirement), (method, path)
        if not requirement:
            public.append(f"{method.upper()} {path}")
        elif path != "/api/session":
            assert {"bearerAuth": []} in requirement, f"{method.upper()} {path} takes no API key"
    assert sorted(public) == ["GET /healthz", "GET /readyz", "POST /api/session"]


def test_run_pages_also_take_a_view_token() -> None:
    operations = {(method, path): operation for method, path, operation in _operations(_document())}
    assert {"viewToken": []} in operations["get", "/api/runs/{run_id}/events"]["security"]
    assert {"viewToken": []} not in operations["get", "/api/topics"]["security"]


def test_readiness_documents_its_503() -> None:
    readyz = _document()["paths"]["/readyz"]["get"]["responses"]
    for status in ("200", "503"):
        assert readyz[status]["content"]["application/json"]["schema"] == {
            "$ref": "#/components/schemas/Readiness"
        }


def test_a_state_change_by_cookie_without_csrf_is_a_documented_403() -> None:
    for method, path, operation in _operations(_document()):
        if method in {"post", "put", "patch", "delete"} and {"consoleSession": []} in operation["security"]:
            assert "403" in operation["responses"], f"{method.upper()} {path}"
