"""AGCOD request rules in the spec's order, and the card formats per marketplace (plain Python)."""

from __future__ import annotations

import math
import os
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from mocksrv.services.agcod.config import NEVER_EXPIRE, Partner
from mocksrv.services.agcod.exceptions import MOCK_IDS, MOCK_SUCCESS_ID, AgcodError

MAX_REQUEST_ID = 40
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str


@lru_cache(maxsize=64)
def id_pattern(chars: str) -> re.Pattern[str]:
    return re.compile(f"{chars}+")


def check_partner(partner: Partner, fields: dict[str, Any]) -> None:
    """Rule 4: partnerId present and owned by the signing key."""
    partner_id = fields.get("partnerId")
    if not partner_id:
        raise AgcodError("InvalidPartnerIdInput")
    if partner_id != partner.partner_id:
        raise AgcodError("AccessDenied", "Partner Id does not belong to the signing credentials")


def mock_id(partner: Partner, request_id: Any) -> str | None:
    """Rule 5: the sandbox test-plan id (`F3003` or `<partnerId>F3003`) this request names."""
    if partner.production or not isinstance(request_id, str):
        return None
    if request_id.startswith(partner.partner_id):
        request_id = request_id[len(partner.partner_id) :]
    if request_id == MOCK_SUCCESS_ID or request_id in MOCK_IDS:
        return request_id
    return None


def check_request_id(partner: Partner, request_id: Any, *, name: str = "creationRequestId") -> str:
    """Rule 6: present, prefixed by the partner id, at most 40 characters, allowed characters."""
    if not request_id:
        raise AgcodError("InvalidRequestIdInput", f"{name} can't be null or empty")
    if not request_id.startswith(partner.partner_id):
        raise AgcodError("RequestIdMustStartWithPartnerName")
    if len(request_id) > MAX_REQUEST_ID:
        raise AgcodError("RequestIdTooLong")
    if not id_pattern(partner.id_chars).fullmatch(request_id):
        raise AgcodError(
            "InvalidRequestIdInput", f"{name} contains characters that are not allowed"
        )
    return str(request_id)


def check_value(partner: Partner, value: dict[str, Any] | None) -> Money:
    """Rule 7: amount, currency, fraction and the per-currency limits."""
    value = value or {}
    amount = value.get("amount")
    if amount is None:
        raise AgcodError("InvalidAmountInput")
    if amount <= 0:
        raise AgcodError("InvalidAmountValue")
    currency = value.get("currencyCode")
    if not currency:
        raise AgcodError("InvalidCurrencyCodeInput")
    if currency != partner.currency:
        raise AgcodError("CurrencyCodeMismatch")
    if _decimals(amount) > partner.limits.decimals:
        raise AgcodError("FractionalAmountNotAllowed")
    if amount > partner.limits.max:
        raise AgcodError("MaxAmountExceeded")
    if amount < partner.limits.min:
        raise AgcodError("AmountBelowMinThreshold")
    return Money(amount, currency)


def check_echoed_value(value: dict[str, Any] | None) -> None:
    """A mock id echoes the amount as a Java double: one past a double's range (1e400) cannot be
    written, and is refused as the real rules refuse any too large amount."""
    amount = (value or {}).get("amount")
    if amount is not None and not math.isfinite(float(amount)):
        raise AgcodError("MaxAmountExceeded")


def _decimals(amount: Decimal) -> int:
    """Digits after the point, trailing zeros aside (no `normalize()`: it overflows on 1e999999)."""
    _, digits, exponent = amount.as_tuple()
    if not isinstance(exponent, int) or exponent >= 0:
        return 0
    text = "".join(map(str, digits))
    significant = text.rstrip("0")
    if not significant:
        return 0
    return max(0, -exponent - (len(text) - len(significant)))


def check_create_extras(fields: dict[str, Any]) -> None:
    if len(fields.get("externalReference", "")) > 100:
        raise AgcodError("ExternalReferenceTooLong")
    if len(fields.get("programId", "")) > 100:
        raise AgcodError("InvalidProgramId")
    if len(fields.get("productType", "")) > 50:
        raise AgcodError("BadInput", "productType is longer than 50 characters")


# -- formats --------------------------------------------------------------------------------


# each random byte maps to one of the 36 characters (256 = 7 * 36 + 4: a 4-in-256 skew towards
# the first four characters, irrelevant for mock claim codes and ids)
_BYTE_TO_ALNUM = bytes(ord(_ALNUM[b % 36]) for b in range(256))


def _alnum(count: int) -> str:
    """`count` random characters of [A-Z0-9] from the system RNG (one read, one C-level map)."""
    return os.urandom(count).translate(_BYTE_TO_ALNUM).decode("ascii")


def claim_code() -> str:
    text = _alnum(14)
    return f"{text[:4]}-{text[4:10]}-{text[10:]}"


def gc_id(partner: Partner) -> str:
    if partner.gc_id_format == "digits16":
        return str(secrets.randbelow(9 * 10**15) + 10**15)
    return "A" + _alnum(13)


def java_date(at: datetime) -> str:
    """Java `Date.toString()` in UTC: `Thu Jun 10 14:59:59 UTC 2032` (locale-independent)."""
    u = at.astimezone(UTC)
    return f"{_DAYS[u.weekday()]} {_MONTHS[u.month - 1]} {u.day:02d} {u:%H:%M:%S} UTC {u.year}"


def expiration(partner: Partner, now: datetime) -> str | None:
    """Creation + 10 years at 23:59:59 local marketplace time; never for US and CA."""
    if partner.marketplace in NEVER_EXPIRE:
        return None
    tz = ZoneInfo(partner.time_zone)
    local = now.astimezone(tz).date()
    if local.year + 10 > date.max.year:  # a scenario clock near 9999: the last day there is
        return java_date(datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC))
    try:
        end = local.replace(year=local.year + 10)
    except ValueError:  # 29 February
        end = date(local.year + 10, 2, 28)
    return java_date(datetime(end.year, end.month, end.day, 23, 59, 59, tzinfo=tz))


def funds_timestamp(now: datetime) -> str:
    return now.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")
