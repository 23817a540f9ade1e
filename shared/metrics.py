"""Prometheus metrics shared by the workers and the connector layer, and the scrape endpoint of a worker."""

from __future__ import annotations

import structlog
from prometheus_client import Counter, Histogram, start_http_server

log = structlog.get_logger(__name__)

ITEMS_PUSHED = Counter(
    "activator_items_pushed_total", "Terminal results of pushed topics", ["platform", "outcome"]
)
PLATFORM_REQUEST_SECONDS = Histogram(
    "activator_platform_request_seconds",
    "Duration of one HTTP exchange with a platform (each attempt)",
    ["platform", "status_class"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
PLATFORM_RETRIES = Counter(
    "activator_platform_retries_total", "Platform calls retried after a transient error", ["platform"]
)
THROTTLED_SECONDS = Counter(
    "activator_platform_throttled_seconds_total",
    "Time requests waited for a connection's rate budget or a Retry-After pause",
    ["platform"],
)
RUN_DURATION_SECONDS = Histogram(
    "activator_run_duration_seconds",
    "From a run's start to its final status",
    ["kind", "status"],
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600),
)
SYNC_RECORDS = Counter("activator_sync_records_total", "Source records classified by sync runs", ["outcome"])


def count_sync_records(**by_outcome: int) -> None:
    """Add a committed page's records to activator_sync_records_total (outcome=inserted, invalid, ...)."""
    for outcome, records in by_outcome.items():
        SYNC_RECORDS.labels(outcome).inc(records)


def serve_worker_metrics(port: int) -> None:
    """Expose this process's metrics on `port` (0: off, the local default where replicas share a host)."""
    if port > 0:
        start_http_server(port, addr="0.0.0.0")  # noqa: S104 - scraped from outside the pod
        log.info("metrics_listening", port=port)
