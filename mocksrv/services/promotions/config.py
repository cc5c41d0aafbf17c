"""The `promotions:` scenario section: schema, and parsing into plain config objects (no HTTP)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from mocksrv.credentials import DEFAULT_DURATION, MAX_DURATION
from mocksrv.scenario.loader import Path_
from mocksrv.scenario.model import Problems, ScenarioModel
from mocksrv.services import recorded

_TRUSTED = {
    "type": "string",
    "description": "An identity name, a user ARN arn:aws:iam::<account>:user/<name>, or an "
    "account root ARN arn:aws:iam::<account>:root (any identity of that account).",
}
ROLE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["arn", "trusted"],
    "description": "An IAM role the client may upload with (STS AssumeRole); its permissions are "
    "the client's own policy.",
    "properties": {
        "arn": {
            "type": "string",
            "pattern": r"^arn:aws:iam::[0-9]{12}:role/([\x21-\x7e]+/)?[\w+=,.@-]{1,64}$",
            "description": "arn:aws:iam::<account>:role/<ClientName>-PromoCodesUpload-Role",
        },
        "trusted": {"type": "array", "items": _TRUSTED, "minItems": 1},
        "external_id": {
            "type": "string",
            "pattern": r"^[\w+=,.@:/-]{2,1224}$",
            "description": "AssumeRole must pass this ExternalId.",
        },
        "max_session_duration_seconds": {
            "type": "integer",
            "minimum": DEFAULT_DURATION,
            "maximum": MAX_DURATION,
            "description": f"The role's MaxSessionDuration (default {DEFAULT_DURATION}).",
        },
    },
}


ENVIRONMENTS = ("devo", "prod")
NEW_PREFIX = "new-promo-codes/"
REDEEMED_PREFIX = "redeemed-promo-codes/"
RESULTS_PREFIX = "processing-results/"
# Decisions (the real limits are not public); each is overridable per promotion.
DEFAULT_MAX_LENGTH = 64
DEFAULT_CHARSET = "A-Za-z0-9_-"
DEFAULT_THRESHOLD = 100
DEFAULT_MAX_REPORT_ERRORS = 1000
DEFAULT_REGION = "us-east-1"
_BUCKET = {"type": "string", "pattern": "^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"}
_PART = "^[A-Za-z0-9_.-]{1,128}$"

_PRELOAD = {
    "oneOf": [
        {"type": "array", "items": {"type": "string", "minLength": 1}, "description": "Codes."},
        {
            "type": "object",
            "additionalProperties": False,
            "required": ["count"],
            "properties": {
                "count": {"type": "integer", "minimum": 1, "maximum": 1000000},
                "prefix": {"type": "string", "description": "Codes are prefix + 001, 002, ..."},
            },
        },
    ]
}
_PROMOTION = {
    "type": "object",
    "additionalProperties": False,
    "required": ["id", "marketplace", "offer_type", "url_template"],
    "properties": {
        "id": {"type": "string", "pattern": _PART, "description": "PromotionId in keys."},
        "marketplace": {"type": "string", "pattern": "^[A-Z]{2}$"},
        "offer_type": {
            "type": "string",
            "pattern": _PART,
            "description": "e.g. student-promo-deal",
        },
        "url_template": {
            "type": "string",
            "description": "Partner promotion URL; {code}, {promotion_id}, {member} are replaced.",
        },
        "low_inventory_threshold": {
            "type": "integer",
            "minimum": 0,
            "description": f"Warn when fewer codes are available (default {DEFAULT_THRESHOLD}).",
        },
        "code_max_length": {
            "type": "integer",
            "minimum": 1,
            "maximum": 1024,
            "description": f"Longest accepted code (default {DEFAULT_MAX_LENGTH}).",
        },
        "code_charset": {
            "type": "string",
            "minLength": 1,
            "description": "Allowed code characters, as the inside of a regex character class "
            f"(default {DEFAULT_CHARSET!r}).",
        },
        "inventory": {
            "type": "object",
            "additionalProperties": False,
            "description": "Codes available from the start, per environment, as if a new-codes "
            "file had been accepted: a list, or {count, prefix} to generate them.",
            "properties": {"devo": _PRELOAD, "prod": _PRELOAD},
        },
    },
}
_RECORDED = recorded.section_schema(
    {
        "operation": {
            "type": "string",
            "pattern": "^[A-Za-z0-9]{1,64}$",
            "description": "The S3 operation: PutObject, GetObject, HeadObject, ...",
        },
        "bucket": _BUCKET,
        "key": {"type": "string", "description": "The object key (absent: a bucket operation)."},
    },
    ["operation", "bucket"],
    "per S3 operation, bucket and key; answered after the signature and the client's "
    "permissions, in place of S3 (an upload answered this way is not stored or processed)",
)
SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "recorded": _RECORDED,
        "region": {"type": "string", "description": f"Bucket region (default {DEFAULT_REGION})."},
        "max_report_errors": {
            "type": "integer",
            "minimum": 0,
            "description": "Rejected lines listed per report; the rest are only counted.",
        },
        "environments": {
            "type": "object",
            "additionalProperties": False,
            "properties": {
                env: {
                    "type": "object",
                    "additionalProperties": False,
                    "required": ["bucket"],
                    "properties": {"bucket": _BUCKET},
                }
                for env in ENVIRONMENTS
            },
        },
        "clients": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["name", "identity"],
                "properties": {
                    "name": {"type": "string", "pattern": _PART, "description": "ClientName."},
                    "identity": {
                        "type": "string",
                        "description": "An identity with api: promotions.",
                    },
                    "prod_enabled": {"type": "boolean", "description": "Prod writes allowed."},
                    "role": ROLE_SCHEMA,
                    "promotions": {"type": "array", "items": _PROMOTION},
                },
            },
        },
    },
}


@dataclass(frozen=True)
class Promotion:
    id: str
    client: str
    marketplace: str
    offer_type: str
    url_template: str
    threshold: int = DEFAULT_THRESHOLD
    max_length: int = DEFAULT_MAX_LENGTH
    charset: str = DEFAULT_CHARSET
    bad_char: re.Pattern[str] = field(default=re.compile(f"[^{DEFAULT_CHARSET}]"), compare=False)
    # a batch of new-code lines in which every line is valid, matched in one pass (fast path)
    valid_new: re.Pattern[str] | None = field(default=None, compare=False)
    preload: dict[str, list[str]] = field(default_factory=dict)  # environment -> codes

    def partition(self, kind_prefix: str) -> str:
        """The key prefix this promotion's files of one kind are uploaded under."""
        return (
            f"{kind_prefix}clientname={self.client}/marketplace={self.marketplace}/"
            f"offertype={self.offer_type}/promotionid={self.id}/"
        )

    def url(self, code: str, member: str) -> str:
        return (
            self.url_template.replace("{code}", code)
            .replace("{promotion_id}", self.id)
            .replace("{member}", member)
        )


