"""Who may use the admin API: a bearer token, the Host and Origin checks, JSON-only writes.

The rules (docs/hardening.md):
- a token is required when one is configured (`--admin-token`, MOCKSRV_ADMIN_TOKEN), and one is
  always configured when the server listens on anything but loopback (generated if not given);
- `Host` must name the server (localhost, a loopback address, the bound address, an
  `--admin-host` name; any IP literal when bound to a wildcard address), unless the request
  carries the valid token: a DNS-rebinding page never does;
- writes (POST, PUT, PATCH, DELETE) refuse a foreign `Origin` (scheme, host and port), and POST
  and PATCH require `Content-Type: application/json` (a cross-site form or `text/plain` fetch
  cannot send it).
"""

from __future__ import annotations

import hmac
import ipaddress
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

if TYPE_CHECKING:
    from mocksrv.settings import Settings

LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
JSON_REQUIRED = frozenset({"POST", "PATCH"})
REALM = 'Bearer realm="mocksrv admin"'


class Refused(Exception):
    """An admin request refused before any operation: status, code and message for the answer."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def is_wildcard(host: str) -> bool:
    return host.strip("[]") in ("", "0.0.0.0", "::")


def token_required(settings: Settings) -> bool:
    return bool(settings.admin_token) or not is_loopback(settings.host)


def _host_name(value: str) -> str:
    """The name part of a `Host` header or an origin's netloc, lower-case, without the port."""
    value = value.strip().lower()
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


def allowed_host(name: str, settings: Settings) -> bool:
    if name in LOOPBACK_NAMES or name == settings.host.strip("[]").lower():
        return True
    if name in {h.lower() for h in settings.admin_hosts}:
        return True
    if is_wildcard(settings.host):
        try:
            ipaddress.ip_address(name)
        except ValueError:
            return False
        return True
    return is_loopback(name)


def bearer_ok(environ: dict[str, Any], settings: Settings) -> bool:
    token = settings.admin_token
    if not token:
        return False
    header = str(environ.get("HTTP_AUTHORIZATION", ""))
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(
        given.strip().encode("utf-8", "replace"), token.encode("utf-8", "replace")
    )


def check(environ: dict[str, Any], settings: Settings) -> bool:
    """Token, Host and Origin: raise Refused, or return whether the caller sent the valid token."""
    authenticated = bearer_ok(environ, settings)
    if token_required(settings) and not authenticated:
        raise Refused(401, "Unauthorized", "the admin API needs 'Authorization: Bearer <token>'")
    host = _host_name(str(environ.get("HTTP_HOST", "")))
    # no Host at all (HTTP/1.0; HTTP/1.1 requires one) names no foreign site: nothing to rebind
    if not authenticated and host and not allowed_host(host, settings):
        raise Refused(403, "Forbidden", "the Host header does not name this server")
    method = str(environ.get("REQUEST_METHOD", "GET")).upper()
    if method not in WRITES:
        return authenticated
    origin = environ.get("HTTP_ORIGIN")
    if origin is not None and not _same_origin(str(origin), environ, settings):
        raise Refused(403, "Forbidden", "cross-origin admin requests are refused")
    return authenticated


def check_json(environ: dict[str, Any]) -> None:
    """POST and PATCH need a JSON body (checked once the route and method are known)."""
    method = str(environ.get("REQUEST_METHOD", "GET")).upper()
    ctype = str(environ.get("CONTENT_TYPE", "")).split(";", 1)[0].strip().lower()
    if method in JSON_REQUIRED and ctype != "application/json":
        raise Refused(
            415, "UnsupportedMediaType", "admin requests need Content-Type: application/json"
        )


def _same_origin(origin: str, environ: dict[str, Any], settings: Settings) -> bool:
    """The origin is the server's own: its scheme (an `https://` page is another origin than the
    `http://` listener, and the other way round), its host and port."""
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False  # "null" (sandboxed frames, file://) and anything odd
    if parts.scheme != environ.get("wsgi.url_scheme", "http"):
        return False
    same = parts.netloc.lower() == str(environ.get("HTTP_HOST", "")).strip().lower()
    return same and allowed_host(_host_name(parts.netloc), settings)
