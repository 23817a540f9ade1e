"""How the OpenAPI document says who may call what: the schemes of services/gateway/deps.py, declared
once and attached to every operation (clients generated from the document then send the key)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from services.gateway.console.sessions import CSRF_HEADER, SESSION_COOKIE
from services.gateway.problems import PROBLEM_JSON

BEARER = "bearerAuth"
CONSOLE_SESSION = "consoleSession"
VIEW_TOKEN = "viewToken"  # noqa: S105 - the scheme's name, not a token

SECURITY_SCHEMES: dict[str, dict[str, str]] = {
    BEARER: {
        "type": "http",
        "scheme": "bearer",
        "description": "An org's API key (`activator org create`, `activator key create`): "
        "`Authorization: Bearer <key>`. A Bearer header is always checked as one, cookie or not.",
    },
    CONSOLE_SESSION: {
        "type": "apiKey",
        "in": "cookie",
        "name": SESSION_COOKIE,
        "description": "The console's session, from POST /api/session; a state change made with it must "
        f"also send {CSRF_HEADER} (else 403).",
    },
    VIEW_TOKEN: {
        "type": "apiKey",
        "in": "query",
        "name": "token",
        "description": "A view token of one run (POST /api/runs/{runId}/view-token), for browser pages.",
    },
}
# Sign-in takes the API key in its body, not as a credential of the request.
_PUBLIC = {("post", "/api/session")}
# The session's own routes read the cookie only.
_SESSION_ONLY = {("get", "/api/session"), ("delete", "/api/session")}
_STATE_CHANGES = {"post", "put", "patch", "delete"}
_CSRF_REFUSED = {
    "description": f"Authenticated by the session cookie without its {CSRF_HEADER} header",
    "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
}


def install_security_documentation(app: FastAPI) -> None:
    """Make the app's OpenAPI document declare its security (after install_problem_handlers)."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        document = generate()  # cached by FastAPI: the schemes are added once
        if "securitySchemes" not in document.get("components", {}):
            document_security(document)
        return document

    app.openapi = openapi  # type: ignore[method-assign]


def document_security(document: dict[str, Any]) -> None:
    """Declare the security schemes and each operation's requirement in an OpenAPI document, in place."""
    components = document.setdefault("components", {})
    components["securitySchemes"] = SECURITY_SCHEMES
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            requirement = _requirement(method, path, operation)
            operation["security"] = requirement
            if method in _STATE_CHANGES and {CONSOLE_SESSION: []} in requirement:
                operation.setdefault("responses", {})["403"] = _CSRF_REFUSED


def _requirement(method: str, path: str, operation: dict[str, Any]) -> list[dict[str, list[str]]]:
    if not path.startswith("/api/") or (method, path) in _PUBLIC:
        return []  # probes and sign-in: no credential
    if (method, path) in _SESSION_ONLY:
        return [{CONSOLE_SESSION: []}]
    requirement: list[dict[str, list[str]]] = [{BEARER: []}, {CONSOLE_SESSION: []}]
    parameters = operation.get("parameters", [])
    if any(parameter.get("in") == "query" and parameter.get("name") == "token" for parameter in parameters):
        requirement.append({VIEW_TOKEN: []})
    return requirement
