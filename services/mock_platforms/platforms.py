"""The platforms the mock imitates, their admin names and the URL prefixes they answer under."""

from __future__ import annotations

from enum import StrEnum


class Platform(StrEnum):
    CUSTOM_API = "custom_api"
    TRADEDESK = "tradedesk"
    LIVERAMP = "liveramp"
    INDEXEXCHANGE = "indexexchange"
    DMP = "dmp"


# Admin URLs accept the connection's platform type or the URL prefix.
_ALIASES = {"custom": Platform.CUSTOM_API, "ttd": Platform.TRADEDESK, "ix": Platform.INDEXEXCHANGE}

HTTP_PREFIXES: dict[str, Platform] = {
    "/custom": Platform.CUSTOM_API,
    "/ttd": Platform.TRADEDESK,
    "/liveramp": Platform.LIVERAMP,
    "/dmp": Platform.DMP,
}


class UnknownPlatformError(ValueError):
    """An admin call named a platform the mock does not imitate."""


def parse_platform(name: str) -> Platform:
    """The platform an admin URL names, by type (`tradedesk`) or prefix (`ttd`)."""
    if name in _ALIASES:
        return _ALIASES[name]
    try:
        return Platform(name)
    except ValueError:
        known = ", ".join(p.value for p in Platform)
        raise UnknownPlatformError(f"unknown platform {name!r}; known: {known}") from None


def platform_of_path(path: str) -> Platform | None:
    """The platform whose API a request path belongs to, or None (admin, docs)."""
    head = path.split("/", 2)[1] if path.startswith("/") else ""
    return HTTP_PREFIXES.get("/" + head)
