"""A step call of the guide's loop: under the run's row lock, ask for the next batch or page, then answer
with the run's status once it moved (or at the step timeout)."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

from fastapi import Depends

from services.gateway.deps import AppSettings, OrgId, Pool
from services.gateway.run_documents import run_of, run_status
from services.gateway.run_progress import Progress, Progressed
from services.gateway.schemas import RunStatusOut
from shared.db import runs as repo
from shared.db.pool import DbConnection

# Queues what the run's next step needs (inside the lock's transaction) and says when it is done.
Step = Callable[[DbConnection, repo.Run], Awaitable[Progressed]]


class RunStepCall:
    """A step call on one of the org's runs: the request's run, pool, settings and progress listener."""

    def __init__(
        self,
        connection_id: uuid.UUID,
        run_id: uuid.UUID,
        org_id: OrgId,
        pool: Pool,
        settings: AppSettings,
        progress: Progress,
    ) -> None:
        self.connection_id, self.run_id, self.org_id = connection_id, run_id, org_id
        self.pool, self.settings, self._progress = pool, settings, progress

    async def hold(self, kind: str, step: Step) -> RunStatusOut:
        """Take one step of a live run under its row lock and wait for it; a finished run answers as it is."""
        pool, settings = self.pool, self.settings
        async with pool.acquire() as connection, connection.transaction():
            await connection.execute("SELECT 1 FROM runs WHERE id = $1 FOR UPDATE", self.run_id)
            run = await run_of(connection, self.org_id, self.connection_id, self.run_id, kind)
            if run.is_terminal:
                return await run_status(pool, settings, run)
            progressed = await step(connection, run)
        # On timeout the status says how far it got; the client may poll /status.
        run = await self._progress.wait(
            pool, self.org_id, run, progressed, timeout_s=settings.step_wait_timeout_s
        )
        return await run_status(pool, settings, run)


StepCall = Annotated[RunStepCall, Depends()]
