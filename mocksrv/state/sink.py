"""Where a store writes its state changes: nowhere (memory only) or the state database."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from typing import Any, Protocol


class Sink(Protocol):
    """Where a store writes its state changes."""

    durable: bool

    def put(self, kind: str, key: str, value: Any) -> None: ...

    def put_many(self, kind: str, items: Iterable[tuple[str, Any]]) -> None: ...

    def delete(self, kind: str, key: str) -> None: ...

    def batch(self) -> contextlib.AbstractContextManager[None]: ...

    def write_blob(self, name: str, chunks: Iterable[bytes]) -> None: ...

    def read_blob(self, name: str) -> bytes | None: ...

    def remove_blob(self, name: str) -> None: ...


class NullSink:
    """Memory only: every write is dropped (the store itself is the state)."""

    durable = False

    def put(self, kind: str, key: str, value: Any) -> None:
        pass

    def put_many(self, kind: str, items: Iterable[tuple[str, Any]]) -> None:
        pass

    def delete(self, kind: str, key: str) -> None:
        pass

    def batch(self) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def write_blob(self, name: str, chunks: Iterable[bytes]) -> None:
        pass

    def read_blob(self, name: str) -> bytes | None:
        return None

    def remove_blob(self, name: str) -> None:
        pass


NULL_SINK = NullSink()
