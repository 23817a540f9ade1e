"""The review poller: pending activations of every platform that finishes writes later (LiveRamp's privacy
review of 1-2 business days, The Trade Desk's data-rate processing and approval) are asked about long after
their run ended, until the platform is done with them.

Every push-worker replica runs it beside its run executor. A round claims due pending activations
(`FOR UPDATE SKIP LOCKED`, so replicas share them, and for a while, so a dead poller's return), asks each
connection's platform about its share (`ConfirmingPlatformClient.review`), writes the ends to the ledger,
announces each on activator.status (`ActivationReviewed`) and puts the rest back with a later due time: the
first delay doubled per check, at most the maximum. Each write is asked about by what the ledger keeps (its
segment id, and TTD's data-rate BatchId: TTD reports by BatchId only), so any replica asks about any write; one
the client cannot ask about (a TTD write recorded without a BatchId) is put back too, and counted `unasked`.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import uuid
from collections.abc import Awaitable, Callable, Sequence

import structlog
from prometheus_client import Counter

from services.push_worker.run_setup import PushDependencies, connection_client
from shared.connectors.errors import ConnectorConfigError, PlatformError
from shared.connectors.factory import outbound_config
from shared.connectors.protocol import ConfirmingPlatformClient
from shared.connectors.throttle import ConnectionThrottle
from shared.db import activations as ledger
from shared.db import reviews
from shared.db.connections import get_connection
from shared.db.pool import POSTGRES_UNAVAILABLE
from shared.messages import ActivationReviewed, deterministic_event_id

log = structlog.get_logger(__name__)

REVIEWS = Counter(
    "activator_activation_reviews_total",
    "Pending activations asked about after their run, by platform and what the platform said "
    "(active | failed | pending | unasked: the platform finishes no write later, or the client cannot ask "
    "about this one)",
    ["platform", "state"],
)

Announce = Callable[[Sequence[ActivationReviewed]], Awaitable[None]]
"""Publishes reviewed activations on activator.status."""


class ReviewPoller:
    """A push-worker's background loop (see `worker_app`): a round every `review_poll_interval_s`."""

    def __init__(self, announce: Announce) -> None:
        self._announce = announce

    async def run(self, deps: PushDependencies) -> None:
        """Poll until `deps.stopping`; an outage skips a round."""
        while not deps.stopping.is_set():
            try:
                await self.round(deps)
            except POSTGRES_UNAVAILABLE as exc:
                log.warning("review_round_failed", error_type=type(exc).__name__)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(deps.stopping.wait(), timeout=deps.settings.review_poll_interval_s)

    async def round(self, deps: PushDependencies) -> int:
        """Ask about every due pending activation once; how many reviews ended."""
        settings = deps.settings
        claim_s = max(settings.review_first_delay_s, 4 * settings.request_timeout_s)
        due = await reviews.claim_due(deps.pool, limit=settings.review_batch, claim_s=claim_s)
        ended = 0
        by_connection = itertools.groupby(
            sorted(due, key=lambda d: d.connection_id.int), lambda d: d.connection_id
        )
        for connection_id, held in by_connection:
            ended += await self._review(deps, connection_id, list(held))
        return ended

    async def _review(
        self, deps: PushDependencies, connection_id: uuid.UUID, due: list[reviews.DueReview]
    ) -> int:
        settings = deps.settings
        topic_ids = [item.topic_id for item in due]

        async def later(first_s: float) -> None:
            await reviews.review_later(
                deps.pool, connection_id, topic_ids, first_s=first_s, max_s=settings.review_max_delay_s
            )

        connection = await get_connection(deps.pool, due[0].org_id, connection_id)
        if connection is None:
            return 0  # deleted meanwhile: its activations went with it
        try:
            config = outbound_config(connection.platform, connection.config)
            client = await connection_client(deps, connection, ConnectionThrottle(rps=config.rate_limit_rps))
        except ConnectorConfigError:
            await later(settings.review_max_delay_s)
            return 0
        try:
            if not isinstance(client, ConfirmingPlatformClient):
                REVIEWS.labels(connection.platform, "unasked").inc(len(due))
                await later(settings.review_max_delay_s)
                return 0
            try:
                found = await client.review([item.write for item in due])
            except PlatformError as exc:
                log.warning("review_failed", connection_id=str(connection_id), error_code=exc.code)
                await later(settings.review_first_delay_s)
                return 0
        finally:
            await client.aclose()
        ended = [
            (item, found[item.platform_segment_id])
            for item in due
            if item.platform_segment_id in found and found[item.platform_segment_id].state != "pending"
        ]
        await ledger.record_confirmations(
            deps.pool, connection_id, {item.topic_id: (seen.state, seen.message) for item, seen in ended}
        )
        ended_ids = {item.topic_id for item, _ in ended}
        await reviews.review_later(
            deps.pool,
            connection_id,
            [topic_id for topic_id in topic_ids if topic_id not in ended_ids],
            first_s=settings.review_first_delay_s,
            max_s=settings.review_max_delay_s,
        )
        for _, seen in ended:
            REVIEWS.labels(connection.platform, seen.state).inc()
        asked = sum(1 for item in due if item.platform_segment_id in found)
        REVIEWS.labels(connection.platform, "pending").inc(asked - len(ended))
        REVIEWS.labels(connection.platform, "unasked").inc(len(due) - asked)
        await self._announce(
            [
                ActivationReviewed(
                    event_id=deterministic_event_id(
                        item.connection_id, item.topic_id, "reviewed", item.checks
                    ),
                    org_id=item.org_id,
                    connection_id=item.connection_id,
                    topic_id=item.topic_id,
                    platform_segment_id=item.platform_segment_id,
                    state="active" if seen.state == "active" else "failed",
                    message=seen.message,
                )
                for item, seen in ended
            ]
        )
        return len(ended)
