"""The Index Exchange fake: an SFTP server on its own port whose files live in memory.

Every upload is a taxonomy file, validated when the client closes it (or rejected as soon as a
write takes it past 30 kB); a rejected file fails with permission denied and changes nothing.
Nothing touches the local disk: every SFTP operation that would is answered from memory or refused.
"""

from __future__ import annotations

import asyncio
import posixpath
import stat
from collections.abc import AsyncIterator
from typing import cast

import asyncssh
from asyncssh.constants import (
    ACE4_WRITE_DATA,
    FILEXFER_TYPE_DIRECTORY,
    FILEXFER_TYPE_REGULAR,
    FXF_ACCESS_DISPOSITION,
    FXF_CREATE_NEW,
    FXF_EXCL,
    FXF_WRITE,
)
from typing_extensions import override

from services.mock_platforms.faults import Disruption
from services.mock_platforms.indexexchange_taxonomy import (
    MAX_FILE_BYTES,
    PLATFORM,
    TaxonomyRejectedError,
    accept_taxonomy,
)
from services.mock_platforms.state import IndexExchangeStore, MockState


class _Upload:
    def __init__(self, path: str, *, drop_after_close: bool) -> None:
        self.path = path
        self.buffer = bytearray()
        self.rejected = False
        self.drop_after_close = drop_after_close


class _Download:
    def __init__(self, content: bytes) -> None:
        self.content = content


def _normalize(path: bytes) -> str:
    """An absolute, normalised path; the session's working directory is `/`."""
    return posixpath.normpath("/" + path.decode(errors="replace").lstrip("/"))


def _dir_attrs() -> asyncssh.SFTPAttrs:
    return asyncssh.SFTPAttrs(type=FILEXFER_TYPE_DIRECTORY, permissions=stat.S_IFDIR | 0o755, size=0)


def _file_attrs(size: int) -> asyncssh.SFTPAttrs:
    return asyncssh.SFTPAttrs(type=FILEXFER_TYPE_REGULAR, permissions=stat.S_IFREG | 0o644, size=size)


