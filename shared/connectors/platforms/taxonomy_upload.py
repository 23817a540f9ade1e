"""Delivering a taxonomy file to a file-based platform: the port, and its SFTP adapter."""

from __future__ import annotations

import contextlib
import posixpath
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field

import asyncssh

from shared.connectors.deps import UrlGuard
from shared.connectors.errors import ErrorClass, PlatformError
from shared.connectors.failures import scrub, trim


# repr=False: the default object repr, so the password never shows in a log line.
@dataclass(kw_only=True, eq=False, repr=False)
class SftpTaxonomyUploader:
    """Uploads over SFTP with a password login; one SSH connection per file."""

    host: str
    port: int
    username: str
    password: str
    remote_dir: str
    host_key: str | None
    timeout_s: float
    url_guard: UrlGuard | None = None
    _known_hosts: asyncssh.SSHKnownHosts | None = field(init=False)

    def __post_init__(self) -> None:
        # Pinned key when configured; otherwise the server's key is not verified (see docs/platform-wire.md).
        self._known_hosts = asyncssh.import_known_hosts(f"* {self.host_key}\n") if self.host_key else None

    async def upload(self, file_name: str, content: bytes) -> None:
        """Write the file into `remote_dir`."""
        path = posixpath.join(self.remote_dir, file_name)
        hosts = await self._vetted_hosts()
        try:
            async with (
                self._connection(hosts) as conn,
                conn.start_sftp_client() as sftp,
                sftp.open(path, "wb") as remote_file,
            ):
                await remote_file.write(content)
        except (asyncssh.Error, OSError) as exc:
            raise self._error(exc) from None

    async def check(self) -> None:
        """Log in and stat `remote_dir`."""
        hosts = await self._vetted_hosts()
        try:
            async with self._connection(hosts) as conn, conn.start_sftp_client() as sftp:
                await sftp.stat(self.remote_dir)
        except (asyncssh.Error, OSError) as exc:
            raise self._error(exc) from None

    async def _vetted_hosts(self) -> Sequence[str]:
        """Where to connect: the addresses the egress guard vetted (so the name is not resolved again)."""
        if self.url_guard is None:
            return [self.host]
        try:
            addresses = await self.url_guard(f"sftp://{self.host}:{self.port}")
        except Exception as exc:
            raise PlatformError(ErrorClass.PERMANENT, f"egress refused: {exc}") from None
        return list(addresses) if addresses else [self.host]

    @contextlib.asynccontextmanager
    async def _connection(self, hosts: Sequence[str]) -> AsyncIterator[asyncssh.SSHClientConnection]:
        """An SSH connection to the first of `hosts` that answers (a pinned host key matches any of them)."""
        failure: OSError | None = None
        for host in hosts:
            try:
                conn = await self._connect(host)
            except OSError as exc:
                failure = exc
                continue
            async with conn:
                yield conn
            return
        assert failure is not None
        raise failure

    async def _connect(self, host: str) -> asyncssh.SSHClientConnection:
        return await asyncssh.connect(
            host,
            port=self.port,
            username=self.username,
            password=self.password,
            known_hosts=self._known_hosts,
            client_keys=None,
            agent_path=None,
            connect_timeout=self.timeout_s,
            login_timeout=self.timeout_s,
        )

    def _error(self, exc: BaseException) -> PlatformError:
        message = trim(scrub(f"sftp: {type(exc).__name__}: {exc}", [self.password]))
        if isinstance(exc, asyncssh.PermissionDenied):
            return PlatformError(ErrorClass.AUTH, message)
        # FX_FAILURE is SFTP's unspecific "something went wrong": worth another try, like a 5xx.
        if isinstance(exc, asyncssh.SFTPConnectionLost | asyncssh.SFTPNoConnection | asyncssh.SFTPFailure):
            return PlatformError(ErrorClass.RETRYABLE, message)
        if isinstance(exc, asyncssh.HostKeyNotVerifiable | asyncssh.SFTPError):
            # The server refused the file (bad content, size) or the path: resending will not help.
            return PlatformError(ErrorClass.PERMANENT, message)
        return PlatformError(ErrorClass.RETRYABLE, message)
