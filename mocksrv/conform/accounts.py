"""Who the plans sign as: each `--identity NAME=KEY:SECRET` names an identity of the reference
scenario, whose account (AGCOD partner, Prime benefit and codes, Promotions client) the plan
uses on both sides; on mocksrv with the scenario's keys, on the target with the given ones."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

from mocksrv.errors import MocksrvError
from mocksrv.toolkit.client import ENV_SAFE  # the variable names `mocksrv run` exports


@dataclass(frozen=True)
class Account:
    identity: str
    api: str
    access_key: str
    secret_key: str = field(repr=False)
    region: str = "us-east-1"
    service: str = ""  # the SigV4 service name
    params: dict[str, Any] = field(default_factory=dict, compare=False)

    def with_keys(self, access_key: str, secret_key: str) -> Account:
        return Account(self.identity, self.api, access_key, secret_key, self.region,
                       self.service, self.params)  # fmt: skip


def parse_identity(text: str) -> tuple[str, str, str]:
    """`NAME=ACCESS_KEY:SECRET`, or `NAME` alone: the keys from MOCKSRV_IDENTITY_<NAME>_ACCESS_KEY_ID
    and ..._SECRET_ACCESS_KEY (the names `mocksrv run` exports), so secrets stay off the
    command line."""
    name, sep, keys = text.partition("=")
    if not name:
        raise MocksrvError(f"--identity {text.split('=')[0]!r}: expected NAME=ACCESS_KEY:SECRET")
    if sep:
        key, colon, secret = keys.partition(":")
        if not colon or not key or not secret:
            raise MocksrvError(f"--identity {name}: expected {name}=ACCESS_KEY:SECRET")
        return name, key, secret
    prefix = "MOCKSRV_IDENTITY_" + ENV_SAFE.sub("_", name.upper()).strip("_")
    key = os.environ.get(prefix + "_ACCESS_KEY_ID", "")
    secret = os.environ.get(prefix + "_SECRET_ACCESS_KEY", "")
    if not key or not secret:
        raise MocksrvError(
            f"--identity {name}: set {prefix}_ACCESS_KEY_ID and {prefix}_SECRET_ACCESS_KEY, "
            f"or give {name}=ACCESS_KEY:SECRET"
        )
    return name, key, secret


def reference_account(runtime: Any, name: str, prime_codes: list[str]) -> Account:
    """The account of identity `name` in the reference scenario (MocksrvError if it has none
    a plan can use)."""
    ident = next((i for i in runtime.keyring.identities() if i.name == name), None)
    if ident is None:
        known = ", ".join(i.name for i in runtime.keyring.identities())
        raise MocksrvError(f"--identity {name}: no such identity in the scenario ({known})")
    base = {"identity": name, "access_key": ident.access_key, "secret_key": ident.secret_key}
    if ident.api == "agcod":
        return _agcod(runtime, ident, base)
    if ident.api == "prime":
        return _prime(runtime, ident, base, prime_codes)
    if ident.api == "promotions":
        return _promotions(runtime, ident, base)
    raise MocksrvError(f"--identity {name}: no conformance plan for api {ident.api}")


def _agcod(runtime: Any, ident: Any, base: dict[str, Any]) -> Account:
    partner = runtime.stores["agcod"].config.partners.get(ident.access_key)
    if partner is None:
        raise MocksrvError(f"--identity {ident.name}: no AGCOD partner uses this identity")
    if partner.production:  # the plan creates cards: never with real money
        raise MocksrvError(
            f"--identity {ident.name}: partner {partner.partner_id} is a production account; "
            "the AGCOD plan creates and cancels cards and runs against a sandbox partner only"
        )
    params = {"partner_id": partner.partner_id, "currency": partner.currency}
    return Account(**base, api="agcod", region=partner.signing_region, service="AGCODService",
                   params=params)  # fmt: skip


def _prime(runtime: Any, ident: Any, base: dict[str, Any], codes: list[str]) -> Account:
    config = runtime.stores["prime"].config
    allowed = ident.extra.get("benefits")
    benefits = [b for b in config.benefits.values() if not allowed or b.id in allowed]
    if not benefits:
        raise MocksrvError(f"--identity {ident.name}: no Prime benefit for this identity")
    benefit = benefits[0]
    params = {
        "benefit": benefit.id,
        "marketplace": benefit.marketplace,
        "codes": codes or sorted(benefit.codes) or ["123456789"],
    }
    region = config.marketplaces.get(benefit.marketplace, "us-east-1")
    return Account(**base, api="prime", region=region, service="execute-api", params=params)


def _promotions(runtime: Any, ident: Any, base: dict[str, Any]) -> Account:
    config = runtime.stores["promotions"].config
    client = next((c for c in config.clients.values() if c.identity == ident.name), None)
    if client is None or not client.promotions or "devo" not in config.buckets:
        raise MocksrvError(
            f"--identity {ident.name}: no Promotions client with a promotion and a devo bucket"
        )
    promotion = next(iter(client.promotions.values()))
    params = {
        "client": client.name,
        "bucket": config.buckets["devo"],
        "prefix": promotion.partition("new-promo-codes/"),
    }
    return Account(**base, api="promotions", region=config.region, service="s3", params=params)
