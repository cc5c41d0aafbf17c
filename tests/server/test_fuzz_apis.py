"""Issue 10: hypothesis feeds generated paths, headers and bodies to each API over a real socket.

Each request is signed by botocore (never by mocksrv's signer), then sent either as signed or
with its signature, payload hash or a header spoiled. Whatever comes in, the answer is a 4xx or
2xx in the API's own shape, never a 5xx, and the server logs no traceback.

MOCKSRV_FUZZ_EXAMPLES sets the examples per API (default: a short CI budget); docs/hardening.md
has the long run.
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mocksrv.server import ServerThread
from tests.support.agcod import DEFAULT, UNTHROTTLED
from tests.support.fuzzing import Counting, Tracebacks, budget

EXAMPLES = budget(60)
# the short default budget is derandomized (the same examples on every CI run); a long run explores
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize="MOCKSRV_FUZZ_EXAMPLES" not in os.environ,
    suppress_health_check=list(HealthCheck),
)
IDENTITIES = {
    "prime": ("AKIAMOCKSRVPRIME0001", "MockSrvPrimeDemoSecretKey000000000000001", "execute-api"),
    "agcod": ("AKIAMOCKSRVAGCOD0001", "MockSrvAgcodDemoSecretKey000000000000001", "AGCODService"),
    "s3": ("AKIAMOCKSRVPROMO0001", "MockSrvPromoDemoSecretKey000000000000001", "s3"),
}
OPERATIONS = ["CreateGiftCard", "CancelGiftCard", "GetAvailableFunds", "ActivateGiftCard",
              "DeactivateGiftCard", "ActivationStatusCheck"]  # fmt: skip
FIELDS = ["creationRequestId", "partnerId", "value", "gcId", "externalReference", "programId",
          "productType", "activationRequestId", "cardNumber", "statusCheckRequestId"]  # fmt: skip

BUCKETS = ["partner-promotions-devo", "partner-promotions", "other"]
text = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)
header_text = st.text(st.characters(min_codepoint=0x20, max_codepoint=0xFF), max_size=60)
numbers = st.one_of(
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["1e999999999", "1e400", "-0", "0.001", "10", "1E-999"]),
)
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), numbers, text),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(FIELDS) | text, inner, max_size=5),
    ),
    max_leaves=12,
)
plausible = st.fixed_dictionaries(
    {
        "partnerId": st.sampled_from(["Mocks", "Mocks", "MocksProd"]) | text,
        "creationRequestId": st.sampled_from(["MocksFz1", "F0000", "F2005", "MocksProdFz"]) | text,
        "value": st.fixed_dictionaries(
            {"amount": numbers, "currencyCode": st.sampled_from(["USD", "EUR"]) | text}
        ),
    },
    optional={"gcId": text, "activationRequestId": text, "cardNumber": text, "extra": json_values},
)
spoil = st.sampled_from(["none", "none", "signature", "sha256", "date", "drop-auth", "header"])


@pytest.fixture(scope="module")
def server(module_server_factory):
    return module_server_factory([DEFAULT, UNTHROTTLED], wrap=Counting)


@pytest.fixture(scope="module")
def tracebacks() -> Iterator[Tracebacks]:
    with Tracebacks() as handler:
        yield handler


def sign(api: str, method: str, url: str, headers: dict[str, str], body: bytes) -> dict[str, str]:
    key, secret, service = IDENTITIES[api]
    req = AWSRequest(method=method, url=url, data=body, headers=headers)
    signer = S3SigV4Auth if api == "s3" else SigV4Auth
    signer(Credentials(key, secret), service, "us-east-1").add_auth(req)
    return dict(req.headers.items())


def spoiled(headers: dict[str, str], how: str, junk: str) -> dict[str, str]:
    out = dict(headers)
    if how == "signature":
        auth = out["Authorization"]
        out["Authorization"] = auth[: auth.rindex("Signature=") + 10] + junk
    elif how == "sha256":
        out["X-Amz-Content-SHA256"] = junk
    elif how == "date":
        out["X-Amz-Date"] = junk
    elif how == "drop-auth":
        out.pop("Authorization", None)
    elif how == "header":
        out["X-Fuzz"] = junk
    return out


def send(srv: ServerThread, method: str, target: str, headers: dict[str, str], body: bytes):
    """One request on a fresh socket (Latin-1 header bytes as given); status, headers, body."""
    import http.client

    lines = [f"{method} {target} HTTP/1.1"]
    lines += [
        f"{k}: {v}" for k, v in headers.items() if k.lower() not in ("content-length", "host")
    ]
    lines += [f"Host: 127.0.0.1:{srv.port}", f"Content-Length: {len(body)}", "Connection: close"]
    head = "\r\n".join(lines).encode("latin-1", "replace") + b"\r\n\r\n"
    with socket.create_connection(("127.0.0.1", srv.port), timeout=30) as sock:
        sock.sendall(head + body)
        resp = http.client.HTTPResponse(sock, method=method)
        resp.begin()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()


def check(api: str, status: int, headers: dict[str, str], body: bytes, tracebacks: Tracebacks):
    assert status < 500, (status, body[:500])
    assert not tracebacks.records, [r.getMessage() for r in tracebacks.records]
    ctype = headers.get("content-type", "")
    if status >= 400 and body:
        if "json" in ctype:
            json.loads(body)
        else:
            assert body.lstrip().startswith(b"<"), body[:200]


def exchange(srv, api, method, path, headers, body, how, junk, tracebacks) -> None:
    url = f"http://127.0.0.1:{srv.port}{path}"
    signed = spoiled(sign(api, method, url, headers, body), how, junk)
    status, answer_headers, answer = send(srv, method, path, signed, body)
    check(api, status, answer_headers, answer, tracebacks)


@FUZZ
@given(
    benefit=st.sampled_from(["PRIME_3P_PARTNER_BENEFIT"]) | text,
    code=st.sampled_from(["123456789", "100000001", "444444444"]) | text,
    operation=st.sampled_from(["verify", "redeem", "auth-code"]) | text,
    method=st.sampled_from(["its own", "its own", "GET", "POST", "PUT", "DELETE"]),
    headers=st.fixed_dictionaries(
        {
            "x-amz-marketplace": st.sampled_from(["US", "US", "UK"]) | header_text,
            "x-amz-request-id": st.sampled_from(["r-1"]) | header_text,
        },
        optional={
            "x-amz-time-zone": st.sampled_from(["UTC", "America/New_York", "../etc"]) | header_text,
            "x-amz-offer-code-redemption-time": header_text,
        },
    ),
    body=st.binary(max_size=200),
    how=spoil,
    junk=header_text,
)
def test_prime(server, tracebacks, benefit, code, operation, method, headers, body, how, junk):
    if method == "its own":
        method = "POST" if operation == "redeem" else "GET"
    path = "/v1/customer/benefit/" + "/".join(
        quote(p, safe="") for p in (benefit, "offer-code", code, operation)
    )
    exchange(server, "prime", method, path, headers, body, how, junk, tracebacks)


@FUZZ
@given(
    operation=st.sampled_from(OPERATIONS) | text,
    payload=plausible | json_values,
    form=st.sampled_from(["json", "xml", "raw"]),
    raw=st.binary(max_size=300),
    ctype=st.sampled_from(["application/json", "application/xml", "text/plain", ""]),
    target=st.booleans(),
    how=spoil,
    junk=header_text,
)
def test_agcod(server, tracebacks, operation, payload, form, raw, ctype, target, how, junk):
    if form == "json":
        body = json.dumps(payload).encode()
    elif form == "xml":
        body = xml_of(f"{operation}Request", payload).encode()
    else:
        body = raw
    headers = {
        "Content-Type": ctype,
        "Accept": "application/json" if form != "xml" else "application/xml",
    }
    if target:
        headers["X-Amz-Target"] = f"com.amazonaws.agcod.AGCODService.{operation}"
    exchange(server, "agcod", "POST", "/" + quote(operation, safe=""), headers, body, how, junk,
             tracebacks)  # fmt: skip


def xml_of(root: str, value: Any) -> str:
    from xml.sax.saxutils import escape

    def inner(v: Any) -> str:
        if isinstance(v, dict):
            return "".join(f"<{_tag(k)}>{inner(x)}</{_tag(k)}>" for k, x in v.items())
        if isinstance(v, list):
            return "".join(f"<item>{inner(x)}</item>" for x in v)
        return escape(str(v))

    return f"<{_tag(root)}>{inner(value)}</{_tag(root)}>"


def _tag(name: str) -> str:
    cleaned = "".join(c for c in name if c.isalnum()) or "x"
    return cleaned if cleaned[0].isalpha() else "x" + cleaned


@FUZZ
@given(
    method=st.sampled_from(["GET", "PUT", "HEAD", "DELETE", "POST"]),
    bucket=st.sampled_from(BUCKETS) | text,
    key=st.sampled_from(["", "inbound/x.csv", "a/b/../c"]) | text,
    query=st.sampled_from(["", "list-type=2", "uploads", "acl", "prefix=a&max-keys=-1", "x-id=1"])
    | text,
    headers=st.fixed_dictionaries(
        {},
        optional={
            "x-amz-meta-note": header_text,
            "Content-MD5": header_text,
            "Range": st.sampled_from(["bytes=0-1", "bytes=-5", "bytes=9-1"]) | header_text,
            "x-amz-copy-source": header_text,
            "Content-Type": header_text,
        },
    ),
    body=st.binary(max_size=300),
    how=spoil,
    junk=header_text,
)
def test_s3(server, tracebacks, method, bucket, key, query, headers, body, how, junk):
    path = "/" + quote(bucket, safe="") + ("/" + quote(key, safe="/") if key else "")
    target = path + ("?" + quote(query, safe="=&") if query else "")
    exchange(server, "s3", method, target, headers, body, how, junk, tracebacks)


def test_fuzz_totals(server):
    """Runs last in this module: the figures of the whole run (printed; none may be a 5xx)."""
    counts = server.app
    print(f"fuzzed API requests: {counts.total}, statuses {dict(sorted(counts.statuses.items()))}")
    assert counts.server_errors == 0
