"""The mock platforms as clients meet them: uvicorn on a real socket, SFTP from the app's lifespan."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import asyncssh
import httpx
import pytest

from services.mock_platforms import MockState, build_app
from tests.unit.mock_platforms.mock_platforms_fakes import serve_on_loopback

SEGMENT = {"name": "Auto Intenders", "description": "d", "price": 1.0, "currency": "USD"}


@pytest.fixture
async def mock_url() -> AsyncIterator[str]:
    async with serve_on_loopback(build_app(MockState())) as url:
        yield url


async def test_drop_connection_closes_the_socket_without_a_response(mock_url: str) -> None:
    async with httpx.AsyncClient(base_url=mock_url) as client:
        await client.put("/admin/faults/custom_api", json={"drop_connection": True, "count": 1})
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post("/custom/segments", json=SEGMENT)
        after = await client.post("/custom/segments", json=SEGMENT)
    assert after.status_code == 201


async def test_drop_response_writes_but_the_client_never_hears(mock_url: str) -> None:
    async with httpx.AsyncClient(base_url=mock_url) as client:
        await client.put("/admin/faults/custom_api", json={"drop_response": True, "count": 1})
        with pytest.raises(httpx.RemoteProtocolError):
            await client.post("/custom/segments", json=SEGMENT, headers={"Idempotency-Key": "k1"})
        retried = await client.post("/custom/segments", json=SEGMENT, headers={"Idempotency-Key": "k1"})
        stats = (await client.get("/admin/stats/custom_api")).json()
    assert retried.status_code == 200
    assert stats["segments"] == 1


async def test_429_with_retry_after_over_the_wire(mock_url: str) -> None:
    async with httpx.AsyncClient(base_url=mock_url) as client:
        await client.put("/admin/faults/ttd", json={"status": 429, "retry_after": 1, "count": 1})
        limited = await client.post("/ttd/v3/thirdpartydata/query", json={"ProviderId": "p"})
    assert limited.status_code == 429
    assert limited.headers["retry-after"] == "1"


def taxonomy(*segments: dict[str, object]) -> bytes:
    return json.dumps({"version": "2.0", "segments": list(segments)}).encode()


def ix_segment(n: int, name: str | None = None) -> dict[str, object]:
    return {
        "externalSegmentID": f"topic-{n}",
        "externalSegmentName": name or f"Segment {n}",
        "description": "d",
        "cpm": 1.25,
        "currency": "USD",
        "status": "active",
    }


@pytest.fixture
async def sftp_port() -> AsyncIterator[tuple[int, httpx.AsyncClient]]:
    app = build_app(MockState(), sftp_port=0)
    async with serve_on_loopback(app) as url, httpx.AsyncClient(base_url=url) as admin:
        credentials = {"username": "ix-user", "password": "ix-pass"}
        await admin.post("/admin/tenants", json={"platform": "indexexchange", "credentials": credentials})
        yield app.state.sftp_port, admin


async def test_sftp_accepts_a_taxonomy_and_rejects_an_oversize_one(
    sftp_port: tuple[int, httpx.AsyncClient],
) -> None:
    port, admin = sftp_port
    small = taxonomy(ix_segment(1), ix_segment(2))
    oversize = taxonomy(*(ix_segment(n, "x" * 200) for n in range(200)))
    assert len(oversize) > 30_000

    async with (
        asyncssh.connect("127.0.0.1", port, username="ix-user", password="ix-pass", known_hosts=None) as ssh,
        ssh.start_sftp_client() as sftp,
    ):
        async with sftp.open("/incoming/taxonomy-20240101T000000Z-1.json", "wb") as upload:
            await upload.write(small)
        with pytest.raises(asyncssh.SFTPPermissionDenied):
            async with sftp.open("/incoming/taxonomy-20240101T000000Z-2.json", "wb") as upload:
                await upload.write(oversize)
        listed = sorted(await sftp.listdir("/incoming"))

    stats = (await admin.get("/admin/stats/indexexchange")).json()
    held = (await admin.get("/admin/segments/indexexchange")).json()["segments"]
    assert listed == [".", "..", "taxonomy-20240101T000000Z-1.json"]
    assert (stats["segments"], stats["writes"], stats["requests"]) == (2, 1, 2)
    assert held[0] == ix_segment(1)


async def test_sftp_rejects_a_bad_segment_whole_and_wrong_passwords(
    sftp_port: tuple[int, httpx.AsyncClient],
) -> None:
    port, admin = sftp_port
    bad = taxonomy(ix_segment(1), {"externalSegmentID": "topic-2", "externalSegmentName": ""})

    async with (
        asyncssh.connect("127.0.0.1", port, username="ix-user", password="ix-pass", known_hosts=None) as ssh,
        ssh.start_sftp_client() as sftp,
    ):
        with pytest.raises(asyncssh.SFTPPermissionDenied):
            async with sftp.open("/incoming/bad.json", "wb") as upload:
                await upload.write(bad)
        with pytest.raises(asyncssh.SFTPNoSuchFile):
            await sftp.open("/elsewhere/taxonomy.json", "wb")
    with pytest.raises(asyncssh.PermissionDenied):
        await asyncssh.connect("127.0.0.1", port, username="ix-user", password="nope", known_hosts=None)

    assert (await admin.get("/admin/stats/indexexchange")).json()["segments"] == 0
