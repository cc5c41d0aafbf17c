"""Temporary credentials (AWS STS sessions) as every API that accepts them sees them: AssumeRole's
duration limits, and how a request's session token fails its access key. No HTTP here.

Kept apart from `mocksrv.services.sts` so that the promotions API checks S3 requests made with a
session without importing another API's package (the APIs are independent of each other).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Protocol

_KEY_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
MIN_DURATION = 900  # AssumeRole's DurationSeconds range (AWS)
MAX_DURATION = 43200
DEFAULT_DURATION = 3600  # AssumeRole's default, and IAM's default MaxSessionDuration


class Session(Protocol):
    """What a token check needs of a session (the STS API's `Session` is one)."""

    @property
    def token(self) -> str: ...

    @property
    def expires(self) -> datetime: ...


def tenant_tag(tenant: str) -> str:
    """Six characters that name a tenant inside the session keys it issues (`ASIA` + tag + 10
    random): a request signed with a session key finds its tenant without a lookup."""
    import hashlib

    digest = hashlib.sha256(b"mocksrv-tenant:" + tenant.encode()).digest()
    return "".join(_KEY_CHARS[b % 32] for b in digest[:6])


def session_key(tenant: str) -> str:
    """A new temporary access key id of `tenant` (AWS's shape: `ASIA` and 16 characters)."""
    import os

    return "ASIA" + tenant_tag(tenant) + "".join(_KEY_CHARS[b % 32] for b in os.urandom(10))


def token_problem(ident: Any, token: str | None, now: datetime) -> str | None:
    """How a request's session token fails: "invalid" (a token that names no session of the
    request's key: another session's, a tampered one, one beside a long-term key), "expired";
    else None. `ident` is the keyring's identity for the key and token (None when it resolved to
    none); a session identity carries `extra["session"]`."""
    session: Session | None = ident.extra.get("session") if ident is not None else None
    if session is None:
        return "invalid" if token else None
    if now >= session.expires:
        return "expired"
    return None
