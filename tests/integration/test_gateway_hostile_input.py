"""Hostile input the fuzzer found, pinned: values Postgres cannot store, methods a path does not serve."""

from __future__ import annotations

import httpx
import pytest

pytestmark = pytest.mark.integration


@pytest.mark.parametrize(
    "topic",
    [
        {"name": "Cars\u0000"},
        {"name": "Cars", "attributes": {"re\u0000ach": 1}},
        {"name": "Cars", "path": ["Auto", "\u0000"]},
    ],
    ids=["nul-in-name", "nul-in-attribute-key", "nul-in-path"],
)
async def test_text_postgres_cannot_store_is_a_422_problem(
    api: httpx.AsyncClient, topic: dict[str, object]
) -> None:
    response = await api.post("/api/topics", json=topic)
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["title"] == "Validation failed"


async def test_a_lone_surrogate_escape_is_a_422_problem(api: httpx.AsyncClient) -> None:
    # Valid JSON (an escape), but no UTF-8 text: httpx would refuse to encode it, so the bytes go raw.
    body = b'{"name": "Cars", "description": "half a pair: \\ud800"}'
    response = await api.post("/api/topics", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 422, response.text


async def test_a_405_names_every_method_the_path_serves(api: httpx.AsyncClient) -> None:
    response = await api.request("PATCH", "/api/connections")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD, POST"
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_the_openapi_document_declares_the_problem_answers(api: httpx.AsyncClient) -> None:
    document = (await api.get("/openapi.json")).json()
    read = document["paths"]["/api/connections/{connection_id}"]["get"]["responses"]
    create = document["paths"]["/api/topics"]["post"]["responses"]
    problem = {"$ref": "#/components/schemas/Problem"}
    assert read["404"]["content"] == {"application/problem+json": {"schema": problem}}
    assert {"400", "401", "409", "413", "422"} <= set(create)
    assert create["422"]["content"] == {"application/problem+json": {"schema": problem}}
    assert "HTTPValidationError" not in document["components"]["schemas"]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/api/connections", b"not json"),
        ("/api/topics", b'{"name": "Cars",'),
        ("/api/output-templates", b'{"key": "\xc3\x28"}'),
    ],
    ids=["not-json", "cut-short", "not-utf8"],
)
async def test_a_body_that_is_not_json_is_a_400_naming_the_body(
    api: httpx.AsyncClient, path: str, body: bytes
) -> None:
    response = await api.post(path, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert problem["title"] == "Malformed JSON"
    assert [error["field"] for error in problem["errors"]] == ["body"]
    assert problem["errors"][0]["message"]
    # The document declares what is answered: a 400 problem for a body that does not parse.
    declared = (await api.get("/openapi.json")).json()["paths"][path]["post"]["responses"]
    assert declared["400"]["content"] == {
        "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
    }


async def test_every_problem_carries_errors_even_when_no_field_is_at_fault(api: httpx.AsyncClient) -> None:
    missing = await api.get("/api/connections/00000000-0000-0000-0000-000000000000")
    assert missing.status_code == 404
    assert missing.json()["errors"] == []
    schema = (await api.get("/openapi.json")).json()["components"]["schemas"]["Problem"]
    assert "errors" in schema["required"]
