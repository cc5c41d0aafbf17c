"""The PostgreSQL engine (`--state postgresql://...`): replicas on many machines share it.

psycopg 3 (the `postgresql` extra) with a small pool of connections per process. Transactions run
at READ COMMITTED; the stores take the row or advisory locks their rules need, and a
serialization failure or deadlock is retried as a lost race.
"""

from __future__ import annotations

from typing import Any

from mocksrv.state.engine import SqlEngine, StateError

_RETRY_STATES = frozenset({"40001", "40P01"})  # serialization_failure, deadlock_detected


class PostgresDriver:
    def __init__(self, url: str) -> None:
        try:
            import psycopg
        except ImportError:
            raise StateError(
                "PostgreSQL state needs psycopg 3: pip install 'mocksrv[postgresql]'"
            ) from None
        self._psycopg = psycopg
        self.url = url
        self.errors: tuple[type[Exception], ...] = (psycopg.Error,)

    def connect(self) -> Any:
        return self._psycopg.connect(self.url, autocommit=False, connect_timeout=10)

    def connect_reading(self) -> Any:
        """A connection in autocommit, each statement a transaction: reads (`SqlEngine.read`)
        and bookkeeping rows (`SqlEngine.note`), whose commits do not wait for the disk."""
        conn = self._psycopg.connect(self.url, autocommit=True, connect_timeout=10)
        try:
            conn.execute("SET synchronous_commit TO OFF")
        except BaseException:
            conn.close()
            raise
        return conn

    def begin(self, cur: Any, write: bool) -> None:
        pass  # psycopg opens the transaction with the first statement

    signal = None  # no signal across machines: each request reads the control row

    def acquire(self, wait: bool = True) -> bool:
        return True  # PostgreSQL's own locks decide

    def release(self, control: bool = False) -> None:
        pass

    def retryable(self, exc: Exception) -> bool:
        return getattr(exc, "sqlstate", None) in _RETRY_STATES

    def close(self) -> None:
        pass


def redacted(url: str) -> str:
    """The URL without its password, for messages and logs."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def open_postgres(url: str) -> SqlEngine:
    driver = PostgresDriver(url)
    engine = SqlEngine(driver, "postgresql", redacted(url))
    try:
        with engine.read() as tx:
            tx.one("SELECT 1")
    except Exception as exc:
        engine.close()
        raise StateError(f"cannot reach the state {redacted(url)}: {exc}") from None
    return engine
