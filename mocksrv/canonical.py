"""The canonical parts of a SigV4 request (URI, query string, SignedHeaders list, the canonical
request text, the payload hash), memoised where clients repeat themselves. `mocksrv.sigv4` builds
on these and re-exports canonical_uri, canonical_query and payload_sha256."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from typing import IO, Any, Protocol
from urllib.parse import quote, unquote

# caches keyed by client text hold short keys only: the bound is by bytes, not just by count
CACHE_KEY_CHARS = 256


class HeaderLookup(Protocol):
    """Request headers by lower-case name (a dict, or the Call's view of the WSGI environ)."""

    def get(self, name: str, default: Any = None) -> Any: ...


def canonical_request_text(
    method: str,
    raw_path: str,
    query_string: str,
    headers: HeaderLookup,
    signed_headers: tuple[str, ...],
    normalize_path: bool,
    payload_hash: str,
) -> str:
    """The canonical request: method, URI, query, the signed headers' values, their names and
    the payload hash, one a line (`signed_headers` sorted and lower-case, as signed_list gives).
    A header's value is trimmed: runs of white space as one space, none at either end."""
    get = headers.get
    canonical_headers = "".join(f"{h}:{' '.join(get(h, '').split())}\n" for h in signed_headers)
    return "\n".join(
        (
            method.upper(),
            canonical_uri(raw_path, normalize=normalize_path),
            canonical_query(query_string),
            canonical_headers,
            ";".join(signed_headers),
            payload_hash,
        )
    )


def signed_list(text: str) -> tuple[str, ...]:
    """The `SignedHeaders` list as signed: names stripped, lower-case, sorted (short ones memoised)."""
    if len(text) > CACHE_KEY_CHARS:
        return _signed_list_cached.__wrapped__(text)
    return _signed_list_cached(text)


@lru_cache(maxsize=256)
def _signed_list_cached(text: str) -> tuple[str, ...]:
    return tuple(sorted(h.strip().lower() for h in text.split(";") if h.strip()))


def canonical_uri(raw_path: str, *, normalize: bool) -> str:
    """Canonical URI from the path as received (percent-encoded). Non-S3 services normalise dot
    segments and double-encode, like botocore's SigV4Auth; S3 uses the path as sent.

    Short paths are memoised (at most 4,096 of at most 256 characters); long ones are not."""
    if not normalize:
        return raw_path or "/"
    if len(raw_path) > CACHE_KEY_CHARS:
        return _canonical_uri(raw_path)
    return _canonical_uri_cached(raw_path)


@lru_cache(maxsize=4096)
def _canonical_uri_cached(raw_path: str) -> str:
    return _canonical_uri(raw_path)


def _canonical_uri(raw_path: str) -> str:
    segments = [s for s in raw_path.split("/") if s and s != "."]
    out: list[str] = []
    for seg in segments:
        if seg == "..":
            if out:
                out.pop()
        else:
            out.append(seg)
    path = "/" + "/".join(out)
    if raw_path.endswith("/") and out:
        path += "/"
    return quote(path, safe="/~")


def canonical_query(query_string: str, *, drop: tuple[str, ...] = ()) -> str:
    if not query_string:
        return ""
    pairs = []
    for item in query_string.split("&"):
        if not item:
            continue
        key, _, value = item.partition("=")
        key, value = unquote(key.replace("+", " ")), unquote(value.replace("+", " "))
        if key in drop:
            continue
        pairs.append((quote(key, safe="-_.~"), quote(value, safe="-_.~")))
    pairs.sort()
    return "&".join(f"{k}={v}" for k, v in pairs)


def payload_sha256(body: bytes | IO[bytes]) -> str:
    """The SHA-256 of a body: bytes, or a file read in chunks from where it stands (and left
    there), so a large body is hashed without a copy of it in memory."""
    if body.__class__ is bytes:
        return hashlib.sha256(body).hexdigest()
    stream: Any = body
    start = stream.tell()
    digest = hashlib.file_digest(stream, "sha256").hexdigest()
    stream.seek(start)
    return digest
