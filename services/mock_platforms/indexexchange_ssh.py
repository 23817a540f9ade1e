"""The Index Exchange fake's SSH side: password logins against the registered tenants, and the listener
that hands each session to the in-memory SFTP server (services/mock_platforms/indexexchange_sftp.py)."""

from __future__ import annotations

from typing import cast

import asyncssh
from asyncssh.channel import SSHChannel
from typing_extensions import override

from services.mock_platforms.credentials import find_tenant
from services.mock_platforms.indexexchange_sftp import InMemorySFTPServer
from services.mock_platforms.indexexchange_taxonomy import PLATFORM
from services.mock_platforms.state import MockState


class IndexExchangeSSHServer(asyncssh.SSHServer):
    """Password authentication against the tenants registered for `indexexchange`."""

    def __init__(self, state: MockState) -> None:
        self._state = state

    @override
    def begin_auth(self, username: str) -> bool:
        return True

    @override
    def password_auth_supported(self) -> bool:
        return True

    @override
    def validate_password(self, username: str, password: str) -> bool:
        tenants = self._state.platforms[PLATFORM].tenants
        return find_tenant(tenants, username=username, password=password) is not None


async def start_sftp_server(state: MockState, host: str, port: int) -> asyncssh.SSHAcceptor:
    """Listen for SFTP with a host key made now, in memory; port 0 picks a free port."""
    host_key = asyncssh.generate_private_key("ssh-ed25519")

    def sftp_session(chan: SSHChannel[bytes]) -> asyncssh.SFTPServer:
        return InMemorySFTPServer(cast(asyncssh.SSHServerChannel, chan), state)  # type: ignore[type-arg]

    return await asyncssh.listen(
        host,
        port,
        server_factory=lambda: IndexExchangeSSHServer(state),
        server_host_keys=[host_key],
        sftp_factory=sftp_session,
        allow_scp=False,
    )
