"""Opening the state a server was given: a SQLite file, or a PostgreSQL URL."""

from __future__ import annotations

from mocksrv.state.engine import SqlEngine

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


def open_engine(spec: str) -> SqlEngine:
    """`--state FILE` (SQLite) or `--state postgresql://...`; raises StateError."""
    if spec.startswith(POSTGRES_SCHEMES):
        from mocksrv.state.postgres import open_postgres

        return open_postgres(spec)
    from mocksrv.state.sqlite import open_sqlite

    return open_sqlite(spec)
