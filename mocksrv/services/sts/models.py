"""STS sessions: temporary credentials issued by AssumeRole, on the scenario clock (no HTTP)."""

from __future__ import annotations

import base64
import hmac
import os
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from mocksrv.clock import iso
from mocksrv.services.sts.config import Role, StsConfig
from mocksrv.sigv4 import Identity
from mocksrv.state.sink import NULL_SINK, Sink

MAX_SESSIONS = 10000  # beyond it, the sessions that expired first are forgotten
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
    return [s.secret_key, s.token, s.expires.isoformat(), s.role.arn, s.session_name, s.caller_arn]


class SessionStore:
    """The sessions issued since start-up (or the last reset), by access key."""

    def __init__(self, config: StsConfig) -> None:
        self.config = config
        self._by_key: dict[str, tuple[Identity, Session]] = {}
        self._lock = threading.Lock()
        self.sink: Sink = NULL_SINK  # durable state (serve --state), else memory only

    def issue(
        self, role: Role, session_name: str, duration: int, caller_arn: str, now: datetime
    ) -> Session:
        session = Session(
            access_key=_random_key(),
            secret_key=base64.b64encode(os.urandom(30)).decode(),
            token="FwoGZXIvYXdzE" + base64.b64encode(os.urandom(240)).decode(),
            expires=now.replace(microsecond=0) + timedelta(seconds=duration),
            role=role,
            session_name=session_name,
            caller_arn=caller_arn,
        )
        with self._lock, self.sink.batch():
            if len(self._by_key) >= MAX_SESSIONS:
                oldest = min(self._by_key.values(), key=lambda pair: pair[1].expires)
                del self._by_key[oldest[1].access_key]
                self.sink.delete("session", oldest[1].access_key)
            self._add(session)
            if self.sink.durable:
                self.sink.put("session", session.access_key, _session_row(session))
        return session

    def _add(self, session: Session) -> None:
        """Index a session by its access key (lock held)."""
        role = session.role
        ident = Identity(
            name=session.arn,
            api=role.api,
            access_key=session.access_key,
            secret_key=session.secret_key,
            extra={"session": session, "policy_of": role.policy_of},
        )
        self._by_key[session.access_key] = (ident, session)

    def restore(self, rows: list[tuple[str, str, Any]]) -> None:
        """Sessions from durable state; one whose role the scenario no longer has is dropped."""
        with self._lock:
            for kind, key, value in rows:
                secret, token, expires, role_arn, name, caller = value
                role = self.config.roles.get(role_arn)
                if kind == "session" and role is not None:
                    expiry = datetime.fromisoformat(expires)
                    self._add(Session(key, secret, token, expiry, role, name, caller))

    def identity(self, access_key: str, token: str) -> Identity | None:
        """The session of this key, if the token is its own."""
        found = self._by_key.get(access_key)
        if found is None or not hmac.compare_digest(token.encode(), found[1].token.encode()):
            return None
        return found[0]

    def close(self) -> None:
        with self._lock:
            self._by_key.clear()

    def snapshot(self, now: datetime) -> dict[str, object]:
        """Admin view: roles and sessions (no secrets, no tokens)."""
        with self._lock:
            sessions = [pair[1] for pair in self._by_key.values()]
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
