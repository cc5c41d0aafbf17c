"""STS sessions: temporary credentials issued by AssumeRole, on the scenario clock (no HTTP)."""

from __future__ import annotations

import base64
import os
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from mocksrv.api import StoreBase
from mocksrv.clock import iso
from mocksrv.credentials import session_key
from mocksrv.services.sts.config import Role, StsConfig
from mocksrv.services.sts.tokens import Claims, open_token, seal
from mocksrv.sigv4 import Identity
from mocksrv.state.engine import MEMORY, Engine, Tx

MAX_SESSIONS = 10000  # the record's bound: beyond it, the sessions that expire first go
TABLES = (
    "CREATE TABLE IF NOT EXISTS sts_sessions (tenant TEXT NOT NULL, access_key TEXT NOT NULL, "
    "expires TEXT NOT NULL, role_arn TEXT NOT NULL, name TEXT NOT NULL, caller TEXT NOT NULL, "
    "PRIMARY KEY (tenant, access_key))",
)
MAX_OPENED = 4096  # opened tokens kept (about 1 KiB each); the cache starts again when full


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


def _identity(session: Session) -> Identity:
    role = session.role
    return Identity(
        name=session.arn,
        api=role.api,
        access_key=session.access_key,
        secret_key=session.secret_key,
        extra={"session": session, "policy_of": role.policy_of},
    )


class SessionStore(StoreBase):
    """Sessions: issued as self-contained tokens (`tokens.py`), opened on use without a lookup;
    and a record of those issued since start-up (or the last reset), for the state view: this
    process's, or on a SQL state every process's (a row per session, no secret, no token)."""

    def __init__(self, config: StsConfig, engine: Engine = MEMORY, tenant: str = "") -> None:
        self.config = config
        self.engine = engine
        self.tenant = tenant
        self._issued: dict[str, Session] = {}  # the record, by access key (memory engine)
        self._opened: dict[str, Identity] = {}  # tokens already opened: the AES-GCM work once
        self._lock = threading.Lock()

    def clear(self, tx: Tx) -> None:
        tx.run("DELETE FROM sts_sessions WHERE tenant=?", (self.tenant,))

    def seed(self, tx: Tx) -> None:
        pass  # no session exists before AssumeRole

    def issue(
        self, role: Role, session_name: str, duration: int, caller_arn: str, now: datetime
    ) -> Session:
        expires = now.replace(microsecond=0) + timedelta(seconds=duration)
        claims = Claims(
            session_key(self.tenant), base64.b64encode(os.urandom(30)).decode(), expires, role.arn,
            session_name, caller_arn,
        )  # fmt: skip
        token = seal(role.token_key, claims)
        session = Session(claims.access_key, claims.secret_key, token, expires, role,
                          session_name, caller_arn)  # fmt: skip
        if self.engine.shared:
            self._record(session)
            return session
        with self._lock:
            if len(self._issued) >= MAX_SESSIONS:
                oldest = min(self._issued.values(), key=lambda s: s.expires)
                del self._issued[oldest.access_key]
            self._issued[session.access_key] = session
        return session

    def _record(self, session: Session) -> None:
        with self.engine.write() as tx:
            tx.run(
                "INSERT INTO sts_sessions VALUES (?, ?, ?, ?, ?, ?)",
                (self.tenant, session.access_key, session.expires.isoformat(),
                 session.role.arn, session.session_name, session.caller_arn),
            )  # fmt: skip
            count = tx.one("SELECT count(*) FROM sts_sessions WHERE tenant=?", (self.tenant,))
            if count is not None and int(count[0]) > MAX_SESSIONS:
                tx.run(
                    "DELETE FROM sts_sessions WHERE tenant=? AND access_key IN (SELECT "
                    "access_key FROM sts_sessions WHERE tenant=? ORDER BY expires LIMIT ?)",
                    (self.tenant, self.tenant, int(count[0]) - MAX_SESSIONS),
                )

    def _sessions(self) -> list[Session]:
        if not self.engine.shared:
            with self._lock:
                return list(self._issued.values())
        with self.engine.read() as tx:
            rows = tx.all(
                "SELECT access_key, expires, role_arn, name, caller FROM sts_sessions "
                "WHERE tenant=? ORDER BY expires",
                (self.tenant,),
            )
        out = []
        for key, expires, role_arn, name, caller in rows:
            role = self.config.roles.get(role_arn)
            if role is not None:
                out.append(Session(key, "", "", datetime.fromisoformat(expires), role, name,
                                   caller))  # fmt: skip
        return out

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
        sessions = self._sessions()
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
