"""The `agcod:` scenario section: schema, defaults for every Decision, parsing (no HTTP)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from mocksrv.scenario.loader import Path_
from mocksrv.scenario.model import Problems, ScenarioModel
from mocksrv.services import recorded

REGIONS = {"NA": "us-east-1", "EU": "eu-west-1", "FE": "us-west-2"}
# marketplace -> (AGCOD region, currency, time zone of the marketplace's local midnight)
MARKETPLACES: dict[str, tuple[str, str, str]] = {
    "US": ("NA", "USD", "America/Los_Angeles"),
    "CA": ("NA", "CAD", "America/Toronto"),
    "MX": ("NA", "MXN", "America/Mexico_City"),
    "UK": ("EU", "GBP", "Europe/London"),
    "DE": ("EU", "EUR", "Europe/Berlin"),
    "FR": ("EU", "EUR", "Europe/Paris"),
    "IT": ("EU", "EUR", "Europe/Rome"),
    "ES": ("EU", "EUR", "Europe/Madrid"),
    "NL": ("EU", "EUR", "Europe/Amsterdam"),
    "BE": ("EU", "EUR", "Europe/Brussels"),
    "PL": ("EU", "PLN", "Europe/Warsaw"),
    "SE": ("EU", "SEK", "Europe/Stockholm"),
    "TR": ("EU", "TRY", "Europe/Istanbul"),
    "AE": ("EU", "AED", "Asia/Dubai"),
    "SA": ("EU", "SAR", "Asia/Riyadh"),
    "EG": ("EU", "EGP", "Africa/Cairo"),
    "ZA": ("EU", "ZAR", "Africa/Johannesburg"),
    "JP": ("FE", "JPY", "Asia/Tokyo"),
    "AU": ("FE", "AUD", "Australia/Sydney"),
    "SG": ("FE", "SGD", "Asia/Singapore"),
}
NEVER_EXPIRE = frozenset({"US", "CA"})
# Per-currency (min, max, decimals) of a production account. USD is the FAQ's digital-card range
# ($0.15-$2,000); the rest are Decisions (sensible defaults), each overridable in
# `agcod.amount_limits` or per partner.
AMOUNT_LIMITS: dict[str, tuple[str, str, int]] = {
    "USD": ("0.15", "2000", 2), "CAD": ("0.15", "2000", 2), "MXN": ("1", "10000", 2),
    "GBP": ("0.15", "2000", 2), "EUR": ("0.15", "2000", 2), "PLN": ("1", "8000", 2),
    "SEK": ("1", "20000", 2), "TRY": ("1", "30000", 2), "AED": ("1", "7000", 2),
    "SAR": ("1", "7000", 2), "EGP": ("1", "50000", 2), "ZAR": ("1", "30000", 2),
    "JPY": ("1", "500000", 0), "AUD": ("0.15", "2000", 2), "SGD": ("0.15", "2000", 2),
}  # fmt: skip
# A sandbox account's minimum is the currency's smallest unit: Amazon's certification script
# creates a USD 0.01 card against the NA sandbox ("DLB") and expects SUCCESS. The maximum is the
# production one (its "MAX" case creates USD 2000.00).
SANDBOX_MIN = {"JPY": "1"}
SANDBOX_MIN_DEFAULT = "0.01"
# gcId format per marketplace: "alnum14" is `A` + 13 of [A-Z0-9], "digits16" is 16 digits.
# US/CA/MX follow the US API docs; the EU euro/pound markets follow the docs' EUR example
# (`A3B6AC387ESRIX`); PL follows the EU endpoint's PLN example (`4510447105517016`); JP follows a
# real JP sandbox capture (`5535125272070255`); AU and SG (same FE endpoint) are a Decision that
# follows JP. Overridable per partner (`gc_id_format`).
GC_ID_FORMATS = ("alnum14", "digits16")
GC_ID_FORMAT: dict[str, str] = {
    **dict.fromkeys(("US", "CA", "MX"), "alnum14"),
    **dict.fromkeys(("UK", "DE", "FR", "IT", "ES", "NL", "BE", "SE", "TR", "AE", "SA", "EG", "ZA"),
                    "alnum14"),
    "PL": "digits16",
    **dict.fromkeys(("JP", "AU", "SG"), "digits16"),
}  # fmt: skip
ID_CHARS = {"strict": r"[A-Za-z0-9]", "default": r"[A-Za-z0-9_-]", "any": r"[\x21-\x7e]"}
CARD_STATES = ("AwaitingActivation", "Activated")

_AMOUNT = {"type": "number", "minimum": 0}
_LIMITS = {
    "type": "object",
    "description": "Currency -> {min, max, decimals}; merged over the defaults.",
    "propertyNames": {"pattern": "^[A-Z]{3}$"},
    "additionalProperties": {
        "type": "object",
        "additionalProperties": False,
        "properties": {
            "min": _AMOUNT,
            "max": _AMOUNT,
            "decimals": {"type": "integer", "minimum": 0, "maximum": 4},
        },
    },
}
_RATE = {
    "type": "object",
    "additionalProperties": False,
    "description": "Token bucket per access key; absent or 0: no limit (the default).",
    "properties": {
        "requests_per_second": {"type": "number", "minimum": 0},
        "burst": {"type": "number", "minimum": 1},
        "get_available_funds_per_second": {"type": "number", "minimum": 0},
    },
}
_ID_CHARS = {"enum": list(ID_CHARS), "description": "creationRequestId characters allowed."}
_STATUS = {"type": "integer", "minimum": 400, "maximum": 599}
_DECISIONS = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "error_status": {
            "type": "object",
            "additionalProperties": False,
            "properties": {c: _STATUS for c in ("F100", "F200", "F300", "F400", "F500")},
        },
        "throttle_status": {"enum": [400, 429]},
        "on_denomination_mismatch": {"enum": ["original", "error"]},
        "cancel_window_seconds": {"type": "integer", "minimum": 0},
        "request_id_chars": _ID_CHARS,
        "unknown_fields": {"enum": ["reject", "ignore"]},
        "target_mismatch": {"enum": ["error", "ignore"]},
        "funds_xml_root": {"enum": ["GetAvailableFundsResponse", "GetAvailableFunds"]},
        "max_body_bytes": {"type": "integer", "minimum": 256, "maximum": 1048576},
    },
}
_PARTNER = {
    "type": "object",
    "additionalProperties": False,
    "required": ["partner_id", "identity", "marketplace"],
    "properties": {
        "partner_id": {"type": "string", "pattern": "^[A-Za-z0-9]{1,20}$"},
        "identity": {"type": "string", "description": "Name of an `api: agcod` identity."},
        "marketplace": {"enum": list(MARKETPLACES)},
        "currency": {"type": "string", "pattern": "^[A-Z]{3}$"},
        "mode": {"enum": ["sandbox", "production"]},
        "funds": _AMOUNT,
        "amount_limits": _LIMITS,
        "rate_limit": _RATE,
        "request_id_chars": _ID_CHARS,
        "gc_id_format": {
            "enum": list(GC_ID_FORMATS),
            "description": "alnum14 (A + 13 characters) or digits16; default per marketplace.",
        },
    },
}
_CARD = {
    "type": "object",
    "additionalProperties": False,
    "required": ["card_number", "partner_id"],
    "properties": {
        "card_number": {"type": "string", "pattern": "^[0-9]{19}$"},
        "partner_id": {"type": "string"},
        "status": {"enum": list(CARD_STATES)},
        "amount": _AMOUNT,
        "activation_request_id": {"type": "string"},
    },
}
# the operations and the body field that names each one's request (GetAvailableFunds: none)
OPERATIONS = {
    "CreateGiftCard": "creationRequestId",
    "CancelGiftCard": "creationRequestId",
    "GetAvailableFunds": None,
    "ActivateGiftCard": "activationRequestId",
    "DeactivateGiftCard": "activationRequestId",
    "ActivationStatusCheck": "statusCheckRequestId",
}
_RECORDED = recorded.section_schema(
    {
        "operation": {"enum": list(OPERATIONS)},
        "partner_id": {"type": "string", "description": "The request body's partnerId."},
        "request_id": {
            "type": "string",
            "description": "The body's creationRequestId (activationRequestId, "
            "statusCheckRequestId); absent for GetAvailableFunds.",
        },
    },
    ["operation", "partner_id"],
    "per operation, partnerId and request id; answered after the signature, rate limit and "
    "body checks, before the partner and mock-id rules",
)
SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "decisions": _DECISIONS,
        "recorded": _RECORDED,
        "amount_limits": _LIMITS,
        "rate_limit": _RATE,
        "partners": {"type": "array", "items": _PARTNER},
        "physical_cards": {"type": "array", "items": _CARD},
    },
}


@dataclass(frozen=True)
class Limits:
    min: Decimal
    max: Decimal
    decimals: int


@dataclass
class Partner:
    """One partner account, bound to the identity (access key) that signs for it."""

    partner_id: str
    identity: str
    access_key: str
    marketplace: str
    region: str  # NA | EU | FE
    signing_region: str
    currency: str
    time_zone: str
    production: bool
    funds: Decimal
    limits: Limits
    id_chars: str
    rate: float
    burst: float
    funds_rate: float
    gc_id_format: str = "alnum14"
    rate_source: str = "agcod.rate_limit"  # the scenario key the limits come from


@dataclass
class PhysicalCard:
    card_number: str
    partner_id: str
    status: str
    amount: Decimal | None
    activation_request_id: str | None


@dataclass
class Decisions:
    error_status: dict[str, int] = field(default_factory=lambda: dict.fromkeys(("F100", "F200", "F300", "F400", "F500"), 400))  # fmt: skip
    throttle_status: int = 400
    denomination_mismatch_error: bool = False
    cancel_window_seconds: int = 900
    reject_unknown_fields: bool = True
    target_mismatch_error: bool = True
    funds_xml_root: str = "GetAvailableFundsResponse"
    max_body_bytes: int = 65536


@dataclass
class AgcodConfig:
    decisions: Decisions
    partners: dict[str, Partner]  # by access key
    cards: list[PhysicalCard]
    # (operation, partnerId, request id or "") -> replies
    recorded: recorded.Table = field(default_factory=dict)


def _limits(currency: str, production: bool, *tables: dict[str, Any]) -> Limits:
    """The mode's default limits for a currency, with the scenario's tables merged over them."""
    lo, hi, decimals = AMOUNT_LIMITS.get(currency, ("0.01", "2000", 2))
    if not production:
        lo = SANDBOX_MIN.get(currency, SANDBOX_MIN_DEFAULT)
    out: dict[str, Any] = {"min": Decimal(lo), "max": Decimal(hi), "decimals": decimals}
    for table in tables:
        for key, value in (table.get(currency) or {}).items():
            out[key] = value if key == "decimals" else Decimal(str(value))
    return Limits(out["min"], out["max"], int(out["decimals"]))


def _decisions(raw: dict[str, Any]) -> Decisions:
    d = Decisions()
    d.error_status.update(raw.get("error_status") or {})
    d.throttle_status = int(raw.get("throttle_status", d.throttle_status))
    d.denomination_mismatch_error = raw.get("on_denomination_mismatch") == "error"
    d.cancel_window_seconds = int(raw.get("cancel_window_seconds", d.cancel_window_seconds))
    d.reject_unknown_fields = raw.get("unknown_fields", "reject") == "reject"
    d.target_mismatch_error = raw.get("target_mismatch", "error") == "error"
    d.funds_xml_root = raw.get("funds_xml_root", d.funds_xml_root)
    d.max_body_bytes = int(raw.get("max_body_bytes", d.max_body_bytes))
    return d


def parse(model: ScenarioModel, problems: Problems) -> AgcodConfig:
    raw = model.raw.get("agcod") or {}
    decisions = _decisions(raw.get("decisions") or {})
    cfg = AgcodConfig(decisions=decisions, partners={}, cards=[])
    for i, p in enumerate(raw.get("partners") or []):
        partner = _partner(model, raw, p, ("agcod", "partners", i), problems)
        if partner is None:
            continue
        if partner.access_key in cfg.partners:
            problems.add(("agcod", "partners", i, "identity"), "identity already used by a partner")
        cfg.partners[partner.access_key] = partner
    by_id = {p.partner_id for p in cfg.partners.values()}
    seen: set[str] = set()
    for i, c in enumerate(raw.get("physical_cards") or []):
        path = ("agcod", "physical_cards", i)
        if c["partner_id"] not in by_id:
            problems.add(path + ("partner_id",), f"unknown partner {c['partner_id']!r}")
        if c["card_number"][:16] in seen:
            problems.add(path + ("card_number",), "duplicate card number")
        seen.add(c["card_number"][:16])
        status = c.get("status", "AwaitingActivation")
        if status == "Activated" and ("amount" not in c or "activation_request_id" not in c):
            problems.add(path, "an Activated card needs amount and activation_request_id")
        amount = Decimal(str(c["amount"])) if "amount" in c else None
        cfg.cards.append(
            PhysicalCard(
                c["card_number"], c["partner_id"], status, amount, c.get("activation_request_id")
            )
        )
    cfg.recorded = recorded.parse(raw.get("recorded") or [], "agcod", _recorded_key, problems)
    return cfg


def _recorded_key(entry: dict[str, Any], path: Path_, problems: Problems) -> tuple[str, ...] | None:
    operation = entry["operation"]
    named = OPERATIONS[operation]
    if named is None and "request_id" in entry:
        problems.add(path + ("request_id",), f"{operation} has no request id")
        return None
    if named is not None and "request_id" not in entry:
        problems.add(path, f"{operation} needs request_id (the body's {named})")
        return None
    return (operation, entry["partner_id"], entry.get("request_id", ""))


def _partner(
    model: ScenarioModel, raw: dict[str, Any], p: dict[str, Any], path: tuple, problems: Problems
) -> Partner | None:
    ident = model.identity(p["identity"])
    if ident is None or ident.api != "agcod":
        problems.add(path + ("identity",), f"no identity {p['identity']!r} with api: agcod")
        return None
    region, currency, tz = MARKETPLACES[p["marketplace"]]
    if ident.regions and REGIONS[region] not in ident.regions:
        problems.add(
            path + ("marketplace",),
            f"{p['marketplace']} signs for {REGIONS[region]}, not in the identity's regions",
        )
    currency = p.get("currency", currency)
    rate = {**(raw.get("rate_limit") or {}), **(p.get("rate_limit") or {})}
    production = p.get("mode", "sandbox") == "production"
    tables = (raw.get("amount_limits") or {}, p.get("amount_limits") or {})
    limits = _limits(currency, production, *tables)
    rate_source = (
        f"agcod.partners[{path[-1]}].rate_limit" if p.get("rate_limit") else "agcod.rate_limit"
    )
    if limits.min > limits.max:
        problems.add(path + ("amount_limits",), f"{currency}: min is above max")
    default_chars = (raw.get("decisions") or {}).get("request_id_chars", "default")
    if "funds" in p and not production:
        problems.add(path + ("funds",), "sandbox accounts have no funds (GetAvailableFunds is 0)")
    return Partner(
        partner_id=p["partner_id"],
        identity=ident.name,
        access_key=ident.access_key,
        marketplace=p["marketplace"],
        region=region,
        signing_region=REGIONS[region],
        currency=currency,
        time_zone=tz,
        production=production,
        funds=Decimal(str(p.get("funds", 0))),
        limits=limits,
        id_chars=ID_CHARS[p.get("request_id_chars", default_chars)],
        rate=float(rate.get("requests_per_second", 0)),
        burst=float(rate.get("burst", rate.get("requests_per_second", 0)) or 1),
        funds_rate=float(rate.get("get_available_funds_per_second", 0)),
        gc_id_format=p.get("gc_id_format", GC_ID_FORMAT.get(p["marketplace"], "alnum14")),
        rate_source=rate_source,
    )
