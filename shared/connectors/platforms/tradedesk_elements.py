"""The Trade Desk's element calls: bodies within TTD's limits, a leaf under its containers, updates that keep an
element's parent, deactivation and the paged query."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from shared.connectors.errors import ErrorClass, PlatformError
from shared.connectors.failures import malformed, trim
from shared.connectors.http import PlatformHttp
from shared.connectors.platforms.tradedesk_auth import LoginRefused
from shared.connectors.platforms.tradedesk_rules import (
    TradeDeskConfig,
    check_element,
    invalid_for_platform,
    is_duplicate_element,
    per_item,
)
from shared.connectors.platforms.tradedesk_tree import Container, ContainerCache, containers_for

ELEMENTS = "/v3/thirdpartydata"
_QUERY_PAGE_SIZE = 100
_MAX_QUERY_PAGES = 50


async def call_tradedesk(http: PlatformHttp, method: str, path: str, body: object = None) -> Any:
    """One TTD call; a failure is the item's (a 403 too), except a login refused by /v3/authentication."""
    try:
        return await http.request_json(method, path, json=body)
    except LoginRefused:
        raise
    except PlatformError as exc:
        raise per_item(exc) from None


class TradeDeskElements:
    """Writes and reads third-party data elements of the connection's provider."""

    def __init__(self, http: PlatformHttp, config: TradeDeskConfig, containers: ContainerCache) -> None:
        self._http = http
        self._config = config
        self._containers = containers

    def body(
        self, element_id: str, name: str, description: str, *, buyable: bool, parent: str
    ) -> dict[str, Any]:
        """An element's body, its fields checked against TTD's limits first (no call for a bad one)."""
        check_element(element_id, name, description)
        return {
            "ProviderId": self._config.provider_id,
            "ProviderElementId": element_id,
            "ParentElementId": parent,
            "DisplayName": name,
            "Buyable": buyable,
            "Description": description,
        }

    def containers_for(self, ancestors: Sequence[str]) -> list[Container]:
        """The containers of a topic's ancestors, outermost first, checked before any call like the leaf."""
        containers = containers_for(self._config.provider_id, self._config.parent, ancestors)
        for container in containers:
            try:
                check_element(container.element_id, container.display_name, "")
            except PlatformError as exc:
                rule = exc.message.removeprefix("invalid for The Trade Desk: ")
                raise invalid_for_platform(f"container {container.path!r}", rule) from None
        return containers

    def parent_of(self, containers: Sequence[Container]) -> str:
        """The parent a leaf hangs under: its innermost container, else the configured parent."""
        return containers[-1].element_id if containers else self._config.parent

    async def create_leaf(self, element: dict[str, Any], containers: list[Container]) -> None:
        """Make the containers a leaf needs, then the leaf (an existing one is brought up to date)."""
        base_url = self._config.api_base_url
        trusted = any(self._containers.known(base_url, c.element_id) for c in containers)
        try:
            await self._ensure_containers(containers)
            await self._write_leaf(element)
        except PlatformError as exc:
            if not trusted or exc.status_code != 400:
                raise
            # Containers trusted from earlier in this process may be gone (a reset platform): a child of
            # one (a container or the leaf) is refused, so make them all again, outermost first.
            self._containers.forget(base_url, [c.element_id for c in containers])
            await self._ensure_containers(containers)
            await self._write_leaf(element)

    async def put(self, element: dict[str, Any]) -> None:
        """Update an element; one made under another parent keeps it (ParentElementId cannot change)."""
        try:
            await call_tradedesk(self._http, "PUT", ELEMENTS, element)
        except PlatformError as exc:
            if exc.status_code != 400:
                raise
            # ParentElementId cannot change: an element made under another parent (before its topic had a
            # path, or since moved) stays where it is, and only its content is brought up to date.
            found = await self.find(str(element["ProviderElementId"]))
            held = found.get("ParentElementId") if found else None
            if not isinstance(held, str) or held == element["ParentElementId"]:
                raise exc from None
            await call_tradedesk(self._http, "PUT", ELEMENTS, {**element, "ParentElementId": held})

    async def deactivate(self, element_id: str) -> None:
        """Make the element unbuyable, keeping its name, description and parent."""
        found = await self.find(element_id)
        if found is None:
            raise PlatformError(ErrorClass.PERMANENT, f"element {element_id!r} not found", status_code=404)
        name, description = str(found.get("DisplayName", "")), str(found.get("Description", ""))
        # The element's own parent: ParentElementId cannot change, whatever the topic's path is now.
        parent = str(found.get("ParentElementId") or self._config.parent)
        body = self.body(element_id, name, description, buyable=False, parent=parent)
        await call_tradedesk(self._http, "PUT", ELEMENTS, body)

    async def find(self, element_id: str) -> dict[str, Any] | None:
        """The element through the paged query; None when the provider has no such element."""
        start = 0
        for _ in range(_MAX_QUERY_PAGES):
            elements, total = await self.query_page(element_id=element_id, start=start, size=_QUERY_PAGE_SIZE)
            for element in elements:
                if element.get("ProviderElementId") == element_id:
                    return element
            start += len(elements)
            if not elements or start >= total:
                return None
        return None

    async def query_page(
        self, *, element_id: str | None, start: int, size: int
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of `POST /v3/thirdpartydata/query`: the elements and the total matching."""
        query: dict[str, Any] = {
            "ProviderId": self._config.provider_id,
            "PageStartIndex": start,
            "PageSize": size,
        }
        if element_id is not None:
            query["ProviderElementId"] = element_id
        body = await call_tradedesk(self._http, "POST", f"{ELEMENTS}/query", query)
        result = body.get("Result") if isinstance(body, dict) else None
        if not isinstance(result, list):
            raise malformed("query answer without a Result list")
        total = body.get("ResultCount", len(result))
        elements = [element for element in result if isinstance(element, dict)]
        return elements, total if isinstance(total, int) else len(result)

    async def _write_leaf(self, element: dict[str, Any]) -> None:
        try:
            await call_tradedesk(self._http, "POST", ELEMENTS, element)
        except PlatformError as exc:
            if not is_duplicate_element(exc):
                raise
            # A redelivered or retried create: the element is ours, so bring it up to date.
            await self.put(element)

    async def _ensure_containers(self, containers: list[Container]) -> bool:
        # Outermost first: TTD needs a parent before its child. True when any came from the cache.
        remembered = False
        for container in containers:
            create = partial(self._create_container, container)
            try:
                remembered |= await self._containers.ensure(
                    self._config.api_base_url, container.element_id, create
                )
            except LoginRefused:
                raise
            except PlatformError as exc:
                raise PlatformError(
                    exc.error_class,
                    trim(f"container {container.path!r}: {exc.message}"),
                    status_code=exc.status_code,
                    retry_after=exc.retry_after,
                    attempts=exc.attempts,
                ) from None
        return remembered

    async def _create_container(self, container: Container) -> None:
        body = self.body(
            container.element_id, container.display_name, "", buyable=False, parent=container.parent_id
        )
        try:
            await call_tradedesk(self._http, "POST", ELEMENTS, body)
        except PlatformError as exc:
            # Made by an earlier process (or another connection of this provider): same id, same place.
            if not is_duplicate_element(exc):
                raise
