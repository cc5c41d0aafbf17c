"""One HTTP exchange as the services see it: raw request data plus what the service learned."""

from __future__ import annotations

import io
import itertools
import secrets
import time
from dataclasses import dataclass, field
from typing import IO, TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote

from mocksrv import sigv4
from mocksrv.http import BODY_REFUSED, Response

if TYPE_CHECKING:
    from mocksrv.runtime import Runtime

_SAFE_PATH = "/~!$&'()*+,;=:@-._"
_ENVIRON_KEYS: dict[str, str] = {"content-type": "CONTENT_TYPE", "content-length": "CONTENT_LENGTH"}
_ID_BASE = secrets.randbits(128)
_ID_SEQ = itertools.count(1)
_ID_MASK = (1 << 128) - 1


def new_request_id() -> str:
    """A UUID-shaped id, unique per process: a random base plus a counter (cheaper than uuid4)."""
    h = f"{(_ID_BASE + next(_ID_SEQ)) & _ID_MASK:032x}"
    return f"{h[:8]}-{h[8:12]}-4{h[13:16]}-a{h[17:20]}-{h[20:]}"


def _environ_key(name: str) -> str:
    key = _ENVIRON_KEYS.get(name)
    if key is None:
        key = "HTTP_" + name.upper().replace("-", "_")
        if len(_ENVIRON_KEYS) < 1024:  # names come from clients: keep the memo bounded
            _ENVIRON_KEYS[name] = key
    return key


class Headers:
    """Request headers by lower-case name, read from the WSGI environ on demand (no copy)."""

    __slots__ = ("_environ",)

    def __init__(self, environ: dict[str, Any]) -> None:
        self._environ = environ

    def get(self, name: str, default: Any = None) -> Any:
        value = self._environ.get(_ENVIRON_KEYS.get(name) or _environ_key(name))
        if value:  # the usual case first: a header sent, not empty
            return value
        return default if value is None or name.startswith("content-") else value

    def __getitem__(self, name: str) -> str:
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return str(value)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def items(self) -> list[tuple[str, str]]:
        out = [
            (k[5:].replace("_", "-").lower(), v)
            for k, v in self._environ.items()
            if k[:5] == "HTTP_"
        ]
        out += [
            (n, self._environ[k])
            for n, k in (("content-type", "CONTENT_TYPE"), ("content-length", "CONTENT_LENGTH"))
            if self._environ.get(k)
        ]
        return out


class BodyTooLarge(Exception):
    """The request body exceeds the configured cap."""


def _seekable(stream: Any) -> bool:
    seekable = getattr(stream, "seekable", None)
    return bool(seekable is not None and seekable())


@dataclass
class Call:
    """The request as received, and what the handling service recorded about it."""

    environ: dict[str, Any]
    runtime: Runtime
    method: str
    raw_path: str
    path: str
    query_string: str
    headers: Headers
    started: float = field(default_factory=time.perf_counter)
    request_id: str = field(default_factory=new_request_id)
    # filled by the service, read by the journal, expectations and faults
    api: str = ""
    operation: str = ""
    identity: str = ""
    outcome: str = ""
    status: int = 0
    signature_failed: bool = False
    # on a signature mismatch: the canonical request and string-to-sign the server computed
    signature_computed: dict[str, str] | None = None
    signature_detail: str = ""  # on a signature failure: what did not match (the request log)
    fields: dict[str, Any] = field(default_factory=dict)
    response: Response | None = None
    _body: bytes | None = None
    _stream: IO[bytes] | None = None  # a large body handed on as the server's file (`payload`)
    # the header the answer names its request id in (not a field: S3 sets x-amz-request-id)
    id_header = "x-amzn-RequestId"

    @classmethod
    def from_environ(cls, environ: dict[str, Any], runtime: Runtime) -> Call:
        headers = Headers(environ)
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
            length = self._length(limit)
            stream = self.environ["wsgi.input"]
            data = stream.read(length) if length else b""
            if (
                not length
                and "HTTP_TRANSFER_ENCODING" in self.environ
                and self.headers.get("transfer-encoding", "").lower() == "chunked"
            ):
                data = stream.read(limit + 1)
                if len(data) > limit:
                    raise BodyTooLarge(f"Request body exceeds the {limit}-byte limit")
            self._body = data
        return self._body

    def check_body(self, limit: int | None = None) -> None:
        """The body cap alone: raises BodyTooLarge past `limit`, reads nothing."""
        if self._body is None:
            self._length(limit if limit is not None else self.runtime.settings.max_body_bytes)

    def _length(self, limit: int) -> int:
        try:
            length = int(self.headers.get("content-length") or 0)
        except ValueError:
            length = 0
        if length > limit:
            raise BodyTooLarge(f"Request body of {length} bytes exceeds the {limit}-byte limit")
        refused = self.environ.get(BODY_REFUSED)
        if refused is not None:  # over the server's cap as it arrived (chunked): never read
            raise BodyTooLarge(f"Request body exceeds the {refused}-byte limit")
        return length

    def payload(self) -> bytes | IO[bytes]:
        """The body to hash and hand on whole: its bytes when it is in memory, else the server's
        file of a large body, rewound (so a large body never becomes one bytes object here)."""
        if self._body is not None:
            return self._body
        stream = self.environ["wsgi.input"]
        if stream.__class__ is io.BytesIO or not _seekable(stream):  # its cap was checked before
            self._body = stream.read()  # a BytesIO hands over its bytes object, no copy
            return self._body
        stream.seek(0)
        self._stream = stream
        return stream

    def peek_body(self, limit: int) -> tuple[bytes, int]:
        """The first `limit` bytes of the body a service read and its size; (b"", 0) if none
        read (the stream is never read for this otherwise)."""
        data = self._body
        if data is not None:
            return (data if len(data) <= limit else data[:limit]), len(data)
        stream = self._stream
        if stream is None or stream.closed:
            return b"", 0
        size = stream.seek(0, io.SEEK_END)
        stream.seek(0)
        return stream.read(limit), size

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
                body=self.payload(),
                keyring=self.runtime.keyring,
                policy=policy,
            )
        except sigv4.SigV4Failure as failure:
            self.signature_failed = True
            self.outcome = f"signature:{failure.kind}"
            self.signature_computed = failure.computed or None
            self.signature_detail = describe_failure(failure)
            if failure.identity is not None:  # the key is known: whose call failed
                self.identity = failure.identity.name
            if failure.debug:
                self.runtime.log_signature_debug(self, failure)
            raise
        self.identity = ident.name
        return ident, auth

    def finish(self, response: Response) -> Response:
        self.status = response.status_code
        self.response = response
        response.headers[self.id_header] = self.request_id
        return response


def describe_failure(failure: sigv4.SigV4Failure) -> str:
    """What did not match, for the request log: the key and whose it is, the scope, the time
    skew. Never a secret, nor the signature."""
    auth = failure.auth
    if failure.kind == "missing":
        return "no Authorization header"
    if failure.kind == "malformed" or auth is None:
        return failure.message.split(" Authorization=", 1)[0]
    who = f"key {auth.access_key}"
    if failure.identity is not None:
        who += f" ({failure.identity.name})"
    scope = f"scope {auth.date}/{auth.region}/{auth.service}"
    if failure.kind == "unknown_key":
        return f"unknown {who}"
    if failure.kind == "mismatch" and not failure.computed:  # the payload hash
        return f"{who}: {failure.message}"
    if failure.kind == "mismatch":
        return f"{who}, {scope}: the signature does not match the request as received"
    return f"{who}, {scope}: {failure.message}"
