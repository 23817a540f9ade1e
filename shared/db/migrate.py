"""Schema migrations with yoyo: plain SQL files, applied under a database lock."""

from __future__ import annotations

from pathlib import Path

from yoyo import get_backend, read_migrations

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _yoyo_url(database_url: str) -> str:
    scheme, rest = database_url.split("://", 1)
    if scheme in ("postgres", "postgresql"):
        scheme = "postgresql+psycopg"
    return f"{scheme}://{rest}"


def pending_migrations(database_url: str) -> list[str]:
    """The ids of the migrations not yet applied (reads only; raises while the database is unreachable)."""
    backend = get_backend(_yoyo_url(database_url))
    try:
        return [migration.id for migration in backend.to_apply(read_migrations(str(MIGRATIONS_DIR)))]
    finally:
        backend.connection.close()


def apply_migrations(database_url: str) -> list[str]:
    """Apply pending migrations and return the ids applied (safe to run from several replicas)."""
    backend = get_backend(_yoyo_url(database_url))
    migrations = read_migrations(str(MIGRATIONS_DIR))
    with backend.lock():
        pending = backend.to_apply(migrations)
        backend.apply_migrations(pending)
    return [migration.id for migration in pending]