@dataclass
class Client:
    name: str
    identity: str
    access_key: str
    prod_enabled: bool = False
    promotions: dict[str, Promotion] = field(default_factory=dict)


@dataclass
class PromotionsConfig:
    region: str = DEFAULT_REGION
    max_report_errors: int = DEFAULT_MAX_REPORT_ERRORS
    buckets: dict[str, str] = field(default_factory=dict)  # environment -> bucket
    clients: dict[str, Client] = field(default_factory=dict)  # by client name
    promotions: dict[str, Promotion] = field(default_factory=dict)  # by promotion id
    # (operation, bucket, key or "") -> replies
    recorded: recorded.Table = field(default_factory=dict)

    def environment_of(self, bucket: str) -> str | None:
        return next((env for env, b in self.buckets.items() if b == bucket), None)

    def client_for_key(self, access_key: str) -> Client | None:
        return next((c for c in self.clients.values() if c.access_key == access_key), None)


def parse(model: ScenarioModel, problems: Problems) -> PromotionsConfig:
    raw = model.raw.get("promotions") or {}
    cfg = PromotionsConfig(
        region=str(raw.get("region", DEFAULT_REGION)),
        max_report_errors=int(raw.get("max_report_errors", DEFAULT_MAX_REPORT_ERRORS)),
        buckets={env: v["bucket"] for env, v in (raw.get("environments") or {}).items()},
    )
    if len(set(cfg.buckets.values())) != len(cfg.buckets):
        problems.add(("promotions", "environments"), "devo and prod need distinct buckets")
    if raw.get("clients") and "devo" not in cfg.buckets:
        problems.add(("promotions", "environments"), "clients need at least a devo bucket")
    for ci, c in enumerate(raw.get("clients") or []):
        client = _parse_client(model, c, ("promotions", "clients", ci), problems, cfg)
        if client is not None:
            cfg.clients[client.name] = client
    buckets = set(cfg.buckets.values())

    def recorded_key(entry: dict[str, Any], path: Path_, problems: Problems) -> recorded.Key:
        if entry["bucket"] not in buckets:
            problems.add(path + ("bucket",), "not a bucket of promotions.environments")
        return (entry["operation"], entry["bucket"], entry.get("key", ""))

    cfg.recorded = recorded.parse(raw.get("recorded") or [], "promotions", recorded_key, problems)
    return cfg


