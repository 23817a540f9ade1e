"""The S3 adapter of TaxonomyUploader: one object per taxonomy file under a key prefix."""

from __future__ import annotations

import asyncio
import posixpath
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, ConnectionError, HTTPClientError, ReadTimeoutError

from shared.connectors.deps import UrlGuard
from shared.connectors.errors import ErrorClass, PlatformError
from shared.connectors.failures import scrub, trim

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

# S3's answers to a key it does not know or a signature that does not match: new keys are needed.
_AUTH_CODES = frozenset(
    {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "ExpiredToken", "InvalidToken"}
)
# Throttling and the store's own hiccups: the same request may pass later.
_RETRYABLE_CODES = frozenset({"SlowDown", "RequestTimeout", "InternalError", "ServiceUnavailable"})


# repr=False: the default object repr, so the key pair never shows in a log line.
@dataclass(kw_only=True, eq=False, repr=False)
class S3TaxonomyUploader:
    """Uploads with an access key pair through boto3 (run in a worker thread); one client per uploader."""

    bucket: str
    prefix: str
    region: str
    endpoint_url: str | None
    access_key_id: str
    secret_access_key: str
    timeout_s: float
    url_guard: UrlGuard | None = None
    _client: S3Client | None = field(init=False, default=None)

    @property
    def origin(self) -> str:
        """Where the requests go: the configured endpoint, else the bucket's AWS host."""
        if self.endpoint_url is not None:
            return self.endpoint_url
        return f"https://{self.bucket}.s3.{self.region}.amazonaws.com"

    async def upload(self, file_name: str, content: bytes) -> None:
        """Put the file as `<prefix><file_name>` in the bucket."""
        key = posixpath.join(self.prefix, file_name) if self.prefix else file_name
        client = await self._s3()
        try:
            await asyncio.to_thread(
                client.put_object,
                Bucket=self.bucket,
                Key=key,
                Body=content,
                ContentType="application/json",
            )
        except (BotoCoreError, ClientError) as exc:
            raise self._error("put_object", exc) from None

    async def check(self) -> None:
        """HEAD the bucket: proves the keys and the bucket without writing (needs s3:ListBucket)."""
        client = await self._s3()
        try:
            await asyncio.to_thread(client.head_bucket, Bucket=self.bucket)
        except (BotoCoreError, ClientError) as exc:
            raise self._error("head_bucket", exc) from None

    async def aclose(self) -> None:
        """Release the client's connection pool."""
        if self._client is not None:
            client, self._client = self._client, None
            await asyncio.to_thread(client.close)

    async def _s3(self) -> S3Client:
        await self._check_egress()
        if self._client is None:
            # Building a client reads botocore's service models from disk: keep it off the event loop.
            self._client = await asyncio.to_thread(self._new_client)
        return self._client

    def _new_client(self) -> S3Client:
        # A session of its own: boto3's default session is shared and not thread-safe.
        session = boto3.session.Session()
        return session.client(
            "s3",
            region_name=self.region,
            endpoint_url=self.endpoint_url,
            aws_access_key_id=self.access_key_id,
            aws_secret_access_key=self.secret_access_key,
            config=Config(
                connect_timeout=self.timeout_s,
                read_timeout=self.timeout_s,
                # The client's with_retries owns retrying, with the platform-wide backoff.
                retries={"total_max_attempts": 1, "mode": "standard"},
                # S3-compatible stores are addressed by path; AWS by virtual host, as it prefers.
                s3={"addressing_style": "path" if self.endpoint_url else "auto"},
                # Checksums only where S3 demands them: several S3-compatible stores reject the newer ones.
                request_checksum_calculation="when_required",
                # Only the configured endpoint: no AWS_ENDPOINT_URL from the environment behind the guard.
                ignore_configured_endpoint_urls=True,  # type: ignore[call-arg]  # botocore has it; its stubs not yet
            ),
        )

    async def _check_egress(self) -> None:
        if self.url_guard is None:
            return
        try:
            await self.url_guard(self.origin)
        except Exception as exc:
            raise PlatformError(ErrorClass.PERMANENT, f"egress refused: {exc}") from None

    def _error(self, operation: str, exc: BotoCoreError | ClientError) -> PlatformError:
        secrets = [self.secret_access_key, self.access_key_id]
        if isinstance(exc, ClientError):
            error = exc.response.get("Error", {})
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
            code = error.get("Code", "") or str(status)
            detail = error.get("Message", "") or code
            message = trim(scrub(f"s3 {operation}: HTTP {status} {code}: {detail}", secrets))
            return PlatformError(_client_error_class(code, status), message, status_code=status or None)
        message = trim(scrub(f"s3 {operation}: {type(exc).__name__}: {exc}", secrets))
        if isinstance(exc, ConnectionError | HTTPClientError | ReadTimeoutError):
            return PlatformError(ErrorClass.RETRYABLE, message)
        # Parameter validation and the like: the same request would fail the same way.
        return PlatformError(ErrorClass.PERMANENT, message)


def _client_error_class(code: str, status: int) -> ErrorClass:
    if code in _AUTH_CODES or status in (401, 403):
        return ErrorClass.AUTH
    if code in _RETRYABLE_CODES or status >= 500:
        return ErrorClass.RETRYABLE
    return ErrorClass.PERMANENT
