"""Recorded replies (`<api>.recorded` in a scenario): answers pinned per request key, replayed.

`mocksrv record` writes them from what a real service answered; each API keys them by what
identifies its requests (AGCOD: operation, partner and request id; Prime: operation, benefit and
offer code; Promotions: operation, bucket and key). A key's replies are played one per call, then
the last one repeats. Which reply comes next is state, kept in the API's store.
"""

from __future__ import annotations

import base64
import binascii
import json
import threading
from collections.abc import Callable
from typing import Any, NamedTuple

from mocksrv.http import Response
from mocksrv.scenario.loader import Path_
from mocksrv.scenario.model import Problems

TOKEN = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$"
# set by the server from the body and the connection, never by a recorded reply
FRAMING = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive"})

REPLY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["status"],
    "properties": {
        "status": {"type": "integer", "minimum": 200, "maximum": 599},
        "headers": {
            "type": "object",
            "description": "Response headers, names as sent (the server adds Content-Length, "
            "Date and the request id).",
            "propertyNames": {"pattern": TOKEN},
            "additionalProperties": {"type": "string", "pattern": "^[^\\r\\n\\x00]*$"},
        },
        "body": {"type": "string", "description": "The body as text (UTF-8)."},
        "body_base64": {"type": "string", "description": "A body that is not UTF-8 text."},
    },
}


def section_schema(keys: dict[str, Any], required: list[str], what: str) -> dict[str, Any]:
    """The schema of an API's `recorded` list: its key fields and the replies."""
    return {
        "type": "array",
        "description": f"Recorded replies ({what}); one per call, then the last repeats. "
        "Written by `mocksrv record`.",
        "items": {
            "type": "object",
            "additionalProperties": False,
            "required": [*required, "replies"],
            "properties": {
                **keys,
                "replies": {"type": "array", "items": REPLY_SCHEMA, "minItems": 1},
            },
        },
    }


class Reply(NamedTuple):
    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes

    def response(self) -> Response:
        return Response(self.body, status=self.status, headers=list(self.headers))


Key = tuple[str, ...]
Table = dict[Key, tuple[Reply, ...]]


def parse(
    raw: list[dict[str, Any]],
    section: str,
    key_of: Callable[[dict[str, Any], Path_, Problems], Key | None],
    problems: Problems,
) -> Table:
    """`<section>.recorded` into replies by key; `key_of` checks an entry's key (adding its
    problems) and returns it, or None when the entry is unusable."""
    table: Table = {}
    where: dict[Key, int] = {}
    for i, entry in enumerate(raw):
        path: Path_ = (section, "recorded", i)
        key = key_of(entry, path, problems)
        replies = tuple(
            _reply(r, path + ("replies", j), problems) for j, r in enumerate(entry["replies"])
        )
        if key is None:
            continue
        if key in where:
            problems.add(path, f"the same request as {section}.recorded[{where[key]}]")
            continue
        where[key] = i
        table[key] = replies
    return table


def _reply(raw: dict[str, Any], path: Path_, problems: Problems) -> Reply:
    headers = tuple((str(k), str(v)) for k, v in (raw.get("headers") or {}).items())
    for name, _ in headers:
        if name.lower() in FRAMING:
            problems.add(path + ("headers", name), "set by the server: leave it out")
    if "body" in raw and "body_base64" in raw:
        problems.add(path, "give either body or body_base64, not both")
    body = str(raw.get("body", "")).encode()
    if "body_base64" in raw:
        try:
            body = base64.b64decode(raw["body_base64"], validate=True)
        except (binascii.Error, ValueError):
            problems.add(path + ("body_base64",), "not valid base64")
    kept = tuple((k, v) for k, v in headers if k.lower() not in FRAMING)
    return Reply(int(raw["status"]), kept, body)


TABLES = (
    "CREATE TABLE IF NOT EXISTS recorded_played (tenant TEXT NOT NULL, api TEXT NOT NULL, "
    "key TEXT NOT NULL, played {bigint} NOT NULL, PRIMARY KEY (tenant, api, key))",
)


class Replays:
    """Which recorded reply each key plays next (state, kept by the API's store: this process's
    memory here, the engine's rows in `SqlReplays`)."""

    def __init__(self, table: Table) -> None:
        self.table = table
        self._played: dict[Key, int] = {}
        self._lock = threading.Lock()

    def next(self, key: Key) -> Reply | None:
        """The key's next reply (None: nothing recorded for it)."""
        replies = self.table.get(key)
        if replies is None:
            return None
        with self._lock:
            played = self._played.get(key, 0)
            self._played[key] = played + 1
        return replies[min(played, len(replies) - 1)]

    def played(self) -> dict[Key, int]:
        with self._lock:
            return dict(self._played)

    def snapshot(self) -> list[dict[str, Any]]:
        """For the admin state view: each key, its replies and how many were played."""
        played = self.played()
        return [
            {"key": list(key), "replies": len(replies), "played": played.get(key, 0)}
            for key, replies in self.table.items()
        ]


class SqlReplays(Replays):
    """The positions as rows of a SQL state: every process plays the same next reply."""

    def __init__(self, table: Table, engine: Any, tenant: str, api: str) -> None:
        super().__init__(table)
        self.engine, self.tenant, self.api = engine, tenant, api

    def clear(self, tx: Any) -> None:
        tx.run("DELETE FROM recorded_played WHERE tenant=? AND api=?", (self.tenant, self.api))

    def next(self, key: Key) -> Reply | None:
        replies = self.table.get(key)
        if replies is None:
            return None
        with self.engine.write() as tx:
            row = tx.one(
                "INSERT INTO recorded_played VALUES (?, ?, ?, 1) ON CONFLICT (tenant, api, key) "
                "DO UPDATE SET played = recorded_played.played + 1 RETURNING played",
                (self.tenant, self.api, json.dumps(list(key))),
            )
        played = int(row[0]) - 1 if row else 0
        return replies[min(played, len(replies) - 1)]

    def played(self) -> dict[Key, int]:
        with self.engine.read() as tx:
            rows = tx.all(
                "SELECT key, played FROM recorded_played WHERE tenant=? AND api=?",
                (self.tenant, self.api),
            )
        return {tuple(json.loads(k)): int(n) for k, n in rows}


def replays(table: Table, engine: Any, tenant: str, api: str) -> Replays:
    """The replay positions of one API's store, on its engine."""
    return SqlReplays(table, engine, tenant, api) if engine.shared else Replays(table)
