"""The AGCOD admin view: partners with their funds and ledger, cards, physical cards."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from mocksrv.clock import iso
from mocksrv.services.agcod.config import AgcodConfig, Partner
from mocksrv.services.agcod.models import FULFILLED, CardState, GiftCard, owner

LEDGER_ENTRIES = 200  # funds movements per partner in the admin state view


def snapshot(
    config: AgcodConfig,
    cards: list[GiftCard],
    funds: dict[str, Decimal],
    physical: list[CardState],
    now: datetime,
) -> dict[str, Any]:
    """The admin view: partners with their funds and ledger, cards, physical cards."""
    partners = [
        {
            "partnerId": p.partner_id,
            "identity": p.identity,
            "mode": "production" if p.production else "sandbox",
            "marketplace": p.marketplace,
            "currency": p.currency,
            "availableFunds": float(funds.get(p.access_key, p.funds)) if p.production else 0.0,
            "startingFunds": float(p.funds) if p.production else 0.0,
            "ledger": _ledger(p, cards) if p.production else [],
        }
        for p in config.partners.values()
    ]
    window = timedelta(seconds=config.decisions.cancel_window_seconds)
    return {
        "partners": partners,
        "cards": [_card_view(config, c, now, window) for c in cards],
        "physicalCards": [
            {
                "cardNumber": c.card_number,
                "partnerId": c.partner_id,
                "cardStatus": c.status,
                "amount": float(c.amount) if c.amount is not None else None,
                "currencyCode": c.currency,
                "activationRequestId": c.activation_request_id,
            }
            for c in physical
        ],
    }


def _ledger(
    partner: Partner, cards: list[GiftCard], newest: int = LEDGER_ENTRIES
) -> list[dict[str, Any]]:
    """The partner's funds over time, derived from its cards: a debit per card issued, a
    credit per card cancelled; the newest `newest` movements."""
    moves: list[tuple[datetime, Decimal, str, GiftCard]] = []
    for card in cards:
        if card.account != partner.access_key:
            continue
        moves.append((card.created, -card.amount, "CreateGiftCard", card))
        if card.cancelled is not None:
            moves.append((card.cancelled, card.amount, "CancelGiftCard", card))
    moves.sort(key=lambda m: m[0])
    balance, out = partner.funds, []
    for at, delta, operation, card in moves:
        balance += delta
        out.append(
            {
                "at": iso(at),
                "operation": operation,
                "gcId": card.gc_id,
                "amount": float(delta),
                "balance": float(balance),
            }
        )
    return out[-newest:]


def _card_view(
    config: AgcodConfig, c: GiftCard, now: datetime, window: timedelta
) -> dict[str, Any]:
    return {
        "partnerId": owner(config, c),
        "creationRequestId": c.creation_request_id,
        "gcId": c.gc_id,
        "gcClaimCode": c.claim_code,
        "amount": float(c.amount),
        "currencyCode": c.currency,
        "cardStatus": c.status,
        "gcExpirationDate": c.expiration,
        "createdAt": iso(c.created),
        "cancelledAt": iso(c.cancelled) if c.cancelled else None,
        "cancelWindowEndsAt": iso(c.created + window),
        "cancellable": c.status == FULFILLED and not c.claimed and now - c.created <= window,
        "claimed": c.claimed,
    }
