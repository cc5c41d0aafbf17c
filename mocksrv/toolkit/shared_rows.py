"""A SQL state's journal rows: an entry and its exchange as flat JSON lists, formatted on read."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from mocksrv.call import Headers
from mocksrv.clock import iso, parse_instant
from mocksrv.toolkit.exchanges import _SECRET_HEADERS as SECRET_HEADERS
from mocksrv.toolkit.exchanges import _SECRET_XML as SECRET_XML
from mocksrv.toolkit.exchanges import _format, item_of
from mocksrv.toolkit.journal import Raw, entry_of_raw

if TYPE_CHECKING:
    from mocksrv.call import Call
    from mocksrv.state.engine import Tx

INSERT = "INSERT INTO journal (id, tenant, request_id, entry, exchange) VALUES"
EXCHANGES_KEPT = 1000  # newest requests whose sent and answered bytes are kept
_ENCODE = json.JSONEncoder(default=str).encode  # made once: `json.dumps(default=...)` makes one
# per call


def nth_newest(tx: Tx, tenant: str, n: int) -> int:
    """The row id of the tenant's journal `n` rows below its newest (0: it has no more rows):
    counted among the tenant's own rows (its index, an offset), since tenants share row ids."""
    row = tx.one(
        "SELECT id FROM journal WHERE tenant=? ORDER BY id DESC LIMIT 1 OFFSET ?", (tenant, n)
    )
    return int(row[0]) if row else 0


def row_of(raw: Raw) -> str:
    """A journal entry's row text: its raw values but the sequence number (the row's id), the
    scenario time as text; a flat JSON list, cheaper to write than the entry's object."""
    return _ENCODE([*raw[1:3], iso(raw[3]), *raw[4:]])


def entry_of(seq: Any, text: str) -> dict[str, Any]:
    """The entry of a journal row (`row_of`; an object: a row of an earlier mocksrv)."""
    found = json.loads(text)
    if isinstance(found, dict):
        found["seq"] = int(seq)
        return found
    found[2] = parse_instant(found[2])
    return entry_of_raw((int(seq), *found))


_SECRETS = ("HTTP_X_AMZ_SECURITY_TOKEN", "HTTP_AUTHORIZATION_TOKEN")


def exchange_text(item: tuple[Any, ...]) -> str:
    """An exchange (`exchanges.item_of`) as a flat JSON list (`exchange_of_row` formats it as
    `Exchanges.get` does). Credentials are cut before they are kept (session tokens sent, STS's
    secrets answered), as they are shown."""
    source, req_body, req_size, status, res_headers, res_body, res_size, computed, _ = item
    if b"<SecretAccessKey>" in res_body or b"<SessionToken>" in res_body:  # STS's answers
        res_body = SECRET_XML.sub(rb"\1\3...\4", res_body)
    headers = Headers(source).items() if isinstance(source, dict) else source
    if any(n in SECRET_HEADERS for n, _ in headers):
        headers = [(n, v[:8] + "..." if n in SECRET_HEADERS and len(v) > 8 else v)
                   for n, v in headers]  # fmt: skip
    return json.dumps([
        headers, req_body.decode("utf-8", "replace"), req_size, status,
        list(res_headers.items()), res_body.decode("utf-8", "replace"), res_size, computed,
    ])  # fmt: skip


def exchange_row(call: Call) -> str | None:
    """The exchange of `call` encoded now (`exchanges.item_of`, `exchange_text`)."""
    item = item_of(call)
    return exchange_text(item) if item is not None else None


def exchange_of_row(text: str) -> dict[str, Any] | None:
    found = json.loads(text)
    if isinstance(found, dict):  # a row of an earlier mocksrv: formatted already
        return found
    headers, req, req_size, status, res_headers, res, res_size, computed = found
    item = ([tuple(h) for h in headers], req.encode(), req_size, status,
            dict(tuple(h) for h in res_headers), res.encode(), res_size, computed, 0)  # fmt: skip
    return _format(item)
