"""STS session tokens that carry their session, sealed with AES-GCM (no HTTP, no lookup).

A token is opened with the key of its role, derived from the scenario (the role owner's secret,
a fixed label, the role), so every process, replica or restarted server on the same scenario
accepts it, and one that was altered, or sealed under another scenario's key, does not open.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import os
from collections.abc import Mapping
from datetime import datetime
from typing import NamedTuple

# Real STS tokens of this kind begin so; clients treat a token as opaque text.
PREFIX = "FwoGZXIvYXdzE"
VERSION = b"\x01"
LABEL = b"mocksrv sts session token v1"
MAX_TOKEN = 4096  # characters: far above what `seal` makes; longer ones are not opened
_NONCE, _KID, _TAG = 12, 8, 16


class Claims(NamedTuple):
    """What a token carries: the session's credentials, expiry, role, name and caller."""

    access_key: str
    secret_key: str
    expires: datetime
    role_arn: str
    session_name: str
    caller_arn: str


def role_key(owner_secret: str, owner_key: str, role_arn: str) -> bytes:
    """The AES-256 key of a role's tokens: HMAC-SHA256 of its owner's secret over the label,
    the owner's access key and the role ARN (a new secret or another role: another key)."""
    message = b"\n".join((LABEL, owner_key.encode(), role_arn.encode()))
    return hmac.new(owner_secret.encode(), message, hashlib.sha256).digest()


def key_id(key: bytes) -> bytes:
    """The key's public name in a token (says nothing about the key itself)."""
    return hmac.new(key, b"key id", hashlib.sha256).digest()[:_KID]


def seal(key: bytes, claims: Claims) -> str:
    """The token of a session: version and key id in clear (and authenticated), the claims
    encrypted."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    header = VERSION + key_id(key)
    nonce = os.urandom(_NONCE)
    plain = json.dumps([*claims[:2], claims.expires.isoformat(), *claims[3:]]).encode()
    sealed = AESGCM(key).encrypt(nonce, plain, header)
    return PREFIX + base64.b64encode(header + nonce + sealed).decode()


def open_token(keys: Mapping[bytes, bytes], token: str) -> Claims | None:
    """The claims of a token sealed under one of `keys` (by key id), or None: not a token of
    this kind, an unknown key, altered or truncated."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    if len(token) > MAX_TOKEN or not token.startswith(PREFIX):
        return None
    try:
        raw = base64.b64decode(token[len(PREFIX) :], validate=True)
    except (binascii.Error, ValueError):
        return None
    head = 1 + _KID
    key = keys.get(raw[1:head]) if raw[:1] == VERSION else None
    if key is None or len(raw) < head + _NONCE + _TAG:
        return None
    try:
        plain = AESGCM(key).decrypt(raw[head : head + _NONCE], raw[head + _NONCE :], raw[:head])
    except InvalidTag:
        return None
    access_key, secret, expires, role_arn, name, caller = json.loads(plain)
    return Claims(access_key, secret, datetime.fromisoformat(expires), role_arn, name, caller)
