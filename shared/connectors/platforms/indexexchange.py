"""Index Exchange: segments delivered as taxonomy JSON files over SFTP, one file per batch."""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import asyncssh
from pydantic import Field, field_validator

from shared.connectors.batch import (
    CreateOperation,
    DeactivateOperation,
    SegmentOperation,
    UpdateOperation,
)
from shared.connectors.credentials import SftpPasswordCredentials
from shared.connectors.deps import ConnectorDeps, SegmentLookup
from shared.connectors.errors import ErrorClass, PlatformError
from shared.connectors.http import HttpSettings
from shared.connectors.outbound_config import OutboundConfig
from shared.connectors.platform_entry import PlatformEntry, ValidatedConnection
from shared.connectors.platforms.taxonomy_upload import SftpTaxonomyUploader, TaxonomyUploader
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


class IndexExchangeConfig(OutboundConfig):
    """Config of an `indexexchange` connection."""

    sftp_host: str = Field(min_length=1)
    sftp_port: int = Field(default=22, ge=1, le=65535)
    remote_dir: str = Field(min_length=1)
    # OpenSSH public key of the server ("ssh-ed25519 AAAA..."); without it the host key is not verified.
    host_key: str | None = None

    @field_validator("host_key")
    @classmethod
    def _openssh_public_key(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                asyncssh.import_public_key(value)
            except (asyncssh.KeyImportError, ValueError):
                raise ValueError("must be an OpenSSH public key line") from None
        return value


class IndexExchangeClient:
    """PlatformClient and BatchPlatformClient for Index Exchange's taxonomy-file drop."""

    def __init__(
        self,
        uploader: TaxonomyUploader,
        config: IndexExchangeConfig,
        *,
        settings: HttpSettings,
        sleep: Sleep,
        segment_lookup: SegmentLookup,
    ) -> None:
        self._uploader = uploader
        self._config = config
        self._settings = settings
        self._sleep = sleep
        self._lookup = segment_lookup
        self._file_numbers = itertools.count(1)

    async def test_connection(self) -> ConnectionTestResult:
        """Log in over SFTP and look at the drop directory; writes nothing."""
        try:
            await self._uploader.check()
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
        return await self._lookup(platform_segment_id)

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
            await self._uploader.upload(file_name, content)

        await with_retries(
            upload,
            settings=self._settings,
            sleep=self._sleep,
            operation="sftp upload",
            platform="indexexchange",
        )
        return [str(segment["externalSegmentID"]) for segment in segments]

    async def aclose(self) -> None:
        """Nothing held open between uploads."""

    async def _segment(self, operation: SegmentOperation) -> dict[str, Any]:
        match operation:
            case CreateOperation(params=params):
                segment = _file_segment(
                    params.external_key, params.name, params.description, params.cpm, params.currency
                )
            case UpdateOperation(platform_segment_id=segment_id, params=update):
                cpm = self._config.default_cpm if update.cpm is None else update.cpm
                currency = update.currency or self._config.currency
                segment = _file_segment(segment_id, update.name, update.description, cpm, currency)
            case DeactivateOperation(platform_segment_id=segment_id):
                # The file needs a name; Activator's record has it, the id stands in otherwise.
                recorded = await self._lookup(segment_id)
                name = recorded.name if recorded else segment_id
                segment = _file_segment(
                    segment_id, name, "", self._config.default_cpm, self._config.currency, active=False
                )
        return segment

    def _file_name(self) -> str:
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        return f"taxonomy-{stamp}-{next(self._file_numbers)}.json"


def _file_segment(
    segment_id: str, name: str, description: str, cpm: float, currency: str, *, active: bool = True
) -> dict[str, Any]:
    for field, value in (("externalSegmentID", segment_id), ("externalSegmentName", name)):
        if not value.strip():
            raise PlatformError(ErrorClass.PERMANENT, f"{field} is empty")
        if len(value) > MAX_FIELD_CHARS:
            raise PlatformError(
                ErrorClass.PERMANENT, f"{field} has {len(value)} characters, more than {MAX_FIELD_CHARS}"
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
    """An IndexExchangeClient uploading over SFTP unless the caller supplies another uploader."""
    config = connection.config
    credentials: SftpPasswordCredentials = connection.credentials
    uploader = deps.taxonomy_uploader or SftpTaxonomyUploader(
        host=config.sftp_host,
        port=config.sftp_port,
        username=credentials.username,
        password=credentials.password.get_secret_value(),
        remote_dir=config.remote_dir,
        host_key=config.host_key,
        timeout_s=settings.timeout_s,
        url_guard=deps.url_guard,
    )
    return IndexExchangeClient(
        uploader, config, settings=settings, sleep=deps.sleep, segment_lookup=deps.segment_lookup
    )


PLATFORM = PlatformEntry(
    name="indexexchange",
    config_model=IndexExchangeConfig,
    credentials_models={"header": SftpPasswordCredentials},
    build=build_client,
)
