"""apply_batch: native batches split to isolate bad items; per-item calls with bounded concurrency."""

from __future__ import annotations

import asyncio

from shared.connectors import (
    ConnectionTestResult,
    ConnectorDeps,
    CreateOperation,
    CreateSegmentParams,
    DeactivateOperation,
    ErrorClass,
    HttpSettings,
    PlatformClient,
    PlatformError,
    PlatformSegment,
    SegmentOperation,
    UpdateOperation,
    UpdateSegmentParams,
    apply_batch,
    create_platform_client,
)
from tests.unit.connectors.connector_fakes import FakeSleep, FakeTaxonomyDrop

IX_CONFIG = {"sftp_host": "h", "remote_dir": "/in", "default_cpm": 1.0, "currency": "USD"}


def create(n: int) -> CreateOperation:
    return CreateOperation(
        CreateSegmentParams(
            name=f"Segment {n}", description="", cpm=1.0, currency="USD", external_key=f"k{n}"
        )
    )


def ix_client(drop: FakeTaxonomyDrop, sleep: FakeSleep) -> PlatformClient:
    return create_platform_client(
        "indexexchange",
        "header",
        {"username": "u", "password": "p"},
        IX_CONFIG,
        settings=HttpSettings(),
        deps=ConnectorDeps(sleep=sleep, taxonomy_uploader=drop),
    )


async def test_native_batch_is_one_file(fake_sleep: FakeSleep) -> None:
    drop = FakeTaxonomyDrop()
    operations = [create(n) for n in range(25)]
    outcomes = await apply_batch(ix_client(drop, fake_sleep), operations, concurrency=5)
    assert [o.platform_segment_id for o in outcomes] == [f"k{n}" for n in range(25)]
    assert all(o.succeeded for o in outcomes)
    assert len(drop.files) == 1
    assert len(drop.segments()) == 25


async def test_one_rejected_segment_does_not_fail_the_other_24(fake_sleep: FakeSleep) -> None:
    drop = FakeTaxonomyDrop(reject_names={"Segment 17"})
    outcomes = await apply_batch(ix_client(drop, fake_sleep), [create(n) for n in range(25)], concurrency=5)
    failed = [o for o in outcomes if not o.succeeded]
    assert [o.operation for o in failed] == [create(17)]
    assert failed[0].error is not None
    assert failed[0].error.error_class is ErrorClass.PERMANENT
    assert set(drop.segments()) == {f"k{n}" for n in range(25) if n != 17}
    # Halving costs a handful of uploads, not one per segment.
    assert drop.attempts <= 11


async def test_locally_invalid_item_is_isolated_without_uploading_it(fake_sleep: FakeSleep) -> None:
    drop = FakeTaxonomyDrop()
    too_long = CreateOperation(create(3).params.model_copy(update={"name": "x" * 300}))
    operations: list[SegmentOperation] = [create(0), create(1), create(2), too_long, create(4)]
    outcomes = await apply_batch(ix_client(drop, fake_sleep), operations, concurrency=5)
    assert [o.succeeded for o in outcomes] == [True, True, True, False, True]
    assert set(drop.segments()) == {"k0", "k1", "k2", "k4"}


async def test_a_batch_wide_auth_failure_is_not_split(fake_sleep: FakeSleep) -> None:
    drop = FakeTaxonomyDrop()
    drop.failures = [PlatformError(ErrorClass.AUTH, "sftp: PermissionDenied")]
    outcomes = await apply_batch(ix_client(drop, fake_sleep), [create(n) for n in range(25)], concurrency=5)
    assert drop.attempts == 1
    assert {o.error.code for o in outcomes if o.error} == {"auth"}
    assert not any(o.succeeded for o in outcomes)


