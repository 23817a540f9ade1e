"""Platform failures, classified so callers decide retry / record / stop from the class alone."""

from __future__ import annotations

from enum import StrEnum


class ErrorClass(StrEnum):
    RETRYABLE = "retryable"
    PERMANENT = "permanent"
    AUTH = "auth"
    RATE_LIMITED = "rate_limited"
    UNKNOWN = "unknown"


RETRYABLE_CLASSES = frozenset({ErrorClass.RETRYABLE, ErrorClass.RATE_LIMITED})
"""The classes of a failure that may succeed when the same call is made later."""


class PlatformError(Exception):
    """A platform call that failed after the HTTP layer's own retries."""

    def __init__(
        self,
        error_class: ErrorClass,
        message: str,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
        attempts: int = 1,
    ) -> None:
        super().__init__(message)
        self.error_class = error_class
        self.message = message
        self.status_code = status_code
        self.retry_after = retry_after
        # Calls made before giving up: with_retries sets it; 0 for an item never sent.
        self.attempts = attempts

    @property
    def code(self) -> str:
        """Short code stored with a failed run item, e.g. `permanent:400`."""
        return f"{self.error_class}:{self.status_code}" if self.status_code else str(self.error_class)

    @property
    def transient(self) -> bool:
        """True when the same call may succeed later (retryable or rate limited)."""
        return self.error_class in RETRYABLE_CLASSES


class ConnectorConfigError(ValueError):
    """Credentials or config that do not fit the platform; names the field, never its value."""

    def __init__(self, message: str, *, field_errors: tuple[tuple[str, str], ...] = ()) -> None:
        super().__init__(message)
        self.message = message
        # (dotted field, reason) pairs, e.g. ("config.provider_id", "Field required").
        self.field_errors = field_errors


class UnknownPlatformError(ConnectorConfigError):
    """A platform type no connector module is registered for."""
