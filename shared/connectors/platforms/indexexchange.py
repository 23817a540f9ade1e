"""Index Exchange: segments delivered as taxonomy JSON files over SFTP or to S3, one file per batch."""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import KW_ONLY, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import asyncssh
from pydantic import BaseModel, Field, ValidationInfo, field_validator

from shared.connectors.batch import (
    CreateOperation,
    DeactivateOperation,
    SegmentOperation,
    UpdateOperation,
)
from shared.connectors.credentials import AuthType, S3AccessKeyCredentials, SftpPasswordCredentials
from shared.connectors.deps import ConnectorDeps, SegmentLookup, TaxonomyUploader
from shared.connectors.errors import ErrorClass, PlatformError
from shared.connectors.http_settings import HttpSettings
from shared.connectors.outbound_config import AbsoluteUrl, OutboundConfig
from shared.connectors.platform_entry import PlatformEntry, ValidatedConnection
from shared.connectors.platforms.taxonomy_s3 import S3TaxonomyUploader
from shared.connectors.platforms.taxonomy_upload import SftpTaxonomyUploader
from shared.connectors.protocol import (
    ConnectionTestResult,
    CreateSegmentParams,
    PlatformSegment,
    UpdateSegmentParams,
)
from shared.connectors.retry import Sleep, with_retries

# The platform's limits; the file limit is kept a little under 30 KiB on purpose.
MAX_FILE_BYTES = 30_000
MAX_FIELD_CHARS = 255

Delivery = Literal["sftp", "s3"]
# Config fields each delivery cannot do without (checked in field order, after `delivery`).
_REQUIRED_BY_DELIVERY: dict[str, Delivery] = {
    "sftp_host": "sftp",
    "remote_dir": "sftp",
    "s3_bucket": "s3",
    "s3_region": "s3",
}


