"""Server-side AWS Signature Version 4 verification, with the standard AWS failure texts."""

from __future__ import annotations

import hashlib
import hmac
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import IO, NamedTuple

from mocksrv.canonical import CACHE_KEY_CHARS, HeaderLookup, canonical_request_text, signed_list
from mocksrv.canonical import canonical_query as canonical_query  # re-exported: sigv4.canonical_*
from mocksrv.canonical import canonical_uri as canonical_uri
from mocksrv.canonical import payload_sha256 as payload_sha256  # re-exported too

ALGORITHM = "AWS4-HMAC-SHA256"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_UNSIGNED = ("UNSIGNED-PAYLOAD", "STREAMING-")

MSG_MISSING = "Missing Authentication Token"
MSG_UNKNOWN_KEY = "The security token included in the request is invalid."
MSG_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)


@dataclass(frozen=True)
class Identity:
    """A signing identity from the scenario: who signs, for which API, in which regions."""

    name: str
    api: str  # "prime" | "agcod" | "promotions"
    access_key: str
    secret_key: str = field(repr=False)
    regions: tuple[str, ...] = ()
    extra: dict[str, object] = field(default_factory=dict, compare=False, hash=False)


class SigV4Failure(Exception):
    """Verification failed. `kind` is one of: missing, malformed, unknown_key, mismatch, skew,
    scope_service, scope_region, scope_date. `debug` holds what the server computed."""

    def __init__(
        self,
        kind: str,
        message: str,
        debug: dict[str, str] | None = None,
        computed: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.kind, self.message, self.debug = kind, message, debug or {}
        self.computed = computed or debug or {}  # for the dashboard, whatever the debug switch
        self.identity: Identity | None = None  # whose key signed, when the key is known
        self.auth: ParsedAuth | None = None


class ParsedAuth(NamedTuple):
    access_key: str
    date: str
    region: str
    service: str
    signed_headers: tuple[str, ...]
    signature: str
    raw: str


# what botocore, the AWS SDKs and curl send; anything else takes the lenient path below
_USUAL = re.compile(
    r"AWS4-HMAC-SHA256 Credential=([A-Za-z0-9]+)/(\d{8})/([a-z0-9-]+)/([A-Za-z0-9-]+)/aws4_request,"
    r" ?SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})"
)


def equal_digest(a: str, b: str) -> bool:
    """Constant-time comparison of client text with a computed hex digest (any characters)."""
    return hmac.compare_digest(a.encode("utf-8", "replace"), b.encode("utf-8", "replace"))


def parse_authorization(header: str) -> ParsedAuth:
    """Parse `AWS4-HMAC-SHA256 Credential=.., SignedHeaders=.., Signature=..` leniently."""
    m = _USUAL.fullmatch(header)
    if m:
        key, date, region, service, signed, signature = m.groups()
        return ParsedAuth(key, date, region, service, signed_list(signed), signature, header)
    algo, _, rest = header.strip().partition(" ")
    if algo != ALGORITHM:
        raise SigV4Failure(
            "malformed",
            f"Authorization header requires 'Credential' parameter. "
            f"Authorization header requires 'Signature' parameter. "
            f"Authorization header requires 'SignedHeaders' parameter. Authorization={header}",
        )
    parts: dict[str, str] = {}
    for chunk in rest.split(","):
        key, sep, value = chunk.strip().partition("=")
        if sep:
            parts[key.strip()] = value.strip()
    missing = [p for p in ("Credential", "Signature", "SignedHeaders") if not parts.get(p)]
    scope = parts.get("Credential", "").split("/")
    if not missing and (len(scope) != 5 or scope[4] != "aws4_request" or not scope[0]):
        raise SigV4Failure(
            "malformed",
            "Credential should be scoped with a valid terminator: 'aws4_request', "
            f"not '{scope[-1]}'. Expected '<AccessKeyId>/<yyyymmdd>/<region>/<service>/aws4_request'.",
        )
    if missing:
        text = " ".join(f"Authorization header requires '{p}' parameter." for p in missing)
        raise SigV4Failure("malformed", f"{text} Authorization={header}")
    signed = signed_list(parts["SignedHeaders"])
    return ParsedAuth(
        access_key=scope[0],
        date=scope[1],
        region=scope[2],
        service=scope[3],
        signed_headers=signed,
        signature=parts["Signature"].lower(),
        raw=header,
    )


def credential_service(header: str | None, query: dict[str, str] | None = None) -> str | None:
    """The service named in the credential scope (header or presigned query), for routing only."""
    if header and header.startswith(ALGORITHM):
        start = header.find("Credential=")
        if start >= 0:
            scope = header[start + 11 :].split(",", 1)[0].strip().split("/")
            if len(scope) == 5:
                return scope[3]
        return None
    if query:
        cred = query.get("X-Amz-Credential")
        if cred:
            scope = cred.split("/")
            if len(scope) == 5:
                return scope[3]
    if header and header.startswith("AWS "):
        return "s3"  # SigV2 is only used by S3 clients
    return None


def _fmt_amz(dt: datetime) -> str:
    return dt.strftime("%Y%m%dT%H%M%SZ")


def _parse_amz_date(text: str) -> datetime | None:
    """`20210504T201012Z` as an aware datetime (cached: clients send the same second many times)."""
    return _parse_amz_date_cached(text) if len(text) == 16 else None


@lru_cache(maxsize=1024)
def _parse_amz_date_cached(text: str) -> datetime | None:
    try:
        return datetime.strptime(text, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


def _window_text(seconds: int) -> str:
    return f"{seconds // 60} min." if seconds % 60 == 0 else f"{seconds} sec."


class Keyring:
    """Identities by access key, with a cache of derived signing keys (computed once per day).
    Temporary keys (`ASIA...`) are resolved from their session token by the sources added at
    install (STS), only for the APIs that take temporary credentials."""

    def __init__(self, identities: list[Identity]) -> None:
        self._by_key = {i.access_key: i for i in identities}
        self._keys: dict[tuple[str, str, str, str], bytes] = {}
        self._lock = threading.Lock()
        self._sources: list[Callable[[str, str], Identity | None]] = []

    def add_source(self, lookup: Callable[[str, str], Identity | None]) -> None:
        """`lookup(access key, session token)`: the session's identity, or None."""
        self._sources.append(lookup)

    def get(self, access_key: str) -> Identity | None:
        """The scenario identity of a long-term key, whatever its API."""
        return self._by_key.get(access_key)

    def lookup(self, access_key: str, policy: VerifyPolicy, token: str | None) -> Identity | None:
        """Who signs with this key for the policy's API: one of its own identities, or (where
        the API takes temporary credentials) the session whose token names this key. A session
        token beside a long-term key names no session of it: None, as for an unknown key."""
        ident = self._by_key.get(access_key)
        if ident is None:
            if token and policy.sessions and access_key.startswith("ASIA"):
                for source in self._sources:
                    ident = source(access_key, token)
                    if ident is not None:
                        break
        elif token:
            return None
        return ident if ident is not None and ident.api in policy.apis else None

    def identities(self) -> list[Identity]:
        return list(self._by_key.values())

    def signing_key(self, ident: Identity, date: str, region: str, service: str) -> bytes:
        cache_key = (ident.access_key, date, region, service)
        key = self._keys.get(cache_key)
        if key is None:
            k = hmac.new(
                ("AWS4" + ident.secret_key).encode(), date.encode(), hashlib.sha256
            ).digest()
            for part in (region, service, "aws4_request"):
                k = hmac.new(k, part.encode(), hashlib.sha256).digest()
            key = k
            if len(region) + len(service) > CACHE_KEY_CHARS:
                return key
            with self._lock:
                if len(self._keys) > 4096:
                    self._keys.clear()
                self._keys[cache_key] = key
        return key


@dataclass(frozen=True)
class VerifyPolicy:
    """What a service accepts: its service name, skew window (0 disables), path normalisation,
    the APIs whose identities may sign (`Identity.api`), and whether STS session keys may."""

    service: str
    skew_seconds: int = 300
    normalize_path: bool = True
    debug: bool = False
    apis: tuple[str, ...] = ()
    sessions: bool = False


def verify(
    *,
    method: str,
    raw_path: str,
    query_string: str,
    headers: HeaderLookup,
    body: bytes | IO[bytes],
    keyring: Keyring,
    policy: VerifyPolicy,
    now: datetime | None = None,
) -> tuple[Identity, ParsedAuth]:
    """Verify a header-signed request as received. `headers` has lower-cased names.

    Returns the identity, or raises SigV4Failure with the AWS text for the first problem found
    (the checks run here; a failure's text is built apart, only when one is raised).
    """
    header = headers.get("authorization")
    if not header:
        raise SigV4Failure("missing", MSG_MISSING)
    auth = parse_authorization(header)
    signed = auth.signed_headers
    amz_date = headers.get("x-amz-date", "")
    if "host" not in signed or not amz_date or "x-amz-date" not in signed:
        raise _shape_failure(auth, header, amz_date)
    signed_at = _parse_amz_date(amz_date)
    if signed_at is None:
        raise _date_failure(amz_date) from None
    ident = keyring.lookup(auth.access_key, policy, headers.get("x-amz-security-token"))
    if ident is None:
        failure = SigV4Failure("unknown_key", MSG_UNKNOWN_KEY)
        failure.auth = auth
        raise failure
    try:  # a failure from here on knows whose key signed (no cost unless one is raised)
        if (
            auth.date != amz_date[:8]
            or auth.service != policy.service
            or (ident.regions and auth.region not in ident.regions)
        ):
            raise _scope_failure(auth, amz_date, ident, policy)
        if policy.skew_seconds and (
            now is not None or abs(time.time() - signed_at.timestamp()) > policy.skew_seconds
        ):
            _check_skew(signed_at, amz_date, now or datetime.now(UTC), policy.skew_seconds)
        payload_hash = _payload_hash(headers.get("x-amz-content-sha256"), body)
        canonical_request = canonical_request_text(
            method, raw_path, query_string, headers, signed, policy.normalize_path, payload_hash
        )
        _check_signature(keyring, ident, auth, amz_date, canonical_request, policy.debug)
    except SigV4Failure as failure:
        failure.identity, failure.auth = ident, auth
        raise
    return ident, auth


def explain(failure: SigV4Failure) -> str:
    """The failure's text for the client: its message and, when it carries SigV4 debug, what
    the server computed, in the words AWS uses."""
    if not failure.debug:
        return failure.message
    return (
        f"{failure.message}\n\nThe Canonical String for this request should have been\n"
        f"'{failure.debug['canonicalRequest']}'\n\nThe String-to-Sign should have been\n"
        f"'{failure.debug['stringToSign']}'\n"
    )


def _check_signature(
    keyring: Keyring,
    ident: Identity,
    auth: ParsedAuth,
    amz_date: str,
    canonical_request: str,
    debug_on: bool,
) -> None:
    """The signature over the string to sign, compared in constant time; a mismatch carries
    what the server computed (`debug` only with SigV4 debug on, `computed` always)."""
    scope = f"{auth.date}/{auth.region}/{auth.service}/aws4_request"
    string_to_sign = "\n".join(
        (ALGORITHM, amz_date, scope, hashlib.sha256(canonical_request.encode()).hexdigest())
    )
    key = keyring.signing_key(ident, auth.date, auth.region, auth.service)
    expected = hmac.new(key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    if not equal_digest(auth.signature, expected):
        debug = {"canonicalRequest": canonical_request, "stringToSign": string_to_sign}
        raise SigV4Failure("mismatch", MSG_MISMATCH, debug if debug_on else {}, debug)


def _payload_hash(claimed: str | None, body: bytes | IO[bytes]) -> str:
    """The payload hash to sign with: the client's `x-amz-content-sha256` when it matches the
    body, the body's own hash when the header is absent; unsigned markers are signed as sent."""
    if claimed is None or claimed.startswith(_UNSIGNED):
        if claimed or not body:
            return claimed or EMPTY_SHA256
        # bytes hashed inline: the hot paths (AGCOD, Prime) pay no call for a file's case
        return hashlib.sha256(body).hexdigest() if body.__class__ is bytes else payload_sha256(body)
    if not equal_digest(claimed, payload_sha256(body)):
        raise SigV4Failure(
            "mismatch",
            "The provided 'x-amz-content-sha256' header does not match what was computed.",
        )
    return claimed


def _shape_failure(auth: ParsedAuth, header: str, amz_date: str) -> SigV4Failure:
    """The first of: Host not signed, no X-Amz-Date, X-Amz-Date not signed."""
    if "host" not in auth.signed_headers:
        return SigV4Failure(
            "malformed", "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
        )
    if not amz_date:
        return SigV4Failure(
            "malformed",
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. "
            f"Authorization={header}",
        )
    return SigV4Failure(
        "malformed", "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization."
    )


def _date_failure(amz_date: str) -> SigV4Failure:
    return SigV4Failure(
        "malformed",
        f"Date must be in ISO-8601 'basic format'. Got '{amz_date}'. "
        "See http://en.wikipedia.org/wiki/ISO_8601",
    )


def _scope_failure(
    auth: ParsedAuth, amz_date: str, ident: Identity, policy: VerifyPolicy
) -> SigV4Failure:
    """The first of: credential date not the request's, wrong service, region not allowed."""
    if auth.date != amz_date[:8]:
        return SigV4Failure(
            "scope_date",
            "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from "
            f"HTTP: '{auth.date}' != '{amz_date[:8]}', from '{amz_date}'.",
        )
    if auth.service != policy.service:
        return SigV4Failure(
            "scope_service", f"Credential should be scoped to correct service: '{policy.service}'."
        )
    return SigV4Failure(
        "scope_region", f"Credential should be scoped to a valid region, not '{auth.region}'."
    )


def _check_skew(signed_at: datetime, amz_date: str, now: datetime, window: int) -> None:
    delta = timedelta(seconds=window)
    text = _window_text(window)
    if signed_at < now - delta:
        raise SigV4Failure(
            "skew",
            f"Signature expired: {amz_date} is now earlier than {_fmt_amz(now - delta)} "
            f"({_fmt_amz(now)} - {text})",
        )
    if signed_at > now + delta:
        raise SigV4Failure(
            "skew",
            f"Signature not yet current: {amz_date} is still later than {_fmt_amz(now + delta)} "
            f"({_fmt_amz(now)} + {text})",
        )
