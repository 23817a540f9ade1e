"""The SFTP adapter against a real asyncssh server on loopback, serving a temporary directory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import asyncssh
import pytest

from shared.connectors import ErrorClass, PlatformError
from shared.connectors.deps import UrlGuard
from shared.connectors.platforms.taxonomy_upload import SftpTaxonomyUploader

PASSWORD = "sftp-password-123"


class PasswordServer(asyncssh.SSHServer):
    def begin_auth(self, username: str) -> bool:
        return bool(username)  # every user must authenticate

    def password_auth_supported(self) -> bool:
        return True

    def validate_password(self, username: str, password: str) -> bool:
        return username == "acme" and password == PASSWORD


@dataclass
class SftpDrop:
    port: int
    root: Path
    host_key: str


@pytest.fixture
async def sftp_drop(tmp_path: Path) -> AsyncIterator[SftpDrop]:
    (tmp_path / "incoming").mkdir()
    key = asyncssh.generate_private_key("ssh-ed25519")
    server = await asyncssh.listen(
        "127.0.0.1",
        0,
        server_factory=PasswordServer,
        server_host_keys=[key],
        sftp_factory=lambda chan: asyncssh.SFTPServer(chan, chroot=str(tmp_path).encode()),
    )
    port = server.sockets[0].getsockname()[1]
    yield SftpDrop(port, tmp_path, key.export_public_key().decode().strip())
    server.close()
    await server.wait_closed()


def uploader(
    drop: SftpDrop,
    *,
    password: str = PASSWORD,
    host_key: str | None = None,
    remote_dir: str = "/incoming",
    host: str = "127.0.0.1",
    url_guard: UrlGuard | None = None,
) -> SftpTaxonomyUploader:
    return SftpTaxonomyUploader(
        host=host,
        port=drop.port,
        username="acme",
        password=password,
        remote_dir=remote_dir,
        host_key=host_key,
        timeout_s=10,
        url_guard=url_guard,
    )


async def test_upload_writes_the_file_into_the_remote_dir(sftp_drop: SftpDrop) -> None:
    await uploader(sftp_drop).upload("taxonomy-1.json", b'{"version": "2.0"}')
    assert (sftp_drop.root / "incoming" / "taxonomy-1.json").read_bytes() == b'{"version": "2.0"}'


async def test_pinned_host_key_is_accepted(sftp_drop: SftpDrop) -> None:
    await uploader(sftp_drop, host_key=sftp_drop.host_key).check()


async def test_a_different_host_key_is_refused_as_permanent(sftp_drop: SftpDrop) -> None:
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().strip()
    with pytest.raises(PlatformError) as caught:
        await uploader(sftp_drop, host_key=other).upload("x.json", b"{}")
    assert caught.value.error_class is ErrorClass.PERMANENT
    assert not (sftp_drop.root / "incoming" / "x.json").exists()


async def test_wrong_password_is_an_auth_error_without_the_password(sftp_drop: SftpDrop) -> None:
    with pytest.raises(PlatformError) as caught:
        await uploader(sftp_drop, password="wrong-password-456").upload("x.json", b"{}")
    assert caught.value.error_class is ErrorClass.AUTH
    assert "wrong-password-456" not in caught.value.message


async def test_missing_remote_dir_fails_the_check_permanently(sftp_drop: SftpDrop) -> None:
    with pytest.raises(PlatformError) as caught:
        await uploader(sftp_drop, remote_dir="/nope").check()
    assert caught.value.error_class is ErrorClass.PERMANENT


async def test_unreachable_server_is_retryable(sftp_drop: SftpDrop) -> None:
    closed = SftpDrop(port=1, root=sftp_drop.root, host_key=sftp_drop.host_key)
    with pytest.raises(PlatformError) as caught:
        await uploader(closed).upload("x.json", b"{}")
    assert caught.value.error_class is ErrorClass.RETRYABLE


async def test_egress_guard_can_refuse_the_sftp_host(sftp_drop: SftpDrop) -> None:
    asked: list[str] = []

    async def guard(url: str) -> None:
        asked.append(url)
        raise ValueError("loopback refused")

    refused = uploader(sftp_drop, url_guard=guard)
    with pytest.raises(PlatformError) as caught:
        await refused.upload("x.json", b"{}")
    assert caught.value.error_class is ErrorClass.PERMANENT
    assert asked == [f"sftp://127.0.0.1:{sftp_drop.port}"]
    assert not (sftp_drop.root / "incoming" / "x.json").exists()


async def test_the_upload_goes_to_the_address_the_egress_guard_vetted(sftp_drop: SftpDrop) -> None:
    """The name is resolved once, by the guard: a second lookup (DNS rebinding) cannot redirect the upload."""
    asked: list[str] = []

    async def guard(url: str) -> list[str]:
        asked.append(url)
        return ["127.0.0.1"]  # what the policy resolved and allowed

    # .invalid never resolves: only the vetted address can be reached; the pinned key still verifies it.
    pinned = uploader(sftp_drop, host="sftp.drop.invalid", host_key=sftp_drop.host_key, url_guard=guard)
    await pinned.upload("pinned.json", b'{"ok": true}')
    assert asked == [f"sftp://sftp.drop.invalid:{sftp_drop.port}"]
    assert (sftp_drop.root / "incoming" / "pinned.json").read_bytes() == b'{"ok": true}'


async def test_a_vetted_address_that_refuses_falls_back_to_the_next(sftp_drop: SftpDrop) -> None:
    async def guard(_url: str) -> list[str]:
        return ["127.0.0.2", "127.0.0.1"]  # the server listens on 127.0.0.1 only

    pinned = uploader(sftp_drop, host="sftp.drop.invalid", url_guard=guard)
    await pinned.check()
    await pinned.upload("second.json", b"{}")
    assert (sftp_drop.root / "incoming" / "second.json").exists()
