"""Fair sharing: a long run holds no Kafka partition, so a small run of a connection on the same
partition finishes while the long one is still running (issue 21)."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import httpx
from aiokafka.partitioner import murmur2

from shared.settings import Settings
from tests.e2e.conftest import System
from tests.e2e.helpers import (
    add_topics,
    connection_body,
    create_connection,
    org_client,
    start_push,
    wait_for_run,
)

LONG_RUN = 1500
SMALL_RUN = 50


def partition_of(connection_id: str, partitions: int) -> int:
    """The push-commands partition of a connection's commands (Kafka's default partitioner)."""
    return int(murmur2(connection_id.encode()) & 0x7FFFFFFF) % partitions


async def test_a_small_run_on_the_partition_of_a_long_run_finishes_first(
    system: System, pool: asyncpg.Pool[Any], settings: Settings
) -> None:
    body = connection_body("custom_api", system.mock_url, system.mock_sftp_port)
    async with (
        await org_client(pool, system.gateway_url) as big,
        await org_client(pool, system.gateway_url) as small,
        httpx.AsyncClient(base_url=system.mock_url) as mock,
    ):
        await mock.post("/admin/reset")
        # Every platform call takes 100 ms: the long run needs about LONG_RUN * 0.1 / 8 s of calls.
        await mock.put("/admin/faults/custom_api", json={"latency_ms": 100, "count": 1_000_000})
        try:
            long_connection = await create_connection(big, body)
            partition = partition_of(long_connection, settings.kafka_partitions)
            small_connection = await create_connection(small, body)
            for _ in range(200):  # about one in kafka_partitions connections shares the partition
                if partition_of(small_connection, settings.kafka_partitions) == partition:
                    break
                assert (await small.delete(f"/api/connections/{small_connection}")).status_code == 204
                small_connection = await create_connection(small, body)
            await add_topics(big, LONG_RUN, prefix="long")
            await add_topics(small, SMALL_RUN, prefix="small")

            long_run = await start_push(big, long_connection)
            for _ in range(400):  # the long run is under way before the small one is asked for
                status = (
                    await big.get(f"/api/connections/{long_connection}/push/run/{long_run}/status")
                ).json()
                if status["processed"] > 0:
                    break
                await asyncio.sleep(0.05)
            small_run = await start_push(small, small_connection)
            small_final = await wait_for_run(small, small_connection, small_run, timeout=120)
            long_meanwhile = (
                await big.get(f"/api/connections/{long_connection}/push/run/{long_run}/status")
            ).json()
            await big.post(f"/api/connections/{long_connection}/push/run/{long_run}/cancel")
            long_final = await wait_for_run(big, long_connection, long_run, timeout=120)
        finally:
            await mock.delete("/admin/faults/custom_api")

    assert partition_of(small_connection, settings.kafka_partitions) == partition
    assert (small_final["status"], small_final["succeeded"]) == ("succeeded", SMALL_RUN)
    assert long_meanwhile["status"] == "running"
    assert long_meanwhile["processed"] < LONG_RUN
    assert long_final["status"] == "cancelled"
