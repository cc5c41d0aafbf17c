"""AGCOD state: the rules that need state (plain functions), the store interface, and the
memory engine's store (the SQL engines' is in `sqlstore`)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from mocksrv.api import StoreBase
from mocksrv.services import recorded
from mocksrv.services.agcod import rules
from mocksrv.services.agcod.config import AgcodConfig, Partner
from mocksrv.services.agcod.exceptions import AgcodError

FULFILLED = "Fulfilled"
REFUNDED = "RefundedToPurchaser"
ACTIVATED = "Activated"
AWAITING = "AwaitingActivation"


@dataclass
class GiftCard:
    """A digital card; its wire fields never change except `status` (cancel)."""

    account: str  # access key of the partner account
    creation_request_id: str
    gc_id: str
    claim_code: str
    amount: Decimal
    currency: str
    expiration: str | None
    created: datetime
    status: str = FULFILLED
    claimed: bool = False
    cancelled: datetime | None = None
    # rendered replies by (cardStatus, JSON?), so replays cost no rendering
    wire: dict[tuple[str, bool], tuple[str, str]] = field(
        default_factory=dict, repr=False, compare=False
    )


@dataclass
class CardState:
    """A physical card declared in the scenario, and its activation."""

    card_number: str
    partner_id: str
    currency: str
    status: str
    amount: Decimal | None
    activation_request_id: str | None


def replay(card: GiftCard, money: rules.Money, config: AgcodConfig) -> GiftCard:
    """A create that names a card already issued: the same card, or a mismatch error."""
    mismatch = card.amount != money.amount or card.currency != money.currency
    if mismatch and config.decisions.denomination_mismatch_error:
        raise AgcodError("RequestedDenominationMismatch")
    return card


def new_card(partner: Partner, request_id: str, money: rules.Money, now: datetime) -> GiftCard:
    """A fresh card (its gcId may still collide: the store draws again then)."""
    return GiftCard(
        account=partner.access_key,
        creation_request_id=request_id,
        gc_id=rules.gc_id(partner),
        claim_code=rules.claim_code(),
        amount=money.amount,
        currency=money.currency,
        expiration=rules.expiration(partner, now),
        created=now,
    )


def check_cancel(
    card: GiftCard | None, gc_id: str | None, now: datetime, config: AgcodConfig
) -> bool:
    """The cancel rules: raises the wire error, or True if the card must be refunded now
    (False: it was refunded already, and the same answer repeats)."""
    if card is None:
        raise AgcodError("CardNotFound")
    if gc_id is not None and gc_id != card.gc_id:
        raise AgcodError("InvalidGCIdInput")
    if card.status == REFUNDED:
        return False
    if card.claimed:
        raise AgcodError("GcNotReadyForRefund")
    window = timedelta(seconds=config.decisions.cancel_window_seconds)
    if now - card.created > window:
        raise AgcodError("CancelRequestArrivedAfterTimeLimit")
    return True


def check_physical(card: CardState | None, partner: Partner, number: str | None) -> CardState:
    """The card-number rules of every physical-card operation; `card` is the one whose first
    16 digits `number` names (None if there is none)."""
    if not number:
        raise AgcodError("InvalidCardNumberInput")
    if not number.isdigit() or not number.isascii() or len(number) > 19:
        raise AgcodError("InvalidCardNumberInput", "Card number must be 19 digits")
    if len(number) < 19:
        raise AgcodError("CardNumberTooShort")
    if card is None or card.partner_id != partner.partner_id:
        raise AgcodError("CardNumberNotFound")
    if card.card_number != number:
        raise AgcodError("CardNumberCheckSumError")
    return card


def check_activate(
    card: CardState, used_for: str | None, activation_id: str, money: rules.Money
) -> bool:
    """Activation rules: raises, or True if the card must be activated now (False: the same
    activation again)."""
    if used_for is not None and used_for != card.card_number[:16]:
        raise AgcodError("ActivationRequestIdAlreadyBeenUsed")
    if card.status == ACTIVATED:
        if card.activation_request_id != activation_id:
            raise AgcodError("CardAlreadyActivatedWithDifferentRequestId")
        if card.amount != money.amount:
            raise AgcodError("CardActivatedWithDifferentDenomination")
        return False
    return True


def check_deactivate(card: CardState, used_for: str | None, activation_id: str) -> None:
    if used_for is None:
        raise AgcodError("NonExistingActivationRequestId")
    if used_for != card.card_number[:16] or card.activation_request_id != activation_id:
        raise AgcodError("WrongActivationRequestId")
    if card.status != ACTIVATED:
        raise AgcodError("DeactivationNotAllowed")


def physical_cards(config: AgcodConfig) -> dict[str, CardState]:
    """The scenario's physical cards, by their first 16 digits, as declared."""
    currency = {p.partner_id: p.currency for p in config.partners.values()}
    return {
        c.card_number[:16]: CardState(
            c.card_number, c.partner_id, currency.get(c.partner_id, ""), c.status,
            c.amount, c.activation_request_id,
        )
        for c in config.cards
    }  # fmt: skip


