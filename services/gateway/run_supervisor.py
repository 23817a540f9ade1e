"""Finds runs whose worker died and redelivers their command, or fails them after a bounded number of tries."""

from __future__ import annotations

import structlog
from prometheus_client import Counter

from services.gateway.rounds import Rounds
from shared.db import runs as repo
from shared.db import stalled_runs
from shared.runs.commands import command_for, queue_command

log = structlog.get_logger(__name__)

REDELIVERED = Counter("activator_runs_redelivered_total", "Stalled runs whose command was published again")
ABANDONED = Counter("activator_runs_abandoned_total", "Stalled runs failed after their redeliveries ran out")


class RunSupervisor(Rounds):
    """Sweeps every `stuck_run_check_interval_s` in every gateway replica; SKIP LOCKED keeps two replicas
    off the same run."""

    failed_event = "run_supervisor_failed"

    async def round(self) -> int:
        """One sweep; returns how many stalled runs were handled."""
        settings = self._settings
        async with self._pool.acquire() as connection, connection.transaction():
            stalled = await stalled_runs.claim_stalled_runs(connection, settings.stuck_run_timeout_s)
            for run in stalled:
                if run.redeliveries >= settings.stuck_run_max_redeliveries:
                    reason = (
                        f"no worker took the run's command for {settings.stuck_run_timeout_s:.0f}s "
                        f"after {run.redeliveries} redeliveries"
                    )
                    await repo.fail_run(connection, run.id, reason)
                    ABANDONED.inc()
                    log.warning("run_abandoned", run_id=str(run.id), reason=reason)
                    continue
                command = command_for(run, attempt=run.redeliveries + 2)
                await queue_command(connection, settings, command)
                await stalled_runs.mark_redelivered(connection, run.id)
                REDELIVERED.inc()
                log.warning("run_redelivered", run_id=str(run.id), attempt=command.attempt)
        return len(stalled)
