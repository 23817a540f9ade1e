"""structlog configuration shared by every service: JSON in production, console for humans."""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable

import structlog

_SECRET_KEYS = ("password", "secret", "token", "api_key", "authorization", "credentials")


def _drop_secret_fields(
    _logger: object, _name: str, event_dict: structlog.types.EventDict
) -> structlog.types.EventDict:
    for field in list(event_dict):
        if any(marker in field.lower() for marker in _SECRET_KEYS) and field not in ("event", "api_key_id"):
            event_dict[field] = "[redacted]"
    return event_dict


class RepeatThrottle(logging.Filter):
    """Lets a library's repeated message through once per window, then says how often it recurred.

    While Kafka is down, aiokafka retries its connection in a tight loop and logs every failure:
    thousands of identical lines a second per service, which would bury everything else.
    """

    def __init__(
        self,
        prefixes: tuple[str, ...] = ("aiokafka",),
        window_s: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__()
        self._prefixes = prefixes
        self._window_s = window_s
        self._clock = clock
        self._seen: dict[tuple[str, int, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        """False for a repeat inside the window; the first record after it carries the repeat count."""
        if not record.name.startswith(self._prefixes):
            return True
        key = (record.name, record.levelno, str(record.msg))
        now = self._clock()
        since, repeats = self._seen.get(key, (None, 0))
        if since is not None and now - since < self._window_s:
            self._seen[key] = (since, repeats + 1)
            return False
        self._seen[key] = (now, 0)
        if repeats:
            record.msg = f"{record.msg} (and {repeats} more like it in the last {self._window_s:g} s)"
        return True


def configure_logging(level: str = "INFO", fmt: str = "json") -> None:
    """Route stdlib and structlog output through one renderer on stderr."""
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _drop_secret_fields,
        structlog.processors.format_exc_info,
    ]
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RepeatThrottle())
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "httpx", "httpcore", "asyncssh"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))