class InMemorySFTPServer(asyncssh.SFTPServer):
    """One SFTP session over the in-memory file tree of `state.indexexchange`."""

    def __init__(self, chan: asyncssh.SSHServerChannel, state: MockState) -> None:  # type: ignore[type-arg]
        super().__init__(chan)
        self._state = state

    @property
    def _store(self) -> IndexExchangeStore:
        return self._state.indexexchange

    @override
    async def open(self, path: bytes, pflags: int, attrs: asyncssh.SFTPAttrs) -> object:
        name = _normalize(path)
        if not pflags & FXF_WRITE:
            uploaded = self._store.files.get(name)
            if uploaded is None:
                raise asyncssh.SFTPNoSuchFile(f"no such file: {name}")
            return _Download(uploaded.content)
        drop_after_close = await self._upload_faults()
        if posixpath.dirname(name) not in self._store.directories:
            raise asyncssh.SFTPNoSuchFile(f"no such directory: {posixpath.dirname(name)}")
        if name in self._store.directories:
            raise asyncssh.SFTPFileIsADirectory(f"is a directory: {name}")
        if pflags & FXF_EXCL and name in self._store.files:
            raise asyncssh.SFTPFileAlreadyExists(f"file exists: {name}")
        return _Upload(name, drop_after_close=drop_after_close)

    @override
    async def open56(self, path: bytes, desired_access: int, flags: int, attrs: asyncssh.SFTPAttrs) -> object:
        pflags = FXF_WRITE if desired_access & ACE4_WRITE_DATA else 0
        if flags & FXF_ACCESS_DISPOSITION == FXF_CREATE_NEW:
            pflags |= FXF_EXCL
        return await self.open(path, pflags, attrs)

    async def _upload_faults(self) -> bool:
        """Apply the platform's faults to an upload; True means: accept it, then drop the connection."""
        platform = self._state.platforms[PLATFORM]
        platform.stats.requests += 1
        decision = platform.faults.decide()
        if decision is None:
            return False
        if decision.latency_s:
            await asyncio.sleep(decision.latency_s)
        if decision.disruption is None:
            return False
        if decision.disruption is Disruption.DROP_RESPONSE:
            return True
        if decision.disruption is Disruption.DROP_CONNECTION:
            self.connection.abort()
            raise asyncssh.SFTPConnectionLost("connection dropped by an injected fault")
        raise asyncssh.SFTPFailure(f"injected failure (status {decision.status})")

    @override
    def write(self, file_obj: object, offset: int, data: bytes) -> int:
        upload = self._upload(file_obj)
        end = offset + len(data)
        if end > MAX_FILE_BYTES:
            upload.rejected = True
            raise asyncssh.SFTPPermissionDenied(f"taxonomy files are limited to {MAX_FILE_BYTES} bytes")
        if len(upload.buffer) < end:
            upload.buffer.extend(bytes(end - len(upload.buffer)))
        upload.buffer[offset:end] = data
        return len(data)

    @override
    def read(self, file_obj: object, offset: int, size: int) -> bytes:
        if not isinstance(file_obj, _Download):
            raise asyncssh.SFTPPermissionDenied("file not opened for reading")
        return file_obj.content[offset : offset + size]

    @override
    def close(self, file_obj: object) -> None:
        if not isinstance(file_obj, _Upload) or file_obj.rejected:
            return
        try:
            accept_taxonomy(self._state, file_obj.path, bytes(file_obj.buffer))
        except TaxonomyRejectedError as exc:
            raise asyncssh.SFTPPermissionDenied(str(exc)) from None
        if file_obj.drop_after_close:
            self.connection.abort()

    def _upload(self, file_obj: object) -> _Upload:
        if not isinstance(file_obj, _Upload):
            raise asyncssh.SFTPPermissionDenied("file not opened for writing")
        return file_obj

    @override
    def stat(self, path: bytes) -> asyncssh.SFTPAttrs:
        name = _normalize(path)
        if name in self._store.directories:
            return _dir_attrs()
        uploaded = self._store.files.get(name)
        if uploaded is None:
            raise asyncssh.SFTPNoSuchFile(f"no such file: {name}")
        return _file_attrs(len(uploaded.content))

    @override
    def lstat(self, path: bytes) -> asyncssh.SFTPAttrs:
        return self.stat(path)

    @override
    def fstat(self, file_obj: object) -> asyncssh.SFTPAttrs:
        if isinstance(file_obj, _Upload):
            return _file_attrs(len(file_obj.buffer))
        return _file_attrs(len(cast(_Download, file_obj).content))

    @override
    def setstat(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        self.stat(path)

    @override
    def lsetstat(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        self.stat(path)

    @override
    def fsetstat(self, file_obj: object, attrs: asyncssh.SFTPAttrs) -> None:
        return None

    @override
    def fsync(self, file_obj: object) -> None:
        return None

    @override
    async def scandir(self, path: bytes) -> AsyncIterator[asyncssh.SFTPName]:
        name = _normalize(path)
        if name not in self._store.directories:
            raise asyncssh.SFTPNoSuchFile(f"no such directory: {name}")
        yield asyncssh.SFTPName(b".", attrs=_dir_attrs())
        yield asyncssh.SFTPName(b"..", attrs=_dir_attrs())
        for directory in sorted(self._store.directories):
            if directory != name and posixpath.dirname(directory) == name:
                yield asyncssh.SFTPName(posixpath.basename(directory).encode(), attrs=_dir_attrs())
        for file_path, uploaded in sorted(self._store.files.items()):
            if posixpath.dirname(file_path) == name:
                size = len(uploaded.content)
                yield asyncssh.SFTPName(posixpath.basename(file_path).encode(), attrs=_file_attrs(size))

    @override
    def mkdir(self, path: bytes, attrs: asyncssh.SFTPAttrs) -> None:
        name = _normalize(path)
        if name in self._store.directories or name in self._store.files:
            raise asyncssh.SFTPFileAlreadyExists(f"already exists: {name}")
        if posixpath.dirname(name) not in self._store.directories:
            raise asyncssh.SFTPNoSuchFile(f"no such directory: {posixpath.dirname(name)}")
        self._store.directories.add(name)

    @override
    def rmdir(self, path: bytes) -> None:
        name = _normalize(path)
        if name not in self._store.directories or name == "/":
            raise asyncssh.SFTPNoSuchFile(f"no such directory: {name}")
        children = [*self._store.directories, *self._store.files]
        if any(child != name and posixpath.dirname(child) == name for child in children):
            raise asyncssh.SFTPDirNotEmpty(f"directory not empty: {name}")
        self._store.directories.discard(name)

    @override
    def remove(self, path: bytes) -> None:
        if self._store.files.pop(_normalize(path), None) is None:
            raise asyncssh.SFTPNoSuchFile(f"no such file: {_normalize(path)}")

    @override
    def rename(self, oldpath: bytes, newpath: bytes) -> None:
        if _normalize(newpath) in self._store.files:
            raise asyncssh.SFTPFileAlreadyExists(f"file exists: {_normalize(newpath)}")
        self.posix_rename(oldpath, newpath)

    @override
    def posix_rename(self, oldpath: bytes, newpath: bytes) -> None:
        old, new = _normalize(oldpath), _normalize(newpath)
        if old not in self._store.files:
            raise asyncssh.SFTPNoSuchFile(f"no such file: {old}")
        if posixpath.dirname(new) not in self._store.directories:
            raise asyncssh.SFTPNoSuchFile(f"no such directory: {posixpath.dirname(new)}")
        uploaded = self._store.files.pop(old)
        uploaded.path = new
        self._store.files[new] = uploaded

    @override
    def realpath(self, path: bytes) -> bytes:
        return _normalize(path).encode()

    @override
    def readlink(self, path: bytes) -> bytes:
        raise asyncssh.SFTPOpUnsupported("links are not supported")

    @override
    def symlink(self, oldpath: bytes, newpath: bytes) -> None:
        raise asyncssh.SFTPOpUnsupported("links are not supported")

    @override
    def link(self, oldpath: bytes, newpath: bytes) -> None:
        raise asyncssh.SFTPOpUnsupported("links are not supported")

    @override
    def statvfs(self, path: bytes) -> asyncssh.SFTPVFSAttrs:
        raise asyncssh.SFTPOpUnsupported("statvfs is not supported")

    @override
    def fstatvfs(self, file_obj: object) -> asyncssh.SFTPVFSAttrs:
        raise asyncssh.SFTPOpUnsupported("statvfs is not supported")
