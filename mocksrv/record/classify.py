"""What a recorded request was, told the way mocksrv's own routing tells it: the API, the
operation, the journal's fields, the key a recorded reply is pinned by, and the answer's outcome."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote

from mocksrv.upstream import Message

_SCOPE = re.compile(r"Credential=[^/,\s]*/[0-9]{8}/[^/,\s]+/([^/,\s]+)/aws4_request")
_XML_CODE = re.compile(rb"<Code>([A-Za-z0-9.]{1,100})</Code>")
# the answers of a refused signature: a replaying mocksrv checks signatures itself, so these are
# never pinned as recorded replies
SIGNATURE_ERRORS = frozenset(
    {
        "MissingAuthenticationTokenException", "IncompleteSignatureException",
        "UnrecognizedClientException", "InvalidSignatureException", "MissingAuthenticationToken",
        "InvalidSignature", "SignatureDoesNotMatch", "InvalidAccessKeyId",
        "AuthorizationHeaderMalformed", "RequestTimeTooSkewed",
        "AuthorizationQueryParametersError", "IncompleteSignature", "InvalidClientTokenId",
    }
)  # fmt: skip


@dataclass
class Seen:
    """One request as the journal describes it, and its recorded-reply key (None: not pinned)."""

    api: str | None = None
    operation: str | None = None
    fields: dict[str, Any] = field(default_factory=dict)
    key: tuple[str, ...] | None = None
    outcome: str | None = None
    signature_failed: bool = False


def classify(request: Message, response: Message) -> Seen:
    path, _, query = request.target.partition("?")
    seen = (
        _agcod(request, path) or _prime(request, path) or _by_scope(request, path, query) or Seen()
    )
    seen.outcome = _outcome(seen.api, response)
    seen.signature_failed = response.status in (400, 403) and seen.outcome in SIGNATURE_ERRORS
    if seen.signature_failed:
        seen.key = None
    return seen


def _agcod(request: Message, path: str) -> Seen | None:
    from mocksrv.services.agcod.config import OPERATIONS
    from mocksrv.services.agcod.exceptions import AgcodError
    from mocksrv.services.agcod.shapes import parse_body

    operation = path.strip("/")
    if request.method != "POST" or operation not in OPERATIONS:
        return None
    seen = Seen("agcod", operation)
    try:
        fields = parse_body(operation, request.body, request.header("content-type") or "", False)
    except AgcodError:
        return seen
    for name, value in fields.items():
        if name == "value" and isinstance(value, dict):  # as the journal has it
            amount = value.get("amount")
            money = {"amount": float(amount) if amount is not None else None,
                     "currencyCode": value.get("currencyCode")}  # fmt: skip
            seen.fields.update(money, value=money)
        elif isinstance(value, str):
            seen.fields[name] = value
    id_name = OPERATIONS[operation]
    partner, request_id = fields.get("partnerId"), fields.get(id_name) if id_name else ""
    if isinstance(partner, str) and isinstance(request_id, str):
        seen.key = (operation, partner, request_id)
    return seen


def _prime(request: Message, path: str) -> Seen | None:
    from mocksrv.services.prime.routes import ENDPOINTS

    parts = path.split("/")
    for ep in ENDPOINTS:
        segs = ep.template.split("/")
        if ep.method != request.method or len(segs) != len(parts):
            continue
        params = {}
        for seg, part in zip(segs, parts, strict=True):
            if seg.startswith("{"):
                params[seg[1:-1]] = unquote(part)
            elif seg != part:
                break
        else:
            if all(params.values()):
                key = (ep.operation, params["benefitId"], params["offerCode"])
                return Seen("prime", ep.operation, params, key)
    return None


def _by_scope(request: Message, path: str, query: str) -> Seen | None:
    auth = request.header("authorization") or ""
    found = _SCOPE.search(auth) or _SCOPE.search("Credential=" + _query_credential(query))
    service = found.group(1) if found else None
    if service == "s3":
        from mocksrv.services.promotions.access import classify as s3_target

        target = s3_target(
            request.method, request.header("host") or "", path, query,
            request.header("x-amz-copy-source") or "",
        )  # fmt: skip
        seen = Seen("promotions", target.operation, {"bucket": target.bucket, "key": target.key})
        if target.bucket:
            seen.key = (target.operation, target.bucket, target.key)
        return seen
    if service in ("sts", "iam"):
        form = parse_qs(request.body.decode("utf-8", "replace")) if request.body else {}
        actions = form.get("Action") or parse_qs(query).get("Action") or []
        return Seen("sts", actions[0] if actions else None)
    return None


def _query_credential(query: str) -> str:
    return unquote((parse_qs(query).get("X-Amz-Credential") or [""])[0])


def _outcome(api: str | None, response: Message) -> str | None:
    body = response.body
    if body[:1] == b"{":
        try:
            data = json.loads(body)
        except ValueError:
            data = None
        if isinstance(data, dict):
            return _json_outcome(data)
    found = _XML_CODE.search(body[:4096])
    if found:
        return found.group(1).decode()
    for tag in (b"errorType", b"status"):  # AGCOD XML
        hit = re.search(rb"<" + tag + rb">([A-Za-z0-9:_]{1,100})</" + tag + rb">", body[:4096])
        if hit:
            return hit.group(1).decode()
    return "OK" if response.status < 300 else f"HTTP{response.status}"


def _json_outcome(data: dict[str, Any]) -> str | None:
    if "errorCode" in data and "errorType" in data:  # AGCOD
        return f"{data['errorCode']}:{data['errorType']}"
    error = data.get("error")
    if isinstance(error, dict) and "code" in error:  # Prime
        return str(error["code"])
    for key in ("__type", "message", "status"):
        if isinstance(data.get(key), str):
            return str(data[key]).rsplit("#", 1)[-1]  # AWS JSON types may carry a namespace
    return None