def _parse_client(
    model: ScenarioModel, c: dict[str, Any], path: tuple, problems: Problems, cfg: PromotionsConfig
) -> Client | None:
    ident = model.identity(c["identity"])
    if ident is None or ident.api != "promotions":
        problems.add(path + ("identity",), f"no identity {c['identity']!r} with api: promotions")
        return None
    if c["name"] in cfg.clients:
        problems.add(path + ("name",), f"duplicate client {c['name']!r}")
    if any(other.access_key == ident.access_key for other in cfg.clients.values()):
        problems.add(path + ("identity",), "identity already used by another client")
    client = Client(
        name=c["name"],
        identity=ident.name,
        access_key=ident.access_key,
        prod_enabled=bool(c.get("prod_enabled", False)),
    )
    if client.prod_enabled and "prod" not in cfg.buckets:
        problems.add(path + ("prod_enabled",), "no prod bucket in promotions.environments")
    for pi, p in enumerate(c.get("promotions") or []):
        ppath = path + ("promotions", pi)
        promo = _parse_promotion(client.name, p, ppath, problems)
        if promo.id in cfg.promotions:
            problems.add(ppath + ("id",), f"duplicate promotion id {promo.id!r}")
        cfg.promotions[promo.id] = promo
        client.promotions[promo.id] = promo
        for env in promo.preload.keys() - cfg.buckets.keys():
            problems.add(ppath + ("inventory", env), f"no {env} bucket in promotions.environments")
    return client


def _parse_promotion(client: str, p: dict[str, Any], path: tuple, problems: Problems) -> Promotion:
    charset = str(p.get("code_charset", DEFAULT_CHARSET))
    try:
        bad_char = re.compile(f"[^{charset}]")
    except re.error as exc:
        problems.add(path + ("code_charset",), f"not a valid character class: {exc}")
        charset = DEFAULT_CHARSET
        bad_char = re.compile(f"[^{charset}]")
    max_length = int(p.get("code_max_length", DEFAULT_MAX_LENGTH))
    line = f"[{charset}]{{1,{max_length}}},new\r?"
    if "{code}" not in p["url_template"]:
        problems.add(path + ("url_template",), "must contain {code}")
    preload = {
        env: _preload_codes(spec, bad_char, max_length, path + ("inventory", env), problems)
        for env, spec in (p.get("inventory") or {}).items()
    }
    return Promotion(
        id=p["id"],
        client=client,
        marketplace=p["marketplace"],
        offer_type=p["offer_type"],
        url_template=p["url_template"],
        threshold=int(p.get("low_inventory_threshold", DEFAULT_THRESHOLD)),
        max_length=max_length,
        charset=charset,
        bad_char=bad_char,
        valid_new=re.compile(f"(?:{line}\n)*{line}"),
        preload=preload,
    )


def _preload_codes(
    spec: Any, bad_char: re.Pattern[str], max_length: int, path: tuple, problems: Problems
) -> list[str]:
    """The codes of `inventory.<env>`, each checked as a new-codes file line would be."""
    if isinstance(spec, dict):
        count, prefix = int(spec["count"]), str(spec.get("prefix", ""))
        width = max(3, len(str(count)))
        codes = [f"{prefix}{i:0{width}d}" for i in range(1, count + 1)]
    else:
        codes = [str(c) for c in spec]
    for i, code in enumerate(codes[-1:] if isinstance(spec, dict) else codes):
        where = path if isinstance(spec, dict) else path + (i,)
        if len(code) > max_length:
            problems.add(where, f"{code!r} is longer than code_max_length {max_length}")
        elif bad_char.search(code):
            problems.add(where, f"{code!r} has characters outside code_charset")
    if len(set(codes)) != len(codes):
        problems.add(path, "duplicate codes")
    return codes
