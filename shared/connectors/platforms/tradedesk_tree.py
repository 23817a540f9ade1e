"""The Trade Desk's element tree: a topic's ancestors become non-buyable containers, made once per process."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from shared.connectors.taxonomy_path import PATH_SEPARATOR, normalized_name

# Ours, like the leaves' `act-` keys: lowercase hex and dashes are safe in any ProviderElementId (≤ 512).
CONTAINER_ID_PREFIX = "act-c-"
# TTD refuses these in a DisplayName; a path segment is a person's category name, so they are replaced.
_NAME_REPLACEMENTS = str.maketrans({"\t": " ", "'": "\u2019", '"': "\u201d", "^": " "})


@dataclass(frozen=True, slots=True)
class Container:
    """A non-buyable element standing for one path prefix."""

    element_id: str
    parent_id: str
    display_name: str
    # "Automotive > Cars", for messages.
    path: str


def container_id(provider_id: str, root: str, prefix: Sequence[str]) -> str:
    """Stable per provider, configured parent and normalized path prefix, so every run finds the same element."""
    key = "\x1f".join([provider_id, root, *prefix])
    return CONTAINER_ID_PREFIX + hashlib.sha256(key.encode()).hexdigest()[:32]


def containers_for(provider_id: str, root: str, ancestors: Sequence[str]) -> list[Container]:
    """The containers above a leaf, outermost first; the last one is the leaf's parent."""
    names = [name for name in (normalized_name(ancestor) for ancestor in ancestors) if name]
    containers: list[Container] = []
    parent = root
    for depth in range(1, len(names) + 1):
        element_id = container_id(provider_id, root, names[:depth])
        display_name = " ".join(names[depth - 1].translate(_NAME_REPLACEMENTS).split())
        path = f" {PATH_SEPARATOR} ".join(names[:depth])
        containers.append(Container(element_id, parent, display_name, path))
        parent = element_id
    return containers


class ContainerCache:
    """Containers known to exist, per TTD base URL; concurrent callers share one creation of a container.

    A failed creation is not remembered: the next leaf needing the container tries again.
    """

    def __init__(self) -> None:
        self._known: set[tuple[str, str]] = set()
        self._creating: dict[tuple[str, str], asyncio.Task[None]] = {}

    async def ensure(self, base_url: str, element_id: str, create: Callable[[], Awaitable[None]]) -> bool:
        """Make sure the container exists; True when it was remembered from earlier and nothing was sent."""
        key = (base_url, element_id)
        if key in self._known:
            return True
        task = self._creating.get(key)
        if task is None or task.get_loop() is not asyncio.get_running_loop():
            task = asyncio.ensure_future(self._create(key, create))
            self._creating[key] = task
        # A caller cancelled (its run stopping) leaves the creation to the others waiting for it.
        await asyncio.shield(task)
        return False

    def known(self, base_url: str, element_id: str) -> bool:
        """Whether the container is trusted to exist (made or found earlier in this process)."""
        return (base_url, element_id) in self._known

    def forget(self, base_url: str, element_ids: Sequence[str]) -> None:
        """Stop trusting these containers (TTD refused a child under them)."""
        self._known.difference_update((base_url, element_id) for element_id in element_ids)

    def clear(self) -> None:
        """Forget every container (tests call this between cases)."""
        self._known.clear()
        self._creating.clear()

    async def _create(self, key: tuple[str, str], create: Callable[[], Awaitable[None]]) -> None:
        try:
            await create()
            self._known.add(key)
        finally:
            if self._creating.get(key) is asyncio.current_task():
                del self._creating[key]


# Module level so every client of a process shares what it learnt, like the token cache.
process_containers = ContainerCache()


def reset_container_cache() -> None:
    """Forget every container this process made or found (tests call this between cases)."""
    process_containers.clear()
