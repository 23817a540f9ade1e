"""A PostgreSQL cluster of a test's own (deploy/local/postgres.sh on a free port), for tests that stop it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from tests.support.own_service import LOCAL_SCRIPTS, OwnService
from tests.support.processes import free_port


@dataclass
class OwnPostgres(OwnService):
    """A throwaway cluster with its own state dir; `stop()` is a fast shutdown: open sessions are cut."""

    script: ClassVar[Path] = LOCAL_SCRIPTS / "postgres.sh"
    env_name: ClassVar[str] = "PG"
    # Without DATABASE_URL the script manages its own cluster instead of using the given one.
    suite_env: ClassVar[frozenset[str]] = frozenset({"DATABASE_URL", "ACTIVATOR_PG_LOCAL"})

    @classmethod
    def on_free_port(cls, state_dir: Path) -> OwnPostgres:
        """A cluster that will listen on a loopback port free right now."""
        return cls(state_dir, free_port())

    @property
    def url(self) -> str:
        """The `activator` database of this cluster (what postgres.sh `url` prints)."""
        return f"postgresql://activator:activator@127.0.0.1:{self.port}/activator"
