"""STS sessions: temporary credentials issued by AssumeRole, on the scenario clock (no HTTP)."""

from __future__ import annotations

import base64
import os
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from mocksrv.clock import iso
from mocksrv.services.sts.config import Role, StsConfig
from mocksrv.services.sts.tokens import Claims, open_token, seal
from mocksrv.sigv4 import Identity
from mocksrv.state.sink import NULL_SINK, Sink

MAX_SESSIONS = 10000  # the record's bound: beyond it, the sessions that expire first go
MAX_OPENED = 4096  # opened tokens kept (about 1 KiB each); the cache starts again when full
_KEY_CHARS = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"


@dataclass(frozen=True)
class Session:
    """One AssumeRole result: its credentials, role, session name and expiry instant."""

    access_key: str
    secret_key: str = field(repr=False)
    token: str = field(repr=False)
    expires: datetime
    role: Role
    session_name: str
    caller_arn: str

    @property
    def arn(self) -> str:
        return f"arn:aws:sts::{self.role.account}:assumed-role/{self.role.name}/{self.session_name}"

    @property
    def user_id(self) -> str:
        return f"{self.role.role_id}:{self.session_name}"


def _random_key() -> str:
    return "ASIA" + "".join(_KEY_CHARS[b % 32] for b in os.urandom(16))


def _session_row(s: Session) -> list[str]:
    """The record of an issued session (no secret, no token: a token verifies without it)."""
    return [s.expires.isoformat(), s.role.arn, s.session_name, s.caller_arn]


def _identity(session: Session) -> Identity:
    role = session.role
    return Identity(
        name=session.arn,
        api=role.api,
        access_key=session.access_key,
        secret_key=session.secret_key,
        extra={"session": session, "policy_of": role.policy_of},
    )


class SessionStore:
    """Sessions: issued as self-contained tokens (`tokens.py`), opened on use without a lookup;
    and a record of those issued here since start-up (or the last reset), for the state view."""

    def __init__(self, config: StsConfig) -> None:
        self.config = config
        self._issued: dict[str, Session] = {}  # the record, by access key
        self._opened: dict[str, Identity] = {}  # tokens already opened: the AES-GCM work once
        self._lock = threading.Lock()
        self.sink: Sink = NULL_SINK  # durable state (serve --state), else memory only

    def issue(
        self, role: Role, session_name: str, duration: int, caller_arn: str, now: datetime
    ) -> Session:
        expires = now.replace(microsecond=0) + timedelta(seconds=duration)
        claims = Claims(
            _random_key(), base64.b64encode(os.urandom(30)).decode(), expires, role.arn,
            session_name, caller_arn,
        )  # fmt: skip
        token = seal(role.token_key, claims)
        session = Session(claims.access_key, claims.secret_key, token, expires, role,
                          session_name, caller_arn)  # fmt: skip
        with self._lock, self.sink.batch():
            if len(self._issued) >= MAX_SESSIONS:
                oldest = min(self._issued.values(), key=lambda s: s.expires)
                del self._issued[oldest.access_key]
                self.sink.delete("session", oldest.access_key)
            self._issued[session.access_key] = session
            if self.sink.durable:
                self.sink.put("session", session.access_key, _session_row(session))
        return session

    def restore(self, rows: list[tuple[str, str, Any]]) -> None:
        """The record from durable state (rows of older versions also held the secret and the
        token first); a session whose role the scenario no longer has is dropped."""
        with self._lock:
            for kind, key, value in rows:
                expires, role_arn, name, caller = value[-4:]
                role = self.config.roles.get(role_arn)
                if kind == "session" and role is not None:
                    expiry = datetime.fromisoformat(expires)
                    self._issued[key] = Session(key, "", "", expiry, role, name, caller)

    def identity(self, access_key: str, token: str) -> Identity | None:
        """The session of this key, if the token opens under one of the scenario's roles and
        names this key (expiry is the API's check, on the scenario clock)."""
        ident = self._opened.get(token)
        if ident is None:
            claims = open_token(self.config.token_keys, token)
            role = self.config.roles.get(claims.role_arn) if claims else None
            if claims is None or role is None:
                return None
            ident = _identity(Session(claims.access_key, claims.secret_key, token,
                                      claims.expires, role, claims.session_name,
                                      claims.caller_arn))  # fmt: skip
            with self._lock:
                if len(self._opened) >= MAX_OPENED:
                    self._opened.clear()
                self._opened[token] = ident
        return ident if ident.access_key == access_key else None

    def close(self) -> None:
        with self._lock:
            self._issued.clear()
            self._opened.clear()

    def snapshot(self, now: datetime) -> dict[str, object]:
        """Admin view: roles and the sessions issued here (no secrets, no tokens)."""
        with self._lock:
            sessions = list(self._issued.values())
        return {
            "roles": [
                {"arn": r.arn, "trusted": list(r.trusted), "externalId": r.external_id is not None,
                 "maxSessionDurationSeconds": r.max_duration}
                for r in self.config.roles.values()
            ],
            "sessions": [
                {"accessKeyId": s.access_key, "assumedRoleArn": s.arn, "caller": s.caller_arn,
                 "expiration": iso(s.expires), "expired": now >= s.expires}
                for s in sessions
            ],
        }  # fmt: skip
