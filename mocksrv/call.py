"""One HTTP exchange as the services see it: raw request data plus what the service learned."""

from __future__ import annotations

import itertools
import secrets
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote

from mocksrv import sigv4
from mocksrv.http import Response

if TYPE_CHECKING:
    from mocksrv.runtime import Runtime

_SAFE_PATH = "/~!$&'()*+,;=:@-._"
_HEADER_NAMES: dict[str, str] = {}  # environ key -> header name, memoised (a handful of names)
_ID_BASE = secrets.randbits(128)
_ID_SEQ = itertools.count(1)
_ID_MASK = (1 << 128) - 1


def new_request_id() -> str:
    """A UUID-shaped id, unique per process: a random base plus a counter (cheaper than uuid4)."""
    h = f"{(_ID_BASE + next(_ID_SEQ)) & _ID_MASK:032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def _header_name(key: str) -> str:
    name = _HEADER_NAMES.get(key)
    if name is None:
        name = _HEADER_NAMES[key] = key[5:].replace("_", "-").lower()
    return name


class BodyTooLarge(Exception):
    """The request body exceeds the configured cap."""


@dataclass
class Call:
    """The request as received, and what the handling service recorded about it."""

    environ: dict[str, Any]
    runtime: Runtime
    method: str
    raw_path: str
    path: str
    query_string: str
    headers: dict[str, str]
    started: float = field(default_factory=time.perf_counter)
    request_id: str = field(default_factory=new_request_id)
    # filled by the service, read by the journal, expectations and faults
    api: str = ""
    operation: str = ""
    identity: str = ""
    outcome: str = ""
    status: int = 0
    signature_failed: bool = False
    fields: dict[str, Any] = field(default_factory=dict)
    _body: bytes | None = None

    @classmethod
    def from_environ(cls, environ: dict[str, Any], runtime: Runtime) -> Call:
        headers = {_header_name(k): v for k, v in environ.items() if k[:5] == "HTTP_"}
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        if environ.get("CONTENT_LENGTH"):
            headers["content-length"] = environ["CONTENT_LENGTH"]
        path = environ.get("PATH_INFO", "") or "/"
        raw = environ.get("REQUEST_URI") or environ.get("RAW_URI") or ""
        if raw.startswith(("http://", "https://")):
            raw = "/" + raw.split("/", 3)[3] if raw.count("/") >= 3 else "/"
        raw_path = raw.split("?", 1)[0] if raw else quote(path, safe=_SAFE_PATH)
        return cls(
            environ=environ,
            runtime=runtime,
            method=environ.get("REQUEST_METHOD", "GET"),
            raw_path=raw_path,
            path=path,
            query_string=environ.get("QUERY_STRING", ""),
            headers=headers,
        )

    def body(self, limit: int | None = None) -> bytes:
        """The raw body bytes, read once; raises BodyTooLarge past `limit`."""
        if self._body is None:
            limit = limit if limit is not None else self.runtime.settings.max_body_bytes
            try:
                length = int(self.headers.get("content-length") or 0)
            except ValueError:
                length = 0
            if length > limit:
                raise BodyTooLarge(f"Request body of {length} bytes exceeds the {limit}-byte limit")
            stream = self.environ["wsgi.input"]
            data = stream.read(length) if length else b""
            if not length and self.headers.get("transfer-encoding", "").lower() == "chunked":
                data = stream.read(limit + 1)
                if len(data) > limit:
                    raise BodyTooLarge(f"Request body exceeds the {limit}-byte limit")
            self._body = data
        return self._body

    def query(self) -> dict[str, str]:
        return dict(parse_qsl(self.query_string, keep_blank_values=True))

    def verify_signature(
        self, policy: sigv4.VerifyPolicy
    ) -> tuple[sigv4.Identity, sigv4.ParsedAuth]:
        """Verify SigV4 on this request; records the identity or the failure on the call."""
        try:
            ident, auth = sigv4.verify(
                method=self.method,
                raw_path=self.raw_path,
                query_string=self.query_string,
                headers=self.headers,
                body=self.body(),
                keyring=self.runtime.keyring,
                policy=policy,
            )
        except sigv4.SigV4Failure as failure:
            self.signature_failed = True
            self.outcome = f"signature:{failure.kind}"
            if failure.debug:
                self.runtime.log_signature_debug(self, failure)
            raise
        self.identity = ident.name
        return ident, auth

    def finish(self, response: Response) -> Response:
        self.status = response.status_code
        response.headers["x-amzn-RequestId"] = self.request_id
        return response
