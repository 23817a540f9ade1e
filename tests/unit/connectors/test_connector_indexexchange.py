"""Index Exchange client: taxonomy files within the platform's limits, records as its read API."""

from __future__ import annotations

import re

import pytest

from shared.connectors import (
    ConnectorDeps,
    CreateSegmentParams,
    ErrorClass,
    HttpSettings,
    PlatformClient,
    PlatformError,
    PlatformSegment,
    UpdateSegmentParams,
    create_platform_client,
)
from tests.unit.connectors.connector_fakes import FakeSleep, FakeTaxonomyDrop

CONFIG = {
    "sftp_host": "127.0.0.1",
    "sftp_port": 8022,
    "remote_dir": "/in",
    "default_cpm": 0.5,
    "currency": "USD",
}
PARAMS = CreateSegmentParams(
    name="Pets", description="Dog owners", cpm=1.25, currency="GBP", external_key="t-1"
)


async def recorded(platform_segment_id: str) -> PlatformSegment | None:
    if platform_segment_id == "t-1":
        return PlatformSegment(id="t-1", name="Pets", status="active")
    return None


def client_for(drop: FakeTaxonomyDrop, sleep: FakeSleep, *, with_records: bool = True) -> PlatformClient:
    deps = ConnectorDeps(sleep=sleep, taxonomy_uploader=drop)
    if with_records:
        deps = ConnectorDeps(sleep=sleep, taxonomy_uploader=drop, segment_lookup=recorded)
    return create_platform_client(
        "indexexchange",
        "header",
        {"username": "acme", "password": "pw"},
        CONFIG,
        settings=HttpSettings(),
        deps=deps,
    )


async def test_create_uploads_a_version_2_taxonomy_file(fake_sleep: FakeSleep) -> None:
    drop = FakeTaxonomyDrop()
    assert await client_for(drop, fake_sleep).create_segment(PARAMS) == "t-1"
    [(file_name, taxonomy)] = drop.files.items()
    assert re.fullmatch(r"taxonomy-\d{8}T\d{12}Z-1\.json", file_name)
    assert taxonomy == {
        "version": "2.0",
        "segments": [
            {
                "externalSegmentID": "t-1",
                "externalSegmentName": "Pets",
                "description": "Dog owners",
                "cpm": 1.25,
                "currency": "GBP",
                "status": "active",
            }
        ],
    }


async def test_each_upload_gets_its_own_file_name(fake_sleep: FakeSleep) -> None:
    drop = FakeTaxonomyDrop()
    client = client_for(drop, fake_sleep)
    await client.create_segment(PARAMS)
    await client.update_segment("t-1", UpdateSegmentParams(name="Pets", description="Cat owners"))
    assert len(drop.files) == 2
    assert drop.segments()["t-1"]["description"] == "Cat owners"
    assert drop.segments()["t-1"]["cpm"] == 0.5  # no CPM given: the connection's default


async def test_deactivate_names_the_segment_from_activator_records(fake_sleep: FakeSleep) -> None:
    drop = FakeTaxonomyDrop()
    await client_for(drop, fake_sleep).deactivate_segment("t-1")
    assert drop.segments()["t-1"]["status"] == "inactive"
    assert drop.segments()["t-1"]["externalSegmentName"] == "Pets"


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        (PARAMS.model_copy(update={"name": "n" * 256}), "externalSegmentName has 256 characters"),
        (PARAMS.model_copy(update={"external_key": "k" * 256}), "externalSegmentID has 256 characters"),
        (PARAMS.model_copy(update={"name": "  "}), "externalSegmentName is empty"),
        (PARAMS.model_copy(update={"description": "d" * 31_000}), "exceeds 30000 bytes"),
    ],
)
async def test_segments_beyond_platform_limits_fail_before_any_upload(
    fake_sleep: FakeSleep, params: CreateSegmentParams, reason: str
) -> None:
    drop = FakeTaxonomyDrop()
    with pytest.raises(PlatformError) as caught:
        await client_for(drop, fake_sleep).create_segment(params)
    assert caught.value.error_class is ErrorClass.PERMANENT
    assert reason in caught.value.message
    assert drop.attempts == 0


async def test_names_of_exactly_255_characters_are_accepted(fake_sleep: FakeSleep) -> None:
    drop = FakeTaxonomyDrop()
    await client_for(drop, fake_sleep).create_segment(PARAMS.model_copy(update={"name": "n" * 255}))
    assert len(drop.files) == 1


async def test_dropped_connection_is_retried_with_backoff(fake_sleep: FakeSleep) -> None:
    drop = FakeTaxonomyDrop()
    drop.failures = [PlatformError(ErrorClass.RETRYABLE, "sftp: ConnectionLost")] * 2
    await client_for(drop, fake_sleep).create_segment(PARAMS)
    assert drop.attempts == 3
    assert fake_sleep.calls == [1.0, 2.0]
    assert "t-1" in drop.segments()


async def test_rejected_file_is_not_retried(fake_sleep: FakeSleep) -> None:
    drop = FakeTaxonomyDrop(reject_names={"Pets"})
    with pytest.raises(PlatformError) as caught:
        await client_for(drop, fake_sleep).create_segment(PARAMS)
    assert caught.value.error_class is ErrorClass.PERMANENT
    assert drop.attempts == 1


async def test_get_segment_answers_from_the_injected_records(fake_sleep: FakeSleep) -> None:
    drop = FakeTaxonomyDrop()
    assert await client_for(drop, fake_sleep).get_segment("t-1") == PlatformSegment(
        id="t-1", name="Pets", status="active"
    )
    assert await client_for(drop, fake_sleep).get_segment("t-2") is None
    assert await client_for(drop, fake_sleep, with_records=False).get_segment("t-1") is None


async def test_connection_test_reports_a_login_failure(fake_sleep: FakeSleep) -> None:
    drop = FakeTaxonomyDrop()
    assert (await client_for(drop, fake_sleep).test_connection()).success is True
    drop.failures = [PlatformError(ErrorClass.AUTH, "sftp: PermissionDenied: Permission denied")]
    result = await client_for(drop, fake_sleep).test_connection()
    assert result.success is False
    assert result.error == "sftp: PermissionDenied: Permission denied"
    assert drop.files == {}
