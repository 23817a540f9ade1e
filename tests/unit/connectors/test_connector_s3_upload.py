"""Index Exchange's S3 delivery against moto's S3 server on loopback, with IAM keys enforced."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
import pytest
from moto.core.authorization import enable_iam_authentication
from moto.server import ThreadedMotoServer

from shared.connectors import (
    ConnectorConfigError,
    ConnectorDeps,
    CreateOperation,
    CreateSegmentParams,
    ErrorClass,
    HttpSettings,
    PlatformClient,
    PlatformError,
    apply_batch,
    create_platform_client,
)
from shared.connectors.platforms.indexexchange import MAX_FILE_BYTES
from shared.connectors.platforms.taxonomy_s3 import S3TaxonomyUploader
from tests.unit.connectors.connector_fakes import FakeSleep

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

BUCKET = "ix-taxonomy"
REGION = "us-east-1"
WRONG_SECRET = "wrong-secret-key-456"
ALLOW_S3 = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}


@dataclass(frozen=True)
class S3Drop:
    endpoint_url: str
    access_key_id: str
    secret_access_key: str
    admin: S3Client

    def objects(self, prefix: str = "") -> dict[str, bytes]:
        listed = self.admin.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])
        return {
            item["Key"]: self.admin.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
            for item in listed
        }


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3Drop]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint_url = f"http://{host}:{port}"
    # Set up before IAM is enforced: moto lets any key in until then.
    iam = boto3.client(
        "iam",
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id="setup",
        aws_secret_access_key="setup",
    )
    iam.create_user(UserName="ix")
    iam.put_user_policy(UserName="ix", PolicyName="s3", PolicyDocument=json.dumps(ALLOW_S3))
    key = iam.create_access_key(UserName="ix")["AccessKey"]
    boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id="setup",
        aws_secret_access_key="setup",
    ).create_bucket(Bucket=BUCKET)
    admin = boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=REGION,
        aws_access_key_id=key["AccessKeyId"],
        aws_secret_access_key=key["SecretAccessKey"],
    )
    with enable_iam_authentication():
        yield S3Drop(endpoint_url, key["AccessKeyId"], key["SecretAccessKey"], admin)
    server.stop()


@pytest.fixture
def s3_drop(s3_server: S3Drop) -> Iterator[S3Drop]:
    yield s3_server
    for key in s3_server.objects():
        s3_server.admin.delete_object(Bucket=BUCKET, Key=key)


def uploader(
    drop: S3Drop,
    *,
    bucket: str = BUCKET,
    secret: str | None = None,
    access_key_id: str | None = None,
    endpoint_url: str | None = None,
) -> S3TaxonomyUploader:
    return S3TaxonomyUploader(
        bucket=bucket,
        prefix="ix/in",
        region=REGION,
        endpoint_url=endpoint_url or drop.endpoint_url,
        access_key_id=access_key_id or drop.access_key_id,
        secret_access_key=secret or drop.secret_access_key,
        timeout_s=5,
    )


async def test_upload_puts_one_object_under_the_prefix(s3_drop: S3Drop) -> None:
    await uploader(s3_drop).upload("taxonomy-1.json", b'{"version": "2.0"}')
    assert s3_drop.objects() == {"ix/in/taxonomy-1.json": b'{"version": "2.0"}'}


async def test_check_passes_with_good_keys_and_writes_nothing(s3_drop: S3Drop) -> None:
    await uploader(s3_drop).check()
    assert s3_drop.objects() == {}


async def test_wrong_secret_is_an_auth_error_without_the_secret(s3_drop: S3Drop) -> None:
    with pytest.raises(PlatformError) as caught:
        await uploader(s3_drop, secret=WRONG_SECRET).upload("x.json", b"{}")
    assert caught.value.error_class is ErrorClass.AUTH
    assert "SignatureDoesNotMatch" in caught.value.message
    assert WRONG_SECRET not in caught.value.message
    assert s3_drop.objects() == {}


async def test_unknown_access_key_is_an_auth_error(s3_drop: S3Drop) -> None:
    with pytest.raises(PlatformError) as caught:
        await uploader(s3_drop, access_key_id="AKIAUNKNOWN0000000").check()
    assert caught.value.error_class is ErrorClass.AUTH
    assert "AKIAUNKNOWN0000000" not in caught.value.message


@pytest.mark.parametrize("operation", ["upload", "check"])
async def test_missing_bucket_is_permanent(s3_drop: S3Drop, operation: str) -> None:
    missing = uploader(s3_drop, bucket="no-such-bucket")
    with pytest.raises(PlatformError) as caught:
        await (missing.upload("x.json", b"{}") if operation == "upload" else missing.check())
    assert caught.value.error_class is ErrorClass.PERMANENT
    assert caught.value.status_code == 404


async def test_slow_down_is_retryable(s3_drop: S3Drop) -> None:
    body = b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"

    async def slow_down(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        head = f"HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\nContent-Length: {len(body)}\r\n"
        writer.write(head.encode() + b"Connection: close\r\n\r\n" + body)
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(slow_down, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        with pytest.raises(PlatformError) as caught:
            await uploader(s3_drop, endpoint_url=f"http://127.0.0.1:{port}").upload("x.json", b"{}")
    finally:
        server.close()
        await server.wait_closed()
    assert caught.value.error_class is ErrorClass.RETRYABLE
    assert "SlowDown" in caught.value.message


async def test_unreachable_endpoint_is_retryable(s3_drop: S3Drop) -> None:
    with pytest.raises(PlatformError) as caught:
        await uploader(s3_drop, endpoint_url="http://127.0.0.1:1").upload("x.json", b"{}")
    assert caught.value.error_class is ErrorClass.RETRYABLE


async def test_egress_guard_sees_the_endpoint_origin_and_can_refuse_it(s3_drop: S3Drop) -> None:
    asked: list[str] = []

    async def guard(url: str) -> None:
        asked.append(url)
        raise ValueError("loopback refused")

    refused = S3TaxonomyUploader(
        bucket=BUCKET,
        prefix="",
        region=REGION,
        endpoint_url=s3_drop.endpoint_url,
        access_key_id=s3_drop.access_key_id,
        secret_access_key=s3_drop.secret_access_key,
        timeout_s=5,
        url_guard=guard,
    )
    with pytest.raises(PlatformError) as caught:
        await refused.upload("x.json", b"{}")
    assert caught.value.error_class is ErrorClass.PERMANENT
    assert asked == [s3_drop.endpoint_url]
    assert s3_drop.objects() == {}


def s3_config(drop: S3Drop, **overrides: Any) -> dict[str, Any]:
    return {
        "delivery": "s3",
        "s3_bucket": BUCKET,
        "s3_region": REGION,
        "s3_prefix": "/taxonomy/",
        "s3_endpoint_url": drop.endpoint_url,
        "default_cpm": 1,
        "currency": "USD",
        **overrides,
    }


@pytest.fixture
async def s3_client(s3_drop: S3Drop, fake_sleep: FakeSleep) -> AsyncIterator[PlatformClient]:
    client = create_platform_client(
        "indexexchange",
        "header",
        {"access_key_id": s3_drop.access_key_id, "secret_access_key": s3_drop.secret_access_key},
        s3_config(s3_drop),
        settings=HttpSettings(),
        deps=ConnectorDeps(sleep=fake_sleep),
    )
    yield client
    await client.aclose()


async def test_a_batch_too_big_for_one_file_lands_as_several_objects(
    s3_drop: S3Drop, s3_client: PlatformClient
) -> None:
    assert (await s3_client.test_connection()).success
    operations = [
        CreateOperation(
            CreateSegmentParams(
                name=f"Segment {n}", description="d" * 2_000, cpm=1.0, currency="USD", external_key=f"k{n}"
            )
        )
        for n in range(25)
    ]
    outcomes = await apply_batch(s3_client, operations, concurrency=5)
    assert [outcome.platform_segment_id for outcome in outcomes] == [f"k{n}" for n in range(25)]
    objects = s3_drop.objects()
    assert len(objects) >= 2
    assert all(re.fullmatch(r"taxonomy/taxonomy-\d{8}T\d{12}Z-\d+\.json", key) for key in objects)
    assert all(len(content) <= MAX_FILE_BYTES for content in objects.values())
    uploaded = [s for content in objects.values() for s in json.loads(content)["segments"]]
    assert sorted(s["externalSegmentID"] for s in uploaded) == sorted(f"k{n}" for n in range(25))


async def test_wrong_keys_fail_every_item_as_auth(s3_drop: S3Drop, fake_sleep: FakeSleep) -> None:
    client = create_platform_client(
        "indexexchange",
        "header",
        {"access_key_id": s3_drop.access_key_id, "secret_access_key": WRONG_SECRET},
        s3_config(s3_drop),
        settings=HttpSettings(),
        deps=ConnectorDeps(sleep=fake_sleep),
    )
    operations = [
        CreateOperation(
            CreateSegmentParams(name=f"N{n}", description="", cpm=1.0, currency="USD", external_key=f"k{n}")
        )
        for n in range(3)
    ]
    outcomes = await apply_batch(client, operations, concurrency=5)
    await client.aclose()
    assert {outcome.error.error_class for outcome in outcomes if outcome.error} == {ErrorClass.AUTH}
    assert all(outcome.error and WRONG_SECRET not in outcome.error.message for outcome in outcomes)
    assert fake_sleep.calls == []  # an auth error is not retried
    assert s3_drop.objects() == {}


@pytest.mark.parametrize(
    ("config", "credentials", "named"),
    [
        (
            {"delivery": "s3", "s3_region": REGION},
            {"access_key_id": "a", "secret_access_key": "s"},
            "config.s3_bucket",
        ),
        (
            {"delivery": "s3", "s3_bucket": BUCKET},
            {"access_key_id": "a", "secret_access_key": "s"},
            "config.s3_region",
        ),
        (
            {"delivery": "s3", "s3_bucket": BUCKET, "s3_region": REGION},
            {"username": "u", "password": "p"},
            "credentials.access_key_id",
        ),
        ({"remote_dir": "/in"}, {"username": "u", "password": "p"}, "config.sftp_host"),
        (
            {"sftp_host": "h", "remote_dir": "/in"},
            {"access_key_id": "a", "secret_access_key": "s"},
            "credentials.username",
        ),
    ],
)
def test_each_delivery_names_what_it_is_missing(
    config: dict[str, Any], credentials: dict[str, str], named: str
) -> None:
    with pytest.raises(ConnectorConfigError) as caught:
        create_platform_client(
            "indexexchange",
            "header",
            credentials,
            {**config, "default_cpm": 1, "currency": "USD"},
            settings=HttpSettings(),
        )
    assert named in [field for field, _ in caught.value.field_errors]
    assert named in str(caught.value)
