"""The `prime:` scenario section: schema, and parsing into rule objects (no Flask, no HTTP)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mocksrv.scenario.loader import Path_
from mocksrv.scenario.model import Problems, ScenarioModel
from mocksrv.services import recorded

OUTCOMES = (
    "SUCCESS",
    "INVALID_OFFER_CODE",
    "FAILURE:DENIED:EXCEEDED_USAGE_LIMIT",
    "FAILURE:DENIED:DEAL_INACTIVE",
)
DAYS = ("MON", "TUE", "WED", "THU", "FRI", "SAT", "SUN")
PERIODS = ("day", "week", "month", "year", "lifetime")
# Decision: signing region per marketplace. US and IN are documented; the rest follow the AWS
# region that serves the marketplace's Amazon site and can be overridden in `prime.marketplaces`.
DEFAULT_MARKETPLACES = {
    "US": "us-east-1", "CA": "us-east-1", "MX": "us-east-1", "BR": "us-east-1",
    "IN": "eu-west-1", "UK": "eu-west-1", "GB": "eu-west-1", "DE": "eu-west-1",
    "FR": "eu-west-1", "IT": "eu-west-1", "ES": "eu-west-1", "NL": "eu-west-1",
    "JP": "us-west-2", "AU": "us-west-2", "SG": "us-west-2",
}  # fmt: skip

_REPLY = {
    "type": "string",
    "description": "An outcome message, or a Prime error name to answer with.",
}
_CODE = {
    "type": "object",
    "additionalProperties": False,
    "required": ["code"],
    "properties": {
        "code": {"type": "string", "minLength": 1, "maxLength": 256},
        "description": {"type": "string"},
        "revoked": {"type": "boolean"},
        "expires_at": {"type": "string", "description": "After this instant: INVALID_OFFER_CODE."},
        "active_from": {"type": "string", "description": "Before it: DEAL_INACTIVE."},
        "active_until": {"type": "string", "description": "After it: DEAL_INACTIVE."},
        "days_of_week": {
            "type": "array",
            "items": {"enum": list(DAYS)},
            "uniqueItems": True,
            "description": "Days the deal is active, in the caller's x-amz-time-zone.",
        },
        "usage_limit": {
            "type": "object",
            "additionalProperties": False,
            "required": ["uses", "period"],
            "properties": {
                "uses": {"type": "integer", "minimum": 0},
                "period": {"enum": list(PERIODS)},
            },
        },
        "redemptions": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Instants of earlier redemptions (count against usage_limit).",
        },
        "reply": _REPLY,
        "replies": {
            "type": "array",
            "items": _REPLY,
            "minItems": 1,
            "description": "One reply per call, then the last one repeats.",
        },
    },
}
OPERATIONS = ("verify", "redeem", "auth-code")
_RECORDED = recorded.section_schema(
    {
        "operation": {"enum": list(OPERATIONS)},
        "benefit_id": {"type": "string", "description": "A benefit of prime.benefits."},
        "offer_code": {"type": "string", "minLength": 1},
    },
    ["operation", "benefit_id", "offer_code"],
    "per operation, benefit and offer code; answered after the signature, header, benefit and "
    "rate checks, in place of the code's rules and pinned replies",
)
SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "recorded": _RECORDED,
        "marketplaces": {
            "type": "object",
            "description": "Marketplace -> SigV4 region the caller must sign for.",
            "propertyNames": {"pattern": "^[A-Z]{2}$"},
            "additionalProperties": {"type": "string"},
        },
        "rate_limit": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                "requests_per_second": {"type": "number", "minimum": 0},
                "burst": {"type": "number", "minimum": 1},
            },
            "description": "Per access key; over it: 429 TooManyRequests. 0 (default) = no limit.",
        },
        "auth_code_ttl_seconds": {"type": "integer", "minimum": 1},
        "redemption_time_max_age_seconds": {"type": "integer", "minimum": 0},
        "benefits": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id", "marketplace"],
                "properties": {
                    "id": {"type": "string", "pattern": "^[A-Za-z0-9_.-]{1,128}$"},
                    "marketplace": {"type": "string", "pattern": "^[A-Z]{2}$"},
                    "offer_codes": {"type": "array", "items": _CODE},
                },
            },
        },
    },
}


@dataclass
class OfferCode:
    code: str
    revoked: bool = False
    expires_at: datetime | None = None
    active_from: datetime | None = None
    active_until: datetime | None = None
    days_of_week: frozenset[int] | None = None  # 0 = Monday
    limit_uses: int | None = None
    limit_period: str = "lifetime"
    redemptions: list[datetime] = field(default_factory=list)
    replies: tuple[str, ...] = ()


@dataclass
class Benefit:
    id: str
    marketplace: str
    codes: dict[str, OfferCode] = field(default_factory=dict)


AUTH_CODE_TTL = 300  # seconds an auth code stays valid (Decision)
REDEMPTION_MAX_AGE = 86400  # how far back x-amz-offer-code-redemption-time may go (Decision)


@dataclass
class PrimeConfig:
    marketplaces: dict[str, str]
    benefits: dict[str, Benefit]
    rate: float = 0.0
    burst: float | None = None
    auth_code_ttl: int = AUTH_CODE_TTL
    redemption_max_age: int = REDEMPTION_MAX_AGE
    # (operation, benefit id, offer code) -> replies
    recorded: recorded.Table = field(default_factory=dict)


def parse(model: ScenarioModel, problems: Problems) -> PrimeConfig:
    from mocksrv.services.prime.exceptions import ERRORS

    raw = model.raw.get("prime") or {}
    rate = raw.get("rate_limit") or {}
    cfg = PrimeConfig(
        marketplaces={**DEFAULT_MARKETPLACES, **(raw.get("marketplaces") or {})},
        benefits={},
        rate=float(rate.get("requests_per_second", 0)),
        burst=rate.get("burst"),
        auth_code_ttl=int(raw.get("auth_code_ttl_seconds", AUTH_CODE_TTL)),
        redemption_max_age=int(raw.get("redemption_time_max_age_seconds", REDEMPTION_MAX_AGE)),
    )
    for bi, b in enumerate(raw.get("benefits") or []):
        bpath = ("prime", "benefits", bi)
        if b["id"] in cfg.benefits:
            problems.add(bpath + ("id",), f"duplicate benefit id {b['id']!r}")
        if b["marketplace"] not in cfg.marketplaces:
            problems.add(
                bpath + ("marketplace",), "marketplace has no region: add it to prime.marketplaces"
            )
        benefit = Benefit(id=b["id"], marketplace=b["marketplace"])
        for ci, c in enumerate(b.get("offer_codes") or []):
            cpath = bpath + ("offer_codes", ci)
            if c["code"] in benefit.codes:
                problems.add(cpath + ("code",), f"duplicate offer code {c['code']!r}")
            benefit.codes[c["code"]] = _parse_code(c, cpath, problems, set(ERRORS))
        cfg.benefits[benefit.id] = benefit
    benefits = cfg.benefits

    def recorded_key(entry: dict[str, Any], path: Path_, problems: Problems) -> recorded.Key:
        if entry["benefit_id"] not in benefits:
            problems.add(
                path + ("benefit_id",),
                f"unknown benefit {entry['benefit_id']!r}: declare it in prime.benefits (a "
                "recorded reply is answered after the benefit check)",
            )
        return (entry["operation"], entry["benefit_id"], entry["offer_code"])

    cfg.recorded = recorded.parse(raw.get("recorded") or [], "prime", recorded_key, problems)
    for ii, ident in enumerate(model.raw.get("identities") or []):
        for bid in ident.get("benefits") or []:
            if ident["api"] == "prime" and bid not in cfg.benefits:
                problems.add(("identities", ii, "benefits"), f"unknown benefit {bid!r}")
    return cfg


def _parse_code(c: dict[str, Any], path: tuple, problems: Problems, errors: set[str]) -> OfferCode:
    code = OfferCode(code=c["code"], revoked=bool(c.get("revoked", False)))
    for key in ("expires_at", "active_from", "active_until"):
        if c.get(key) is not None:
            setattr(code, key, problems.instant(path + (key,), c[key]))
    if c.get("days_of_week") is not None:
        code.days_of_week = frozenset(DAYS.index(d) for d in c["days_of_week"])
    if c.get("usage_limit"):
        code.limit_uses = c["usage_limit"]["uses"]
        code.limit_period = c["usage_limit"]["period"]
    for ri, r in enumerate(c.get("redemptions") or []):
        when = problems.instant(path + ("redemptions", ri), r)
        if when:
            code.redemptions.append(when)
    if "reply" in c and "replies" in c:
        problems.add(path, "give either reply or replies, not both")
    replies = [c["reply"]] if "reply" in c else list(c.get("replies") or [])
    for ri, reply in enumerate(replies):
        if reply not in OUTCOMES and reply not in errors:
            where = path + (("reply",) if "reply" in c else ("replies", ri))
            known = ", ".join(OUTCOMES + tuple(sorted(errors)))
            problems.add(where, f"{reply!r} is neither an outcome nor a Prime error ({known})")
    code.replies = tuple(replies)
    return code
