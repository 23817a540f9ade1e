"""Offset and cursor paging, with guards against the classic ways a paginated API loops or stops early."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from shared.inbound.checkpoint import SyncCheckpoint
from shared.inbound.config import InboundConfig


class PagingError(Exception):
    """The source pages in a way that cannot end well (a loop, a runaway); the run stops with this reason."""


@dataclass(frozen=True, slots=True)
class FetchedPage:
    """One page as the source sent it."""

    items: list[Any]
    next_cursor: str | None
    content_hash: str
    # False when no cursor was found at the default places and none of them said null: the body did
    # not say this is the last page, so the pager takes it as the end only where that is safe.
    no_cursor_means_end: bool = True


@dataclass(frozen=True, slots=True)
class PagingLimits:
    """How much misbehaviour the pager tolerates before it stops the run."""

    max_empty_pages: int = 5
    recent_cursors: int = 64


def digest(text: str) -> str:
    """A short stable digest (page contents, cursors) for the checkpoint."""
    return hashlib.sha256(text.encode()).hexdigest()[:32]


class Pager:
    """Turns a checkpoint into the next request's paging parameters, and a fetched page into the next checkpoint."""

    def __init__(self, config: InboundConfig, limits: PagingLimits) -> None:
        self._type = config.pagination_type
        self._params = config.pagination_params
        self._limits = limits

    def params(self, checkpoint: SyncCheckpoint) -> dict[str, str]:
        """The paging query parameters of the page after `checkpoint`."""
        params = self._params
        paging: dict[str, str] = {}
        if params.limit_param:
            paging[params.limit_param] = str(params.page_size)
        if self._type == "offset":
            paging[params.offset_param] = str(checkpoint.offset)
        elif checkpoint.cursor is not None:
            paging[params.cursor_param] = checkpoint.cursor
        return paging

    def advance(self, checkpoint: SyncCheckpoint, page: FetchedPage, total: int | None) -> SyncCheckpoint:
        """The checkpoint after `page`, `done` on the last one; PagingError when the source misbehaves."""
        count = len(page.items)
        if count and page.content_hash == checkpoint.last_page_hash:
            raise PagingError(
                f"the page repeats the previous page's content ({count} records): "
                "the source ignores the paging parameters, stopping instead of looping"
            )
        fetched = checkpoint.fetched + count
        if total is not None and fetched > 2 * total + self._params.page_size:
            raise PagingError(
                f"{fetched} records received from a source that reported {total}: stopping a runaway"
            )
        common = {
            "page": checkpoint.page + 1,
            "fetched": fetched,
            "last_page_hash": page.content_hash if count else checkpoint.last_page_hash,
        }
        if self._type == "offset":
            return checkpoint.model_copy(update={**common, **self._offset_step(checkpoint, count, total)})
        return checkpoint.model_copy(update={**common, **self._cursor_step(checkpoint, page, count, total)})

    def _offset_step(self, checkpoint: SyncCheckpoint, count: int, total: int | None) -> dict[str, Any]:
        offset = checkpoint.offset + count
        if count == 0:
            # An empty page ends the listing; if records are missing, completeness says so.
            return {"offset": offset, "done": True}
        if total is not None:
            # A short page before the total is a server that caps page sizes, not the end.
            return {"offset": offset, "done": offset >= total}
        return {"offset": offset, "done": count < self._params.page_size}

    def _cursor_step(
        self, checkpoint: SyncCheckpoint, page: FetchedPage, count: int, total: int | None
    ) -> dict[str, Any]:
        next_cursor = page.next_cursor
        if not next_cursor:
            if not self._ends_without_cursor(checkpoint, page, count, total):
                raise PagingError(
                    f"the first page is full ({count} records) but has no next cursor at any default place "
                    "(next_cursor, nextCursor or cursor, at the top or in meta, pagination or paging): "
                    "set pagination_params.cursor_response_path to where the source puts it"
                )
            return {"cursor": checkpoint.cursor, "done": True}
        seen = next_cursor == checkpoint.cursor or digest(next_cursor) in checkpoint.recent_cursors
        if seen:
            raise PagingError(
                f"the source returned a cursor it had already given ({_short(next_cursor)}): "
                "stopping instead of looping"
            )
        empty_streak = checkpoint.empty_streak + 1 if count == 0 else 0
        if empty_streak >= self._limits.max_empty_pages:
            raise PagingError(f"{empty_streak} empty pages in a row, each with a next cursor: stopping")
        recent = (*checkpoint.recent_cursors, digest(next_cursor))[-self._limits.recent_cursors :]
        return {"cursor": next_cursor, "done": False, "empty_streak": empty_streak, "recent_cursors": recent}

    def _ends_without_cursor(
        self, checkpoint: SyncCheckpoint, page: FetchedPage, count: int, total: int | None
    ) -> bool:
        """Whether a page without a next cursor may be taken as the last one."""
        if page.no_cursor_means_end or count == 0:
            return True
        # Past the first page a cursor was found before: the source leaves it out on its last page.
        if checkpoint.cursor is not None:
            return True
        if total is not None and checkpoint.fetched + count >= total:
            return True
        # A page shorter than the page size asked for is the end; without a limit_param the source
        # chooses its page size, so a short page says nothing.
        return self._params.limit_param is not None and count < self._params.page_size


def _short(cursor: str) -> str:
    return repr(cursor if len(cursor) <= 40 else cursor[:39] + "…")