class IndexExchangeConfig(OutboundConfig):
    """Config of an `indexexchange` connection: an SFTP drop (the default) or an S3 bucket."""

    delivery: Delivery = "sftp"
    sftp_host: str | None = Field(default=None, min_length=1, validate_default=True)
    sftp_port: int = Field(default=22, ge=1, le=65535)
    remote_dir: str | None = Field(default=None, min_length=1, validate_default=True)
    # OpenSSH public key of the server ("ssh-ed25519 AAAA..."); without it the host key is not verified.
    host_key: str | None = None
    s3_bucket: str | None = Field(
        default=None, pattern=r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$", validate_default=True
    )
    s3_region: str | None = Field(default=None, min_length=1, validate_default=True)
    # Objects are named `<s3_prefix>/<file name>`; empty puts them at the bucket's root.
    s3_prefix: str = ""
    # For S3-compatible stores (MinIO, Ceph, ...); without it, AWS S3 in `s3_region`.
    s3_endpoint_url: AbsoluteUrl | None = None

    @field_validator("sftp_host", "remote_dir", "s3_bucket", "s3_region")
    @classmethod
    def _required_by_delivery(cls, value: str | None, info: ValidationInfo) -> str | None:
        delivery = _REQUIRED_BY_DELIVERY[str(info.field_name)]
        if value is None and info.data.get("delivery") == delivery:
            raise ValueError(f"required with delivery {delivery!r}")
        return value

    @field_validator("s3_prefix")
    @classmethod
    def _bare_prefix(cls, value: str) -> str:
        return value.strip("/")

    @field_validator("host_key")
    @classmethod
    def _openssh_public_key(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                asyncssh.import_public_key(value)
            except (asyncssh.KeyImportError, ValueError):
                raise ValueError("must be an OpenSSH public key line") from None
        return value


@dataclass(eq=False, repr=False)
class IndexExchangeClient:
    """PlatformClient and BatchPlatformClient for Index Exchange's taxonomy-file drop."""

    uploader: TaxonomyUploader
    config: IndexExchangeConfig
    _: KW_ONLY
    settings: HttpSettings
    sleep: Sleep
    segment_lookup: SegmentLookup
    _file_numbers: itertools.count[int] = field(init=False, default_factory=lambda: itertools.count(1))

    async def test_connection(self) -> ConnectionTestResult:
        """Log in and look at the drop (SFTP directory or S3 bucket); writes nothing."""
        try:
            await self.uploader.check()
        except PlatformError as exc:
            return ConnectionTestResult(success=False, error=exc.message)
        return ConnectionTestResult(success=True)

    async def create_segment(self, params: CreateSegmentParams) -> str:
        """Upload a one-segment file; the platform id is the external key."""
        return (await self.apply_operations([CreateOperation(params)]))[0]

    async def update_segment(self, platform_segment_id: str, params: UpdateSegmentParams) -> None:
        """Upload the segment's new name, description and price."""
        await self.apply_operations([UpdateOperation(platform_segment_id, params)])

    async def deactivate_segment(self, platform_segment_id: str) -> None:
        """Upload the segment with status inactive."""
        await self.apply_operations([DeactivateOperation(platform_segment_id)])

    async def get_segment(self, platform_segment_id: str) -> PlatformSegment | None:
        """Answer from Activator's own records (the platform has no read API)."""
        return await self.segment_lookup(platform_segment_id)

    async def apply_operations(self, operations: Sequence[SegmentOperation]) -> list[str]:
        """Upload one taxonomy file holding every operation; the platform accepts or rejects it whole."""
        segments = [await self._segment(operation) for operation in operations]
        content = taxonomy_file(segments)
        if len(content) > MAX_FILE_BYTES:
            raise PlatformError(
                ErrorClass.PERMANENT, f"taxonomy file of {len(content)} bytes exceeds {MAX_FILE_BYTES} bytes"
            )
        file_name = self._file_name()

        async def upload() -> None:
            await self.uploader.upload(file_name, content)

        await with_retries(
            upload,
            settings=self.settings,
            sleep=self.sleep,
            operation=f"{self.config.delivery} upload",
            platform="indexexchange",
        )
        return [str(segment["externalSegmentID"]) for segment in segments]

    async def aclose(self) -> None:
        """Release the S3 client's connections; SFTP holds nothing open between uploads."""
        if isinstance(self.uploader, S3TaxonomyUploader):
            await self.uploader.aclose()

    async def _segment(self, operation: SegmentOperation) -> dict[str, Any]:
        match operation:
            case CreateOperation(params=params):
                segment = _file_segment(
                    params.external_key, params.name, params.description, params.cpm, params.currency
                )
            case UpdateOperation(platform_segment_id=segment_id, params=update):
                cpm = self.config.default_cpm if update.cpm is None else update.cpm
                currency = update.currency or self.config.currency
                segment = _file_segment(segment_id, update.name, update.description, cpm, currency)
            case DeactivateOperation(platform_segment_id=segment_id):
                # The file needs a name; Activator's record has it, the id stands in otherwise.
                recorded = await self.segment_lookup(segment_id)
                name = recorded.name if recorded else segment_id
                segment = _file_segment(
                    segment_id, name, "", self.config.default_cpm, self.config.currency, active=False
                )
        return segment

    def _file_name(self) -> str:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        return f"taxonomy-{stamp}-{next(self._file_numbers)}.json"


def _file_segment(
    segment_id: str, name: str, description: str, cpm: float, currency: str, *, active: bool = True
) -> dict[str, Any]:
    for key, value in (("externalSegmentID", segment_id), ("externalSegmentName", name)):
        if not value.strip():
            raise PlatformError(ErrorClass.PERMANENT, f"{key} is empty")
        if len(value) > MAX_FIELD_CHARS:
            raise PlatformError(
                ErrorClass.PERMANENT, f"{key} has {len(value)} characters, more than {MAX_FIELD_CHARS}"
            )
    return {
        "externalSegmentID": segment_id,
        "externalSegmentName": name,
        "description": description,
        "cpm": cpm,
        "currency": currency,
        "status": "active" if active else "inactive",
    }


def taxonomy_file(segments: list[dict[str, Any]]) -> bytes:
    """The JSON taxonomy file Index Exchange ingests."""
    return json.dumps({"version": "2.0", "segments": segments}, ensure_ascii=False).encode()


def build_client(
    connection: ValidatedConnection[IndexExchangeConfig], settings: HttpSettings, deps: ConnectorDeps
) -> IndexExchangeClient:
    """An IndexExchangeClient uploading by the configured delivery unless the caller supplies an uploader."""
    uploader = deps.taxonomy_uploader or _uploader(connection, settings, deps)
    return IndexExchangeClient(
        uploader, connection.config, settings=settings, sleep=deps.sleep, segment_lookup=deps.segment_lookup
    )


def _uploader(
    connection: ValidatedConnection[IndexExchangeConfig], settings: HttpSettings, deps: ConnectorDeps
) -> TaxonomyUploader:
    config = connection.config
    if config.delivery == "s3":
        keys: S3AccessKeyCredentials = connection.credentials
        return S3TaxonomyUploader(
            bucket=_configured(config.s3_bucket),
            prefix=config.s3_prefix,
            region=_configured(config.s3_region),
            endpoint_url=config.s3_endpoint_url,
            access_key_id=keys.access_key_id,
            secret_access_key=keys.secret_access_key.get_secret_value(),
            timeout_s=settings.timeout_s,
            url_guard=deps.url_guard,
        )
    login: SftpPasswordCredentials = connection.credentials
    return SftpTaxonomyUploader(
        host=_configured(config.sftp_host),
        port=config.sftp_port,
        username=login.username,
        password=login.password.get_secret_value(),
        remote_dir=_configured(config.remote_dir),
        host_key=config.host_key,
        timeout_s=settings.timeout_s,
        url_guard=deps.url_guard,
    )


def _configured(value: str | None) -> str:
    # The config model makes each delivery's fields required; this only narrows the type.
    if value is None:
        raise AssertionError("a field required by the delivery passed validation empty")
    return value


def _credentials_for(config: IndexExchangeConfig, _auth_type: AuthType) -> type[BaseModel]:
    return S3AccessKeyCredentials if config.delivery == "s3" else SftpPasswordCredentials


PLATFORM = PlatformEntry(
    name="indexexchange",
    config_model=IndexExchangeConfig,
    # `header` carries either login: {username, password} for SFTP, {access_key_id, secret_access_key} for S3.
    credentials_models={"header": SftpPasswordCredentials},
    credentials_for_config=_credentials_for,
    build=build_client,
)