class FakePerItemPlatform:
    """A PlatformClient without batches that records concurrency and rejects one name."""

    def __init__(self, bad_name: str) -> None:
        self.bad_name = bad_name
        self.in_flight = 0
        self.peak = 0
        self.calls: list[str] = []

    async def _call(self, what: str) -> None:
        self.calls.append(what)
        self.in_flight += 1
        self.peak = max(self.peak, self.in_flight)
        await asyncio.sleep(0)
        self.in_flight -= 1

    async def test_connection(self) -> ConnectionTestResult:
        self.calls.append("test")
        # "*auth*": the credentials are refused (the connection test fails too); "*hidden*": one item's 403.
        return ConnectionTestResult(success=self.bad_name != "*auth*")

    async def create_segment(self, params: CreateSegmentParams) -> str:
        await self._call(f"create {params.external_key}")
        if self.bad_name == "*hidden*" and params.external_key in ("k3", "k7"):
            raise PlatformError(ErrorClass.AUTH, "HTTP 403: not visible to this partner", status_code=403)
        if self.bad_name == "*auth*":
            raise PlatformError(ErrorClass.AUTH, "HTTP 401: invalid_token", status_code=401)
        if params.name == self.bad_name:
            raise PlatformError(ErrorClass.PERMANENT, "HTTP 400: name rejected", status_code=400)
        return f"id-{params.external_key}"

    async def update_segment(self, platform_segment_id: str, params: UpdateSegmentParams) -> None:
        await self._call(f"update {platform_segment_id} as {params.name}")

    async def deactivate_segment(self, platform_segment_id: str) -> None:
        await self._call(f"deactivate {platform_segment_id}")
        if platform_segment_id == "crash":
            raise KeyError("bug in a connector")

    async def get_segment(self, platform_segment_id: str) -> PlatformSegment | None:
        self.calls.append(f"get {platform_segment_id}")
        return None

    async def aclose(self) -> None:
        return None


async def test_per_item_platform_gets_bounded_concurrency_and_isolated_failures() -> None:
    platform = FakePerItemPlatform(bad_name="Segment 4")
    outcomes = await apply_batch(platform, [create(n) for n in range(25)], concurrency=3)
    assert platform.peak == 3
    assert len(platform.calls) == 25
    assert [o.platform_segment_id for o in outcomes] == [None if n == 4 else f"id-k{n}" for n in range(25)]
    assert outcomes[4].error is not None
    assert outcomes[4].error.code == "permanent:400"


async def test_mixed_operations_keep_their_order_and_a_crash_costs_one_item() -> None:
    platform = FakePerItemPlatform(bad_name="none")
    operations: list[SegmentOperation] = [
        UpdateOperation("seg-1", UpdateSegmentParams(name="a", description="")),
        DeactivateOperation("crash"),
        DeactivateOperation("seg-2"),
    ]
    outcomes = await apply_batch(platform, operations, concurrency=10)
    assert [o.operation for o in outcomes] == operations
    assert [o.platform_segment_id for o in outcomes] == ["seg-1", None, "seg-2"]
    assert outcomes[1].error is not None
    assert outcomes[1].error.error_class is ErrorClass.UNKNOWN


async def test_empty_batch_does_nothing() -> None:
    platform = FakePerItemPlatform(bad_name="none")
    assert await apply_batch(platform, [], concurrency=5) == []
    assert platform.calls == []


async def test_an_items_403_fails_it_alone_when_the_connection_test_passes() -> None:
    platform = FakePerItemPlatform(bad_name="*hidden*")
    outcomes = await apply_batch(platform, [create(n) for n in range(25)], concurrency=2)
    failed = [o for o in outcomes if o.error is not None]
    assert [o.operation for o in failed] == [create(3), create(7)]
    assert {o.error.code for o in failed if o.error} == {"auth:403"}
    assert sum(1 for call in platform.calls if call.startswith("create")) == 25  # every item was sent
    assert platform.calls.count("test") == 1  # a passed test answers for the next 403 too


async def test_rejected_credentials_stop_the_items_still_waiting() -> None:
    platform = FakePerItemPlatform(bad_name="*auth*")
    outcomes = await apply_batch(platform, [create(n) for n in range(25)], concurrency=2)
    assert [call for call in platform.calls if call != "test"] == ["create k0", "create k1"]
    assert platform.calls.count("test") == 1  # the connection test proved the credentials refused
    assert {o.error.code for o in outcomes if o.error} == {"auth:401"}
    assert len(outcomes) == 25
    # The two refused calls made one attempt each; the 23 items never sent made none.
    assert sorted(o.error.attempts for o in outcomes if o.error) == [0] * 23 + [1, 1]