class AgcodStore(Protocol):
    """What the AGCOD service and the admin API call on a store (memory or SQL)."""

    config: AgcodConfig

    def create_gift_card(
        self, partner: Partner, request_id: str, money: rules.Money, now: datetime
    ) -> GiftCard: ...

    def cancel_gift_card(
        self, partner: Partner, request_id: str, gc_id: str | None, now: datetime
    ) -> GiftCard: ...

    def available_funds(self, partner: Partner) -> Decimal: ...

    def mark_claimed(
        self, partner_id: str, creation_request_id: str, claimed: bool = True
    ) -> bool: ...

    def activate(
        self, partner: Partner, activation_id: str, number: str | None, money: rules.Money
    ) -> CardState: ...

    def deactivate(self, partner: Partner, activation_id: str, number: str | None) -> CardState: ...

    def status_check(self, partner: Partner, number: str | None) -> CardState: ...

    def snapshot(self, now: datetime) -> dict[str, Any]: ...

    def recorded_reply(self, key: tuple[str, ...]) -> recorded.Reply | None: ...


class MemoryAgcodStore(StoreBase):
    """The memory engine's AGCOD store: this process's dicts, every change under one lock."""

    def __init__(self, config: AgcodConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._cards: dict[tuple[str, str], GiftCard] = {}
        self._gc_ids: set[str] = set()
        self._funds = {p.access_key: p.funds for p in config.partners.values()}
        self._physical = physical_cards(config)
        self._activations = {
            (c.partner_id, c.activation_request_id): c.card_number[:16]
            for c in config.cards
            if c.activation_request_id
        }
        self.replays = recorded.Replays(config.recorded)

    def recorded_reply(self, key: tuple[str, ...]) -> recorded.Reply | None:
        """The next recorded reply (`agcod.recorded`) for this request, if there is one."""
        return self.replays.next(key)

    # -- digital cards ------------------------------------------------------------------------

    def create_gift_card(
        self, partner: Partner, request_id: str, money: rules.Money, now: datetime
    ) -> GiftCard:
        """Issue a card, or replay the one already issued for this (partner, request id)."""
        key = (partner.access_key, request_id)
        with self._lock:
            card = self._cards.get(key)
            if card is not None:
                return replay(card, money, self.config)
            if partner.production:
                self._debit(partner, money.amount)
            card = new_card(partner, request_id, money, now)
            while card.gc_id in self._gc_ids:
                card.gc_id = rules.gc_id(partner)
            self._gc_ids.add(card.gc_id)
            self._cards[key] = card
            return card

    def _debit(self, partner: Partner, amount: Decimal) -> None:
        if self._funds[partner.access_key] < amount:
            raise AgcodError("InsufficientFunds")
        self._funds[partner.access_key] -= amount

    def cancel_gift_card(
        self, partner: Partner, request_id: str, gc_id: str | None, now: datetime
    ) -> GiftCard:
        with self._lock:
            card = self._cards.get((partner.access_key, request_id))
            if check_cancel(card, gc_id, now, self.config):
                assert card is not None
                card.status, card.cancelled = REFUNDED, now
                if partner.production:
                    self._funds[partner.access_key] += card.amount
            assert card is not None
            return card

    def available_funds(self, partner: Partner) -> Decimal:
        if not partner.production:
            return Decimal(0)  # documented sandbox behaviour
        with self._lock:
            return self._funds[partner.access_key]

    def mark_claimed(self, partner_id: str, creation_request_id: str, claimed: bool = True) -> bool:
        """Admin/test hook: a claimed card cannot be cancelled (`GcNotReadyForRefund`)."""
        with self._lock:
            for card in self._cards.values():
                if card.creation_request_id == creation_request_id and (
                    owner(self.config, card) == partner_id
                ):
                    card.claimed = claimed
                    return True
        return False

    # -- physical cards -----------------------------------------------------------------------

    def activate(
        self, partner: Partner, activation_id: str, number: str | None, money: rules.Money
    ) -> CardState:
        with self._lock:
            card = check_physical(self._physical.get((number or "")[:16]), partner, number)
            used_for = self._activations.get((partner.partner_id, activation_id))
            if not check_activate(card, used_for, activation_id, money):
                return card
            if partner.production:
                self._debit(partner, money.amount)
            card.status, card.amount, card.activation_request_id = (
                ACTIVATED,
                money.amount,
                activation_id,
            )
            self._activations[(partner.partner_id, activation_id)] = card.card_number[:16]
            return card

    def deactivate(self, partner: Partner, activation_id: str, number: str | None) -> CardState:
        with self._lock:
            card = check_physical(self._physical.get((number or "")[:16]), partner, number)
            used_for = self._activations.get((partner.partner_id, activation_id))
            check_deactivate(card, used_for, activation_id)
            if partner.production and card.amount is not None:
                self._funds[partner.access_key] += card.amount
            card.status = AWAITING
            return card

    def status_check(self, partner: Partner, number: str | None) -> CardState:
        with self._lock:
            return check_physical(self._physical.get((number or "")[:16]), partner, number)

    # -- admin view ---------------------------------------------------------------------------

    def snapshot(self, now: datetime) -> dict[str, Any]:
        """JSON-able state for the admin API: partners with funds, cards, physical cards."""
        with self._lock:
            cards = list(self._cards.values())
            funds = dict(self._funds)
            physical = list(self._physical.values())
        from mocksrv.services.agcod.views import snapshot

        out = snapshot(self.config, cards, funds, physical, now)
        if self.replays.table:
            out["recorded"] = self.replays.snapshot()
        return out


def owner(config: AgcodConfig, card: GiftCard) -> str:
    """The partner id of the account that issued `card`."""
    partner = config.partners.get(card.account)
    return partner.partner_id if partner else ""
