"""STS configuration: the roles declared on promotions clients, and each identity's IAM ARN.

STS has no scenario section of its own: a role belongs to the promotions client it uploads for
(`promotions.clients[].role`, whose schema the promotions API owns). No HTTP here.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

from mocksrv.credentials import DEFAULT_DURATION
from mocksrv.scenario.model import Problems, ScenarioModel
from mocksrv.services.sts.tokens import key_id, role_key

NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"
IAM_NAMESPACE = "https://iam.amazonaws.com/doc/2010-05-08/"
# Decision: the account of identities that no role places in an account (AWS's example account).
DEFAULT_ACCOUNT = "123456789012"
ROLE_ARN = re.compile(
    r"arn:aws:iam::(?P<account>[0-9]{12}):role/(?:[\x21-\x7e]+/)?(?P<name>[\w+=,.@-]{1,64})"
)


def unique_id(prefix: str, text: str) -> str:
    """A stable IAM-style unique id (`AIDA...`, `AROA...`): prefix + 17 of [A-Z0-9]."""
    digest = hashlib.sha256(text.encode()).digest()
    return prefix + "".join("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[b % 32] for b in digest[:17])


@dataclass(frozen=True)
class Role:
    arn: str
    account: str
    name: str
    trusted: tuple[str, ...]  # identity names and ARNs, as written
    external_id: str | None
    max_duration: int
    api: str  # the api of the sessions' identity ("promotions")
    policy_of: str  # the access key whose policy scopes the sessions
    token_key: bytes = field(repr=False)  # seals its sessions' tokens (tokens.py)

    @property
    def role_id(self) -> str:
        return unique_id("AROA", self.arn)


@dataclass(frozen=True)
class User:
    name: str
    arn: str
    account: str

    @property
    def user_id(self) -> str:
        return unique_id("AIDA", self.arn)


@dataclass
class StsConfig:
    roles: dict[str, Role] = field(default_factory=dict)  # by ARN
    users: dict[str, User] = field(default_factory=dict)  # by access key
    token_keys: dict[bytes, bytes] = field(default_factory=dict, repr=False)  # key id -> key

    def user(self, access_key: str, name: str) -> User:
        """The IAM user of an identity (one the config has not seen is in the default account)."""
        found = self.users.get(access_key)
        if found is None:
            found = User(name, f"arn:aws:iam::{DEFAULT_ACCOUNT}:user/{name}", DEFAULT_ACCOUNT)
        return found

    def trusts(self, role: Role, user: User) -> bool:
        return any(
            t in (user.name, user.arn) or t == f"arn:aws:iam::{user.account}:root"
            for t in role.trusted
        )


def parse(model: ScenarioModel, problems: Problems) -> StsConfig:
    cfg = StsConfig()
    clients = (model.raw.get("promotions") or {}).get("clients") or []
    accounts: dict[str, str] = {}  # identity name -> account of its client's role
    for ci, client in enumerate(clients):
        raw = client.get("role")
        if not raw:
            continue
        role = _role(model, raw, client, ("promotions", "clients", ci, "role"), problems)
        if role is None:
            continue
        if role.arn in cfg.roles:
            problems.add(("promotions", "clients", ci, "role", "arn"), "role ARN used twice")
        cfg.roles[role.arn] = role
        cfg.token_keys[key_id(role.token_key)] = role.token_key
        accounts.setdefault(client["identity"], role.account)
    for ident in model.identities:
        account = accounts.get(ident.name, DEFAULT_ACCOUNT)
        arn = f"arn:aws:iam::{account}:user/{ident.name}"
        cfg.users[ident.access_key] = User(ident.name, arn, account)
    return cfg


def _role(
    model: ScenarioModel,
    raw: dict[str, Any],
    client: dict[str, Any],
    path: tuple,
    problems: Problems,
) -> Role | None:
    match = ROLE_ARN.fullmatch(raw["arn"])
    owner = model.identity(client["identity"])
    if match is None or owner is None:
        return None  # the schema, or the promotions section, reports it
    for ti, trusted in enumerate(raw["trusted"]):
        if not trusted.startswith("arn:") and model.identity(trusted) is None:
            problems.add(path + ("trusted", ti), f"no identity {trusted!r}")
        elif trusted.startswith("arn:") and not re.fullmatch(
            r"arn:aws:iam::[0-9]{12}:(root|user/[\w+=,.@/-]{1,64})", trusted
        ):
            problems.add(path + ("trusted", ti), "not a user or account root ARN")
    return Role(
        arn=raw["arn"],
        account=match["account"],
        name=match["name"],
        trusted=tuple(raw["trusted"]),
        external_id=raw.get("external_id"),
        max_duration=int(raw.get("max_session_duration_seconds", DEFAULT_DURATION)),
        api=owner.api,
        policy_of=owner.access_key,
        token_key=role_key(owner.secret_key, owner.access_key, raw["arn"]),
    )
