"""AGCOD state: gift cards, funds and physical cards per partner, every mutation under one lock."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from mocksrv.clock import iso
from mocksrv.services import recorded
from mocksrv.services.agcod import rules
from mocksrv.services.agcod.config import AgcodConfig, Partner
from mocksrv.services.agcod.exceptions import AgcodError
from mocksrv.state.sink import NULL_SINK, Sink

FULFILLED = "Fulfilled"
REFUNDED = "RefundedToPurchaser"
ACTIVATED = "Activated"
AWAITING = "AwaitingActivation"
LEDGER_ENTRIES = 200  # funds movements per partner in the admin state view


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


def _card_row(card: GiftCard) -> list[Any]:
    cancelled = card.cancelled.isoformat() if card.cancelled else None  # full precision
    return [card.gc_id, card.claim_code, str(card.amount), card.currency, card.expiration,
            card.created.isoformat(), card.status, card.claimed, cancelled]  # fmt: skip


def _card_of_row(key: tuple[str, str], row: list[Any]) -> GiftCard:
    account, request_id = key
    gc_id, claim, amount, currency, expiration, created, status, claimed, cancelled = row
    return GiftCard(
        account=account,
        creation_request_id=request_id,
        gc_id=gc_id,
        claim_code=claim,
        amount=Decimal(amount),
        currency=currency,
        expiration=expiration,
        created=datetime.fromisoformat(created),  # written by isoformat(): with its offset
        status=status,
        claimed=bool(claimed),
        cancelled=datetime.fromisoformat(cancelled) if cancelled else None,
    )


class AgcodBackend:
    """The business rules that need state; validation without state lives in `rules`."""

    def __init__(self, config: AgcodConfig) -> None:
        self.config = config
        self.sink: Sink = NULL_SINK  # durable state (serve --state), else memory only
        self._lock = threading.Lock()
        # restored cards stay rows (lists) until first used: start-up on a big state stays fast
        self._cards: dict[tuple[str, str], GiftCard | list[Any]] = {}
        self._gc_ids: set[str] = set()
        self._funds = {p.access_key: p.funds for p in config.partners.values()}
        currency = {p.partner_id: p.currency for p in config.partners.values()}
        self._physical = {
            c.card_number[:16]: CardState(
                c.card_number, c.partner_id, currency.get(c.partner_id, ""), c.status,
                c.amount, c.activation_request_id,
            )
            for c in config.cards
        }  # fmt: skip
        self._activations = {
            (c.partner_id, c.activation_request_id): c.card_number[:16]
            for c in config.cards
            if c.activation_request_id
        }
        self.replays = recorded.Replays(config.recorded)

    def recorded_reply(self, key: tuple[str, ...]) -> recorded.Reply | None:
        """The next recorded reply (`agcod.recorded`) for this request, if there is one."""
        return self.replays.next(key, self.sink)

    # -- digital cards ------------------------------------------------------------------------

    def create_gift_card(
        self, partner: Partner, request_id: str, money: rules.Money, now: datetime
    ) -> GiftCard:
        """Issue a card, or replay the one already issued for this (partner, request id)."""
        key = (partner.access_key, request_id)
        with self._lock:
            card = self._card(key)
            if card is not None:
                mismatch = card.amount != money.amount or card.currency != money.currency
                if mismatch and self.config.decisions.denomination_mismatch_error:
                    raise AgcodError("RequestedDenominationMismatch")
                return card
            if partner.production:
                self._debit(partner, money.amount)
            card = GiftCard(
                account=partner.access_key,
                creation_request_id=request_id,
                gc_id=self._new_gc_id(partner),
                claim_code=rules.claim_code(),
                amount=money.amount,
                currency=money.currency,
                expiration=rules.expiration(partner, now),
                created=now,
            )
            self._cards[key] = card
            self._save_card(card, partner)
            return card

    def _card(self, key: tuple[str, str]) -> GiftCard | None:
        """The card of (account, creationRequestId), made from its row on first use (lock held)."""
        card = self._cards.get(key)
        if isinstance(card, list):
            card = self._cards[key] = _card_of_row(key, card)
        return card

    def _all_cards(self) -> list[GiftCard]:
        return [c for key in list(self._cards) if (c := self._card(key)) is not None]

    def _new_gc_id(self, partner: Partner) -> str:
        gc_id = rules.gc_id(partner)
        while gc_id in self._gc_ids:
            gc_id = rules.gc_id(partner)
        self._gc_ids.add(gc_id)
        return gc_id

    def _debit(self, partner: Partner, amount: Decimal) -> None:
        if self._funds[partner.access_key] < amount:
            raise AgcodError("InsufficientFunds")
        self._funds[partner.access_key] -= amount

    def cancel_gift_card(
        self, partner: Partner, request_id: str, gc_id: str | None, now: datetime
    ) -> GiftCard:
        with self._lock:
            card = self._card((partner.access_key, request_id))
            if card is None:
                raise AgcodError("CardNotFound")
            if gc_id is not None and gc_id != card.gc_id:
                raise AgcodError("InvalidGCIdInput")
            if card.status == REFUNDED:
                return card
            if card.claimed:
                raise AgcodError("GcNotReadyForRefund")
            window = timedelta(seconds=self.config.decisions.cancel_window_seconds)
            if now - card.created > window:
                raise AgcodError("CancelRequestArrivedAfterTimeLimit")
            card.status, card.cancelled = REFUNDED, now
            if partner.production:
                self._funds[partner.access_key] += card.amount
            self._save_card(card, partner)
            return card

    def available_funds(self, partner: Partner) -> Decimal:
        if not partner.production:
            return Decimal(0)  # documented sandbox behaviour
        with self._lock:
            return self._funds[partner.access_key]

    def mark_claimed(self, partner_id: str, creation_request_id: str, claimed: bool = True) -> bool:
        """Admin/test hook: a claimed card cannot be cancelled (`GcNotReadyForRefund`)."""
        with self._lock:
            for card in self._all_cards():
                if (
                    card.creation_request_id == creation_request_id
                    and self._owner(card) == partner_id
                ):
                    card.claimed = claimed
                    self._save_card(card, None)
                    return True
        return False

    def _owner(self, card: GiftCard) -> str:
        partner = self.config.partners.get(card.account)
        return partner.partner_id if partner else ""

    # -- physical cards -----------------------------------------------------------------------

    def _physical_card(self, partner: Partner, number: str | None) -> CardState:
        if not number:
            raise AgcodError("InvalidCardNumberInput")
        if not number.isdigit() or not number.isascii() or len(number) > 19:
            raise AgcodError("InvalidCardNumberInput", "Card number must be 19 digits")
        if len(number) < 19:
            raise AgcodError("CardNumberTooShort")
        card = self._physical.get(number[:16])
        if card is None or card.partner_id != partner.partner_id:
            raise AgcodError("CardNumberNotFound")
        if card.card_number != number:
            raise AgcodError("CardNumberCheckSumError")
        return card

    def activate(
        self, partner: Partner, activation_id: str, number: str | None, money: rules.Money
    ) -> CardState:
        with self._lock:
            card = self._physical_card(partner, number)
            used_for = self._activations.get((partner.partner_id, activation_id))
            if used_for is not None and used_for != card.card_number[:16]:
                raise AgcodError("ActivationRequestIdAlreadyBeenUsed")
            if card.status == ACTIVATED:
                if card.activation_request_id != activation_id:
                    raise AgcodError("CardAlreadyActivatedWithDifferentRequestId")
                if card.amount != money.amount:
                    raise AgcodError("CardActivatedWithDifferentDenomination")
                return card
            if partner.production:
                self._debit(partner, money.amount)
            card.status, card.amount, card.activation_request_id = (
                ACTIVATED,
                money.amount,
                activation_id,
            )
            self._activations[(partner.partner_id, activation_id)] = card.card_number[:16]
            self._save_physical(card, partner)
            return card

    def deactivate(self, partner: Partner, activation_id: str, number: str | None) -> CardState:
        with self._lock:
            card = self._physical_card(partner, number)
            used_for = self._activations.get((partner.partner_id, activation_id))
            if used_for is None:
                raise AgcodError("NonExistingActivationRequestId")
            if used_for != card.card_number[:16] or card.activation_request_id != activation_id:
                raise AgcodError("WrongActivationRequestId")
            if card.status != ACTIVATED:
                raise AgcodError("DeactivationNotAllowed")
            if partner.production and card.amount is not None:
                self._funds[partner.access_key] += card.amount
            card.status = AWAITING
            self._save_physical(card, partner)
            return card

    # -- durable state (every write under the backend lock; a card and its debit together) ----

    def _save_card(self, card: GiftCard, partner: Partner | None) -> None:
        if not self.sink.durable:
            return
        with self.sink.batch():
            self.sink.put("card", f"{card.account}|{card.creation_request_id}", _card_row(card))
            if partner is not None and partner.production:
                self.sink.put("funds", partner.access_key, str(self._funds[partner.access_key]))

    def _save_physical(self, card: CardState, partner: Partner) -> None:
        if not self.sink.durable:
            return
        amount = None if card.amount is None else str(card.amount)
        with self.sink.batch():
            row = [card.status, amount, card.activation_request_id]
            self.sink.put("physical", card.card_number[:16], row)
            if partner.production:
                self.sink.put("funds", partner.access_key, str(self._funds[partner.access_key]))

    def restore(self, rows: list[tuple[str, str, Any]]) -> None:
        """Cards, physical-card activations and funds from the state database."""
        with self._lock:
            for kind, key, value in rows:
                if kind == "card":
                    account, _, request_id = key.partition("|")
                    self._cards[(account, request_id)] = value
                    self._gc_ids.add(value[0])
                elif kind == recorded.ROW_KIND:
                    self.replays.restore(key, value)
                elif kind == "funds" and key in self._funds:
                    self._funds[key] = Decimal(value)
                elif kind == "physical" and key in self._physical:
                    state = self._physical[key]
                    state.status, amount, state.activation_request_id = value
                    state.amount = None if amount is None else Decimal(amount)
                    if state.activation_request_id:
                        self._activations[(state.partner_id, state.activation_request_id)] = key

    def status_check(self, partner: Partner, number: str | None) -> CardState:
        with self._lock:
            return self._physical_card(partner, number)

    # -- admin view ---------------------------------------------------------------------------

    def snapshot(self, now: datetime) -> dict[str, Any]:
        """JSON-able state for the admin API: partners with funds, cards, physical cards."""
        with self._lock:
            partners = [
                {
                    "partnerId": p.partner_id,
                    "identity": p.identity,
                    "mode": "production" if p.production else "sandbox",
                    "marketplace": p.marketplace,
                    "currency": p.currency,
                    "availableFunds": float(self._funds[p.access_key]) if p.production else 0.0,
                    "startingFunds": float(p.funds) if p.production else 0.0,
                    "ledger": self._ledger(p) if p.production else [],
                }
                for p in self.config.partners.values()
            ]
            cards = [self._card_view(c, now) for c in self._all_cards()]
            physical = [
                {
                    "cardNumber": c.card_number,
                    "partnerId": c.partner_id,
                    "cardStatus": c.status,
                    "amount": float(c.amount) if c.amount is not None else None,
                    "currencyCode": c.currency,
                    "activationRequestId": c.activation_request_id,
                }
                for c in self._physical.values()
            ]
        out = {"partners": partners, "cards": cards, "physicalCards": physical}
        if self.replays.table:
            out["recorded"] = self.replays.snapshot()
        return out

    def _ledger(self, partner: Partner, newest: int = LEDGER_ENTRIES) -> list[dict[str, Any]]:
        """The partner's funds over time, derived from its cards: a debit per card issued, a
        credit per card cancelled; the newest `newest` movements (lock held)."""
        moves: list[tuple[datetime, Decimal, str, GiftCard]] = []
        for card in self._all_cards():
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

    def _card_view(self, c: GiftCard, now: datetime) -> dict[str, Any]:
        window = timedelta(seconds=self.config.decisions.cancel_window_seconds)
        return {
            "partnerId": self._owner(c),
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
