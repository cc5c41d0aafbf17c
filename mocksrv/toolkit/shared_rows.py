"""A SQL state's journal rows: an entry and its exchange as flat JSON lists, formatted on read."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from mocksrv.call import Headers
from mocksrv.clock import iso, parse_instant
from mocksrv.toolkit.exchanges import _SECRET_HEADERS as SECRET_HEADERS
from mocksrv.toolkit.exchanges import _SECRET_XML as SECRET_XML
from mocksrv.toolkit.exchanges import (
    BODY_BYTES,
    HEADER_ESTIMATE,
    LONG_PATH,
    _cut,
    _cut_text,
    _format,
)
from mocksrv.toolkit.journal import Raw, entry_of_raw

if TYPE_CHECKING:
    from mocksrv.call import Call

_ENCODE = json.JSONEncoder(default=str).encode  # made once: `json.dumps(default=...)` makes one
# per call


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


def exchange_item(call: Call) -> tuple[Any, ...] | None:
    """What was sent and answered, as references (cheap; `exchange_text` encodes it): the
    environ the request's headers are read from (a copy of them for a large body or a long
    path), the bodies cut at BODY_BYTES with their sizes, the status, the answer's headers, the
    SigV4 texts, and the bytes it holds."""
    response = call.response
    if response is None:
        return None
    req_body, req_size = call.peek_body(BODY_BYTES)
    res_body, res_size = _cut(response.get_data(), BODY_BYTES)
    small = req_size <= BODY_BYTES and len(call.environ.get("REQUEST_URI") or "") <= LONG_PATH
    headers: Any = call.environ if small else call.headers.items()
    computed = _cut_text(call.signature_computed) if call.signature_computed else None
    size = len(req_body) + len(res_body) + HEADER_ESTIMATE
    if computed:
        size += sum(len(v) for v in computed.values())
    return (headers, req_body, req_size, response.status_code, response.headers, res_body,
            res_size, computed, size)  # fmt: skip


def exchange_text(item: tuple[Any, ...]) -> str:
    """An exchange (`exchange_item`) as a flat JSON list (`exchange_of_row` formats it as
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
    """The exchange of `call` encoded now (`exchange_item`, `exchange_text`)."""
    item = exchange_item(call)
    return exchange_text(item) if item is not None else None


def exchange_of_row(text: str) -> dict[str, Any] | None:
    found = json.loads(text)
    if isinstance(found, dict):  # a row of an earlier mocksrv: formatted already
        return found
    headers, req, req_size, status, res_headers, res, res_size, computed = found
    item = ([tuple(h) for h in headers], req.encode(), req_size, status,
            dict(tuple(h) for h in res_headers), res.encode(), res_size, computed, 0)  # fmt: skip
    return _format(item)
