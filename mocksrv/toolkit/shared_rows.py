"""A SQL state's journal rows: an entry and its exchange as flat JSON lists, formatted on read."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from mocksrv.clock import iso, parse_instant
from mocksrv.toolkit.exchanges import _SECRET_HEADERS as SECRET_HEADERS
from mocksrv.toolkit.exchanges import _SECRET_XML as SECRET_XML
from mocksrv.toolkit.exchanges import BODY_BYTES, _cut, _cut_text, _format
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


def exchange_row(call: Call) -> str | None:
    """What was sent and answered, as a flat JSON list (`exchange_of_row` formats it as
    `Exchanges.get` does): the request's headers, bodies up to BODY_BYTES with their sizes, the
    status, the answer's headers, the SigV4 texts. Credentials are cut before they are kept
    (session tokens sent, STS's secrets answered), as they are shown."""
    response = call.response
    if response is None:
        return None
    req_body, req_size = call.peek_body(BODY_BYTES)
    res_body, res_size = _cut(response.get_data(), BODY_BYTES)
    if b"<SecretAccessKey>" in res_body or b"<SessionToken>" in res_body:  # STS's answers
        res_body = SECRET_XML.sub(rb"\1\3...\4", res_body)
    computed = _cut_text(call.signature_computed) if call.signature_computed else None
    headers = call.headers.items()
    environ = call.environ
    if _SECRETS[0] in environ or _SECRETS[1] in environ:
        headers = [(n, v[:8] + "..." if n in SECRET_HEADERS and len(v) > 8 else v)
                   for n, v in headers]  # fmt: skip
    return json.dumps([
        headers, req_body.decode("utf-8", "replace"), req_size, response.status_code,
        list(response.headers.items()), res_body.decode("utf-8", "replace"), res_size, computed,
    ])  # fmt: skip


def exchange_of_row(text: str) -> dict[str, Any] | None:
    found = json.loads(text)
    if isinstance(found, dict):  # a row of an earlier mocksrv: formatted already
        return found
    headers, req, req_size, status, res_headers, res, res_size, computed = found
    item = ([tuple(h) for h in headers], req.encode(), req_size, status,
            dict(tuple(h) for h in res_headers), res.encode(), res_size, computed, 0)  # fmt: skip
    return _format(item)
