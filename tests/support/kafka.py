"""A Kafka broker of a test's own (deploy/local/kafka.sh on free ports), for tests that stop Kafka."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from aiokafka.admin import AIOKafkaAdminClient

from shared.settings import Settings
from tests.support.infra import isolated_settings, own_database
from tests.support.own_service import LOCAL_SCRIPTS, OwnService
from tests.support.processes import free_port


def free_port_pair() -> int:
    """A port whose successor is free too (the broker's controller listens on port + 1)."""
    for _ in range(50):
        port = free_port()
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    msg = "no two consecutive free loopback ports found"
    raise RuntimeError(msg)


@dataclass
class OwnKafka(OwnService):
    """A single-node broker with its own state dir; stopping it keeps its data so it can come back.

    With `security="SASL_SSL"` kafka.sh makes a throwaway CA and broker certificate and a SCRAM-SHA-512
    user; `client_env()` is what a service needs to reach it. `start()` waits until the broker accepts
    idempotent writes (~5 s).
    """

    script: ClassVar[Path] = LOCAL_SCRIPTS / "kafka.sh"
    env_name: ClassVar[str] = "KAFKA"
    suite_env: ClassVar[frozenset[str]] = frozenset({"KAFKA_BOOTSTRAP_SERVERS", "ACTIVATOR_KAFKA_LOCAL"})

    security: str = "PLAINTEXT"
    sasl_username: str = "activator"
    sasl_password: str = field(default="activator-e2e-secret", repr=False)

    @property
    def bootstrap(self) -> str:
        """The broker's address."""
        return f"127.0.0.1:{self.port}"

    def script_env(self) -> dict[str, str]:
        """The listener's security and the SCRAM user kafka.sh creates for SASL_SSL."""
        return {
            "ACTIVATOR_KAFKA_SECURITY": self.security,
            "ACTIVATOR_KAFKA_SASL_USERNAME": self.sasl_username,
            "ACTIVATOR_KAFKA_SASL_PASSWORD": self.sasl_password,
        }

    @property
    def ca_file(self) -> Path:
        """The CA that signed the broker's certificate (SASL_SSL only)."""
        return self.state_dir / "kafka" / "tls" / "ca.pem"

    def client_env(self, *, password: str | None = None) -> dict[str, str]:
        """KAFKA_* settings of a service using this broker (another `password` to see a refusal)."""
        env = {"KAFKA_BOOTSTRAP_SERVERS": self.bootstrap, "KAFKA_SECURITY_PROTOCOL": self.security}
        if self.security == "SASL_SSL":
            env |= {
                "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
                "KAFKA_SASL_USERNAME": self.sasl_username,
                "KAFKA_SASL_PASSWORD": self.sasl_password if password is None else password,
                "KAFKA_SSL_CA_FILE": str(self.ca_file),
            }
        return env

    def client_settings(self) -> dict[str, object]:
        """The Settings fields of a client of this broker beyond its address (as `client_env()`)."""
        if self.security != "SASL_SSL":
            return {}
        return {
            "kafka_security_protocol": "SASL_SSL",
            "kafka_sasl_mechanism": "SCRAM-SHA-512",
            "kafka_sasl_username": self.sasl_username,
            "kafka_sasl_password": self.sasl_password,
            "kafka_ssl_ca_file": str(self.ca_file),
        }


@contextlib.asynccontextmanager
async def own_kafka_and_database(
    root: Path, topic_prefix: str, *, security: str = "PLAINTEXT"
) -> AsyncIterator[tuple[OwnKafka, Settings]]:
    """A started broker and a migrated database of a test's own, and settings on both; removed afterwards."""
    kafka = OwnKafka(root / "state", free_port_pair(), security=security)
    async with own_database() as database_url:
        try:
            await kafka.start()
            yield (
                kafka,
                isolated_settings(database_url, kafka.bootstrap, topic_prefix, **kafka.client_settings()),
            )
        finally:
            await kafka.stop(keep_data=False)


def free_port_block(count: int) -> int:
    """A port whose next `count - 1` successors are free too (a cluster's nodes take consecutive ports)."""
    for _ in range(50):
        port = free_port()
        if port + count > 65536:
            continue
        with contextlib.ExitStack() as held:
            try:
                for offset in range(1, count):
                    sock = held.enter_context(socket.socket())
                    sock.bind(("127.0.0.1", port + offset))
            except OSError:
                continue
        return port
    msg = f"no {count} consecutive free loopback ports found"
    raise RuntimeError(msg)


@dataclass
class OwnKafkaCluster(OwnService):
    """Three KRaft nodes (deploy/local/kafka_cluster.sh) with replication factor 3 and min.insync 2.

    Node N listens on `port + 2(N-1)` (its controller on the port after). `start()` starts the nodes
    not running and waits until every broker is in sync and an acks=all write is acknowledged.
    """

    script: ClassVar[Path] = LOCAL_SCRIPTS / "kafka_cluster.sh"
    env_name: ClassVar[str] = "KAFKA_CLUSTER"
    suite_env: ClassVar[frozenset[str]] = frozenset({"KAFKA_BOOTSTRAP_SERVERS", "ACTIVATOR_KAFKA_LOCAL"})
    nodes: ClassVar[int] = 3
    ports_needed: ClassVar[int] = 2 * nodes

    @property
    def bootstrap(self) -> str:
        """Every node's client address, comma-separated."""
        return ",".join(self.node_address(node) for node in range(1, self.nodes + 1))

    def node_port(self, node: int) -> int:
        """Node `node`'s client port (nodes count from 1, as their node.id)."""
        return self.port + 2 * (node - 1)

    def node_address(self, node: int) -> str:
        """Node `node`'s client address."""
        return f"127.0.0.1:{self.node_port(node)}"

    async def kill(self, node: int) -> None:
        """kill -9 one node; its data stays, so `start()` brings it back."""
        process = await asyncio.create_subprocess_exec(
            str(self.script),
            "kill",
            str(node),
            env=self._env(keep_data=True),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await process.communicate()
        if process.returncode != 0:
            msg = f"{self.script.name} kill {node} failed: {output.decode(errors='replace')[-2000:]}"
            raise RuntimeError(msg)

    async def partition_leaders(self, topic: str) -> dict[int, int]:
        """The node leading each partition of `topic` now (-1: none)."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=5000)
        await admin.start()
        try:
            described = await admin.describe_topics([topic])
        finally:
            await admin.close()
        return {int(part["partition"]): int(part["leader"]) for part in described[0]["partitions"]}

    async def replication_factors(self, topics: list[str]) -> dict[str, set[int]]:
        """The replica counts found among each topic's partitions."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=5000)
        await admin.start()
        try:
            described = await admin.describe_topics(topics)
        finally:
            await admin.close()
        return {
            str(topic["topic"]): {len(part["replicas"]) for part in topic["partitions"]}
            for topic in described
        }

    async def committed_offsets(self, group: str, topic: str) -> dict[int, int]:
        """The offset `group` committed on each partition of `topic` (partitions without one left out)."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, request_timeout_ms=5000)
        await admin.start()
        try:
            committed = await admin.list_consumer_group_offsets(group)
        finally:
            await admin.close()
        return {int(tp.partition): int(meta.offset) for tp, meta in committed.items() if tp.topic == topic}


@contextlib.asynccontextmanager
async def own_kafka_cluster_and_database(
    root: Path, topic_prefix: str, *, bootstrap_node: int | None = None
) -> AsyncIterator[tuple[OwnKafkaCluster, Settings, float]]:
    """A started 3-node cluster and a migrated database of a test's own, settings on both (replication
    factor 3), and the seconds the cluster took to start; all removed afterwards (also on failure).

    With `bootstrap_node` the settings name that node alone: FastStream's KafkaBroker takes a
    comma-separated string as one host, so the workers cannot be given the whole list yet.
    """
    cluster = OwnKafkaCluster(root / "cluster-state", free_port_block(OwnKafkaCluster.ports_needed))
    async with own_database() as database_url:
        try:
            started = time.monotonic()
            await cluster.start()
            start_s = time.monotonic() - started
            yield (
                cluster,
                isolated_settings(
                    database_url,
                    cluster.bootstrap if bootstrap_node is None else cluster.node_address(bootstrap_node),
                    topic_prefix,
                    kafka_replication_factor=3,
                ),
                start_s,
            )
        finally:
            await cluster.stop(keep_data=False)
