"""The one place Activator reads its configuration from the environment."""

from __future__ import annotations

import re
from functools import cached_property
from ipaddress import IPv4Network, IPv6Network, ip_network
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shared.connectors.http_settings import HttpSettings

MIN_ENCRYPTION_KEY_LENGTH = 16
# Lower-cased, letters and digits only: what sample configs and docs put where a key belongs.
_PLACEHOLDER_MARKERS = ("changeme", "changethis", "replaceme", "placeholder", "yourkey", "example", "xxxx")


class ConfigurationError(RuntimeError):
    """A setting a service cannot run without is missing or unusable: the service refuses to start."""


def encryption_key_problem(key: str) -> str | None:
    """Why `key` cannot protect credentials (never quoting it), or None when it can."""
    if not key.strip():
        return "is not set"
    if len(key) < MIN_ENCRYPTION_KEY_LENGTH:
        return f"is shorter than {MIN_ENCRYPTION_KEY_LENGTH} characters"
    normalized = re.sub(r"[^a-z0-9]", "", key.lower())
    if any(marker in normalized for marker in _PLACEHOLDER_MARKERS) or len(set(key)) < 6:
        return "is a placeholder, not a key"
    return None


class Settings(BaseSettings):
    """Every setting with its documented default; names map to env vars in upper case."""

    model_config = SettingsConfigDict(env_prefix="", extra="ignore", frozen=True)

    database_url: str = "postgresql://activator:activator@127.0.0.1:15432/activator"
    kafka_bootstrap_servers: str = "127.0.0.1:19092"
    credentials_encryption_key: SecretStr = Field(default=SecretStr(""))
    # During a key rotation: the other key credentials (and run-view tokens) may still be under.
    credentials_encryption_key_previous: SecretStr | None = None

    kafka_partitions: int = Field(default=12, ge=1)
    # New topics' replicas and min.insync.replicas; unset: what the cluster allows (shared/messaging/kafka.py:
    # up to 3 replicas, 2 in sync from 3 on). Topics that exist already are left as they are.
    kafka_replication_factor: int | None = Field(default=None, ge=1)
    kafka_min_insync_replicas: int | None = Field(default=None, ge=1)
    kafka_topic_prefix: str = "activator"
    kafka_max_poll_interval_ms: int = 30 * 60 * 1000
    # How every producer, consumer and admin client authenticates (shared/messaging/kafka_security.py).
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] = "PLAIN"
    kafka_sasl_username: str = ""
    kafka_sasl_password: SecretStr = Field(default=SecretStr(""))
    kafka_ssl_ca_file: str | None = None
    kafka_ssl_cert_file: str | None = None
    kafka_ssl_key_file: str | None = None
    # Start in any order (shared/messaging/start_order.py): waits for Kafka or Postgres grow up to this.
    dependency_retry_max_s: float = Field(default=15.0, gt=0)
    # A worker's /healthz fails when its event loop has not run for this long.
    worker_stall_s: float = Field(default=30.0, gt=0)

    activator_gateway_host: str = "127.0.0.1"
    activator_gateway_port: int = 8080
    activator_dev_api_key: SecretStr | None = None
    activator_log_format: str = Field(default="json", pattern="^(json|console)$")
    activator_log_level: str = "INFO"
    activator_egress_allow_private: bool = False
    activator_egress_allow_cidrs: list[str] = Field(default_factory=list)

    max_connections_per_org: int = 20
    activation_batch_size: int = 25
    max_run_errors_stored: int = 500
    request_attempts: int = 3
    request_timeout_s: float = 30.0
    retry_after_cap_s: float = 60.0
    request_backoff_base_s: float = 1.0
    bulk_topics_max: int = 10_000
    max_request_body_bytes: int = Field(default=16 * 1024 * 1024, ge=1024)
    max_output_templates_per_org: int = Field(default=100, ge=1)
    output_render_batch: int = Field(default=10_000, ge=1)
    push_concurrency_per_connection: int = 8
    push_runs_in_parallel: int = 4
    push_batches_in_flight: int = Field(default=2, ge=1)
    # A big auto push run is split into at most this many lanes (id ranges leased on their own), so that
    # several replicas push it at once; one lane per PUSH_LANE_MIN_ITEMS items (shared/runs/lanes.py).
    push_run_lanes: int = Field(default=2, ge=1, le=64)
    push_lane_min_items: int = Field(default=500, ge=1)
    outbox_poll_interval_s: float = 0.2
    recorder_batch_max: int = 2_000
    # How long the recorder's fetch waits for events before idling as long again: the most a lone event
    # waits for its batch. A busy topic is read at once, so batches stay as large under load.
    recorder_batch_timeout_ms: int = Field(default=10, ge=1)
    # How long a producer holds a message for others to share its request (latency against requests);
    # under load messages still share requests while the one before is in flight.
    kafka_linger_ms: int = Field(default=0, ge=0)
    # How long a request to a broker may go unanswered before it is sent again (to the leader metadata then
    # names). aiokafka waits 40 s: a produce held by a broker that went away holds the push that long.
    kafka_request_timeout_ms: int = Field(default=15_000, ge=1_000)
    # How long a consumer's fetch waits at the broker for new records. A partition whose records were
    # still buffered when the fetch left is not in it, so its next record waits up to this long: the
    # client's 500 ms default made every step batch wait about half a second.
    kafka_fetch_max_wait_ms: int = Field(default=25, ge=1)
    db_pool_max: int = 10
    step_wait_timeout_s: float = 30.0
    # Run work under leases (see shared/runs/leases.py): a dead holder's run is taken over after the TTL.
    run_lease_ttl_s: float = Field(default=10.0, gt=0)
    run_slice_batches: int = Field(default=20, ge=1)
    run_slice_s: float = Field(default=5.0, gt=0)
    run_slice_pages: int = Field(default=10, ge=1)
    run_poll_interval_s: float = Field(default=0.25, gt=0)
    run_max_slice_failures: int = Field(default=5, ge=1)
    # This worker process's name among its replicas, stable across its restarts (k8s: the pod's name), or ""
    # for none. A restarted instance gives back the leases its previous incarnation held at once, instead of
    # its runs standing still until the leases expire. Never shared by two live processes.
    worker_instance_id: str = Field(default="", max_length=200)
    sync_count_wait_s: float = Field(default=2.0, ge=0)
    # Automatic retries (shared/runs/retries.py): a push run's retryable failures are retried by a child
    # run after the first delay, doubled per retry, until the horizon after the first run finished.
    # 0 turns them off; permanent failures are never retried automatically.
    auto_retry_horizon_s: float = Field(default=14_400.0, ge=0)
    auto_retry_first_delay_s: float = Field(default=120.0, gt=0)
    auto_retry_poll_interval_s: float = Field(default=15.0, gt=0)
    # The review poller (services/push_worker/review.py): pending activations of platforms that review
    # segments (LiveRamp) are asked about after the first delay, doubled per check, at most the max.
    review_poll_interval_s: float = Field(default=30.0, gt=0)
    review_first_delay_s: float = Field(default=60.0, gt=0)
    review_max_delay_s: float = Field(default=3_600.0, gt=0)
    review_batch: int = Field(default=200, ge=1)
    stuck_run_timeout_s: float = 300.0
    stuck_run_check_interval_s: float = 30.0
    stuck_run_max_redeliveries: int = 3
    worker_graceful_timeout_s: float = 30.0
    metrics_port: int = Field(default=0, ge=0, le=65535)
    otel_traces_exporter: str = Field(default="none", pattern="^(none|console|otlp)$")
    # The OTel standard variables (shared/tracing.py): the collector's base URL (empty: the protocol's
    # localhost default), or the traces endpoint as is; headers are read by the exporter itself.
    otel_exporter_otlp_protocol: Literal["grpc", "http/protobuf"] = "http/protobuf"
    otel_exporter_otlp_endpoint: str = ""
    otel_exporter_otlp_traces_endpoint: str = ""
    sync_runs_in_parallel: int = Field(default=4, ge=1)
    sync_max_delete_share: float = Field(default=0.2, ge=0, le=1)
    sync_max_empty_pages: int = Field(default=5, ge=1)
    # Fetched pages a sync commits in one transaction (one classification, one checkpoint move).
    sync_commit_max_pages: int = Field(default=10, ge=1, le=100)
    sync_reject_payload_max_chars: int = Field(default=16_384, ge=256)
    consumer_max_attempts: int = Field(default=5, ge=1)
    consumer_backoff_s: float = Field(default=0.5, ge=0)
    run_events_poll_interval_s: float = Field(default=0.25, gt=0)
    run_events_max_stream_s: float = Field(default=300.0, gt=0)
    run_view_token_ttl_s: int = Field(default=900, ge=30)
    # The console's sign-in session (services/gateway/console/): absolute lifetime, then sign in again.
    console_session_ttl_s: int = Field(default=28_800, ge=60)
    # Retention (shared/db/retention.py), pruned by the gateway; 0 keeps that kind of row forever.
    retention_outbox_s: float = Field(default=86_400.0, ge=0)
    retention_runs_days: float = Field(default=30.0, ge=0)
    retention_sync_rejects_days: float = Field(default=30.0, ge=0)
    retention_batch_rows: int = Field(default=1_000, ge=1)
    retention_batch_pause_s: float = Field(default=0.1, ge=0)
    retention_interval_s: float = Field(default=60.0, gt=0)
    # Schedules (services/gateway/scheduler.py): how often each gateway replica looks for due slots, and how
    # long its claim on one keeps other replicas off it (a dead replica's slot is taken over after that).
    scheduler_poll_interval_s: float = Field(default=5.0, gt=0)
    scheduler_claim_ttl_s: float = Field(default=60.0, gt=0)

    @field_validator("activator_egress_allow_cidrs", mode="before")
    @classmethod
    def _split_cidrs(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @cached_property
    def egress_allowed_networks(self) -> tuple[IPv4Network | IPv6Network, ...]:
        """The operator's CIDR allow-list for connection URLs."""
        return tuple(ip_network(cidr, strict=False) for cidr in self.activator_egress_allow_cidrs)

    def topic(self, name: str) -> str:
        """Full Kafka topic name, e.g. `activator.status`."""
        return f"{self.kafka_topic_prefix}.{name}"

    def consumer_group(self, role: str) -> str:
        """A worker's Kafka consumer group, under the topic prefix: `activator-push-worker` by default.

        Two deployments on one Kafka cluster with different prefixes never share a group (nor its rebalances).
        """
        return f"{self.kafka_topic_prefix}-{role}"

    def require_encryption_key(self) -> str:
        """The credentials key; raises ConfigurationError for a missing, short or placeholder value."""
        key = self.credentials_encryption_key.get_secret_value()
        problem = encryption_key_problem(key)
        if problem is not None:
            msg = (
                f"CREDENTIALS_ENCRYPTION_KEY {problem}: set it to a random secret of at least "
                f"{MIN_ENCRYPTION_KEY_LENGTH} characters (e.g. `openssl rand -base64 32`)"
            )
            raise ConfigurationError(msg)
        return key

    def previous_encryption_keys(self) -> tuple[str, ...]:
        """Keys tried after the current one to decrypt (CREDENTIALS_ENCRYPTION_KEY_PREVIOUS, while rotating)."""
        previous = self.credentials_encryption_key_previous
        value = previous.get_secret_value() if previous is not None else ""
        current = self.credentials_encryption_key.get_secret_value()
        return (value,) if value.strip() and value != current else ()

    def http(self) -> HttpSettings:
        """The connector HTTP behaviour these settings describe."""
        return HttpSettings(
            timeout_s=self.request_timeout_s,
            max_attempts=self.request_attempts,
            backoff_base_s=self.request_backoff_base_s,
            retry_after_cap_s=self.retry_after_cap_s,
            max_connections=max(self.push_concurrency_per_connection, 1),
        )


def load_settings() -> Settings:
    """Read settings from the environment (called by composition roots only)."""
    return Settings()
