"""What `mocksrv record` never writes: credentials in headers, query strings and bodies; and, on
request, the codes that redeem value (claim codes, auth codes), masked."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from urllib.parse import quote, unquote

REDACTED = "<redacted>"
# request and response headers whose whole value is a credential
SECRET_HEADERS = frozenset(
    {"x-amz-security-token", "authorization-token", "proxy-authorization", "cookie", "set-cookie"}
)
_AUTH = re.compile(r"^(\S+)\s+Credential=[^/,\s]*(/[^,\s]*)?")
_SIGNATURE = re.compile(r"Signature=[0-9A-Fa-f]+")
_SECRET_QUERY = ("x-amz-signature", "x-amz-security-token", "signature", "awsaccesskeyid")
# credentials in answers (STS's AssumeRole, and any JSON that carries them)
_SECRET_XML = re.compile(rb"(<(SecretAccessKey|SessionToken)>)[^<]*(</\2>)")
_SECRET_JSON = re.compile(
    rb'("(?:SecretAccessKey|SessionToken|secretAccessKey|sessionToken)"\s*:\s*")[^"]*(")'
)
_CODES_JSON = re.compile(rb'("(?:gcClaimCode|authCode)"\s*:\s*")([^"]+)(")')
_CODES_XML = re.compile(rb"(<(gcClaimCode|authCode)>)([^<]+)(</\2>)")


def header(name: str, value: str) -> str:
    """A header's value as written: credentials removed, the rest kept."""
    lower = name.lower()
    if lower == "authorization":
        return authorization(value)
    if lower in SECRET_HEADERS:
        return REDACTED
    return value


def authorization(value: str) -> str:
    """SigV4's scheme, scope and signed headers stay (they say how the client signed); the
    access key id and the signature go."""
    found = _AUTH.match(value)
    if not found:
        return REDACTED
    scope = found.group(2) or ""
    kept = _AUTH.sub(lambda m: f"{m.group(1)} Credential={REDACTED}{scope}", value, count=1)
    return _SIGNATURE.sub(f"Signature={REDACTED}", kept)


def target(raw: str) -> str:
    """A request target with presigned-URL credentials removed from its query string."""
    path, sep, query = raw.partition("?")
    if not sep:
        return raw
    out = []
    for item in query.split("&"):
        name, eq, value = item.partition("=")
        lower = unquote(name).lower()
        if lower in _SECRET_QUERY:
            value = quote(REDACTED)
        elif lower == "x-amz-credential":
            scope = unquote(value).partition("/")[2]
            value = quote(f"{REDACTED}/{scope}", safe="")
        out.append(name + eq + value)
    return path + "?" + "&".join(out)


def body(data: bytes) -> bytes:
    """A body with credentials in it (STS answers) removed."""
    if b"ecretAccessKey" in data or b"essionToken" in data:
        data = _SECRET_XML.sub(rb"\1<redacted>\3", data)
        data = _SECRET_JSON.sub(rb"\1<redacted>\2", data)
    return data


class CodeMask:
    """Claim codes and auth codes replaced by stand-ins of the same shape (letters stay letters,
    digits stay digits, dashes stay): the same code always gets the same stand-in, and a stand-in
    cannot be turned back into its code (keyed by a secret drawn per recording)."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)

    def code(self, text: str) -> str:
        digest = hmac.new(self._key, text.encode(), hashlib.sha256).digest() * 4
        out = []
        for ch, byte in zip(text, digest, strict=False):
            if ch.isdigit():
                out.append("0123456789"[byte % 10])
            elif ch.isalpha():
                letters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                pick = letters[byte % 26]
                out.append(pick if ch.isupper() else pick.lower())
            else:
                out.append(ch)
        return "".join(out) + text[len(out) :]

    def body(self, data: bytes) -> bytes:
        if b"gcClaimCode" not in data and b"authCode" not in data:
            return data
        data = _CODES_JSON.sub(
            lambda m: m.group(1) + self.code(m.group(2).decode()).encode() + m.group(3), data
        )
        return _CODES_XML.sub(
            lambda m: m.group(1) + self.code(m.group(3).decode()).encode() + m.group(4), data
        )
