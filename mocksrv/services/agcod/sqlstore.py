"""The AGCOD store on a SQL engine (SQLite or PostgreSQL): every operation one transaction.

A create is the card insert with its debit, a cancel the status change with its refund; a race
on one creationRequestId is decided by the primary key (the loser runs again and replays the
winner's card), the funds by a locked read of the balance.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from mocksrv.api import StoreBase
from mocksrv.services import recorded
from mocksrv.services.agcod import rules
from mocksrv.services.agcod.config import AgcodConfig, Partner
from mocksrv.services.agcod.exceptions import AgcodError
from mocksrv.services.agcod.models import (
    ACTIVATED,
    AWAITING,
    REFUNDED,
    CardState,
    GiftCard,
    check_activate,
    check_cancel,
    check_deactivate,
    check_physical,
    new_card,
    physical_cards,
    replay,
)
from mocksrv.state.engine import Conflict, Engine, Tx, retried

TABLES = (
    "CREATE TABLE IF NOT EXISTS agcod_cards (tenant TEXT NOT NULL, account TEXT NOT NULL, "
    "request_id TEXT NOT NULL, gc_id TEXT NOT NULL, claim_code TEXT NOT NULL, "
    "amount TEXT NOT NULL, currency TEXT NOT NULL, expiration TEXT, created TEXT NOT NULL, "
    "status TEXT NOT NULL, claimed INTEGER NOT NULL, cancelled TEXT, "
    "PRIMARY KEY (tenant, account, request_id)){norowid}",
    "CREATE UNIQUE INDEX IF NOT EXISTS agcod_cards_gc_id ON agcod_cards (tenant, gc_id)",
    "CREATE TABLE IF NOT EXISTS agcod_funds (tenant TEXT NOT NULL, account TEXT NOT NULL, "
    "balance TEXT NOT NULL, PRIMARY KEY (tenant, account)){norowid}",
    "CREATE TABLE IF NOT EXISTS agcod_physical (tenant TEXT NOT NULL, number TEXT NOT NULL, "
    "status TEXT NOT NULL, amount TEXT, activation_id TEXT, "
    "PRIMARY KEY (tenant, number)){norowid}",
    "CREATE TABLE IF NOT EXISTS agcod_activations (tenant TEXT NOT NULL, partner_id TEXT NOT NULL, "
    "activation_id TEXT NOT NULL, number TEXT NOT NULL, "
    "PRIMARY KEY (tenant, partner_id, activation_id)){norowid}",
)
_CARD = (
    "SELECT gc_id, claim_code, amount, currency, expiration, created, status, claimed, "
    "cancelled FROM agcod_cards WHERE tenant=? AND account=? AND request_id=?"
)
_INSERT_CARD = (
    "INSERT INTO agcod_cards VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)


def _card(account: str, request_id: str, row: tuple[Any, ...]) -> GiftCard:
    gc_id, claim, amount, currency, expiration, created, status, claimed, cancelled = row
    return GiftCard(
        account=account,
        creation_request_id=request_id,
        gc_id=gc_id,
        claim_code=claim,
        amount=Decimal(amount),
        currency=currency,
        expiration=expiration,
        created=datetime.fromisoformat(created),
        status=status,
        claimed=bool(claimed),
        cancelled=datetime.fromisoformat(cancelled) if cancelled else None,
    )


class SqlAgcodStore(StoreBase):
    """AGCOD's cards, funds and physical cards as rows of one tenant."""

    tables = TABLES

    def __init__(self, config: AgcodConfig, engine: Engine, tenant: str) -> None:
        self.config = config
        self.engine = engine
        self.tenant = tenant
        self._declared = physical_cards(config)  # what each physical card is, by 16 digits
        self.replays = recorded.SqlReplays(config.recorded, engine, tenant, "agcod")

    def recorded_reply(self, key: tuple[str, ...]) -> recorded.Reply | None:
        """The next recorded reply (`agcod.recorded`) for this request, if there is one."""
        return self.replays.next(key)

    # -- life cycle (called by the state's install, inside its transaction) -------------------

    def clear(self, tx: Tx) -> None:
        for table in ("agcod_cards", "agcod_funds", "agcod_physical", "agcod_activations"):
            tx.run(f"DELETE FROM {table} WHERE tenant=?", (self.tenant,))
        self.replays.clear(tx)

    def seed(self, tx: Tx) -> None:
        """The scenario's starting funds and physical cards."""
        t = self.tenant
        tx.many(
            "INSERT INTO agcod_funds VALUES (?, ?, ?)",
            [(t, p.access_key, str(p.funds)) for p in self.config.partners.values()],
        )
        tx.many(
            "INSERT INTO agcod_physical VALUES (?, ?, ?, ?, ?)",
            [
                (t, n, c.status, _text(c.amount), c.activation_request_id)
                for n, c in self._declared.items()
            ],
        )
        tx.many(
            "INSERT INTO agcod_activations VALUES (?, ?, ?, ?)",
            [
                (t, c.partner_id, c.activation_request_id, n)
                for n, c in self._declared.items()
                if c.activation_request_id
            ],
        )

    # -- digital cards ------------------------------------------------------------------------

    def create_gift_card(
        self, partner: Partner, request_id: str, money: rules.Money, now: datetime
    ) -> GiftCard:
        def step(tx: Tx) -> GiftCard:
            # the insert first (the usual case: a new id): a refused debit after it rolls it back
            card = new_card(partner, request_id, money, now)
            values = (
                self.tenant, card.account, request_id, card.gc_id, card.claim_code,
                str(card.amount), card.currency, card.expiration, card.created.isoformat(),
                card.status, 0, None,
            )  # fmt: skip
            if tx.run(_INSERT_CARD, values) == 0:  # the id has its card: a replay
                row = tx.one(_CARD, (self.tenant, partner.access_key, request_id))
                if row is None:
                    raise Conflict(request_id)  # a gcId drawn twice: again
                return replay(_card(partner.access_key, request_id, row), money, self.config)
            if partner.production:
                self._move(tx, partner, -money.amount)
            return card

        return retried(self.engine, step)

    def _move(self, tx: Tx, partner: Partner, delta: Decimal) -> None:
        """Debit (negative) or credit the partner's funds, refusing to go below zero."""
        key = (self.tenant, partner.access_key)
        row = tx.one(
            "SELECT balance FROM agcod_funds WHERE tenant=? AND account=?{for_update}", key
        )
        balance = Decimal(row[0]) if row is not None else partner.funds
        if balance + delta < 0:
            raise AgcodError("InsufficientFunds")
        tx.run(
            "INSERT INTO agcod_funds VALUES (?, ?, ?) ON CONFLICT (tenant, account) "
            "DO UPDATE SET balance = excluded.balance",
            (*key, str(balance + delta)),
        )

    def cancel_gift_card(
        self, partner: Partner, request_id: str, gc_id: str | None, now: datetime
    ) -> GiftCard:
        def step(tx: Tx) -> GiftCard:
            row = tx.one(_CARD + "{for_update}", (self.tenant, partner.access_key, request_id))
            card = _card(partner.access_key, request_id, row) if row is not None else None
            if check_cancel(card, gc_id, now, self.config):
                assert card is not None
                card.status, card.cancelled = REFUNDED, now
                tx.run(
                    "UPDATE agcod_cards SET status=?, cancelled=? "
                    "WHERE tenant=? AND account=? AND request_id=?",
                    (REFUNDED, now.isoformat(), self.tenant, partner.access_key, request_id),
                )
                if partner.production:
                    self._move(tx, partner, card.amount)
            assert card is not None
            return card

        return retried(self.engine, step)

    def available_funds(self, partner: Partner) -> Decimal:
        if not partner.production:
            return Decimal(0)  # documented sandbox behaviour
        with self.engine.read() as tx:
            row = tx.one(
                "SELECT balance FROM agcod_funds WHERE tenant=? AND account=?",
                (self.tenant, partner.access_key),
            )
        return Decimal(row[0]) if row is not None else partner.funds

    def mark_claimed(self, partner_id: str, creation_request_id: str, claimed: bool = True) -> bool:
        accounts = [
            p.access_key for p in self.config.partners.values() if p.partner_id == partner_id
        ]
        with self.engine.write() as tx:
            changed = 0
            for account in accounts:
                changed += tx.run(
                    "UPDATE agcod_cards SET claimed=? WHERE tenant=? AND account=? AND request_id=?",
                    (int(claimed), self.tenant, account, creation_request_id),
                )
        return changed > 0

    # -- physical cards -----------------------------------------------------------------------

    def _physical(self, tx: Tx, partner: Partner, number: str | None) -> CardState:
        declared = self._declared.get((number or "")[:16])
        if declared is not None:
            row = tx.one(
                "SELECT status, amount, activation_id FROM agcod_physical "
                "WHERE tenant=? AND number=?{for_update}",
                (self.tenant, declared.card_number[:16]),
            )
            if row is not None:
                declared = CardState(
                    declared.card_number, declared.partner_id, declared.currency, row[0],
                    Decimal(row[1]) if row[1] is not None else None, row[2],
                )  # fmt: skip
        return check_physical(declared, partner, number)

    def _activation(self, tx: Tx, partner: Partner, activation_id: str) -> str | None:
        row = tx.one(
            "SELECT number FROM agcod_activations WHERE tenant=? AND partner_id=? AND "
            "activation_id=?",
            (self.tenant, partner.partner_id, activation_id),
        )
        return str(row[0]) if row is not None else None

    def _save_physical(self, tx: Tx, card: CardState) -> None:
        tx.run(
            "UPDATE agcod_physical SET status=?, amount=?, activation_id=? "
            "WHERE tenant=? AND number=?",
            (card.status, _text(card.amount), card.activation_request_id, self.tenant,
             card.card_number[:16]),
        )  # fmt: skip

    def activate(
        self, partner: Partner, activation_id: str, number: str | None, money: rules.Money
    ) -> CardState:
        def step(tx: Tx) -> CardState:
            card = self._physical(tx, partner, number)
            used_for = self._activation(tx, partner, activation_id)
            if not check_activate(card, used_for, activation_id, money):
                return card
            if partner.production:
                self._move(tx, partner, -money.amount)
            card.status, card.amount, card.activation_request_id = (
                ACTIVATED,
                money.amount,
                activation_id,
            )
            self._save_physical(tx, card)
            inserted = tx.run(
                "INSERT INTO agcod_activations VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING",
                (self.tenant, partner.partner_id, activation_id, card.card_number[:16]),
            )
            if inserted == 0:
                raise Conflict(activation_id)
            return card

        return retried(self.engine, step)

    def deactivate(self, partner: Partner, activation_id: str, number: str | None) -> CardState:
        def step(tx: Tx) -> CardState:
            card = self._physical(tx, partner, number)
            check_deactivate(card, self._activation(tx, partner, activation_id), activation_id)
            if partner.production and card.amount is not None:
                self._move(tx, partner, card.amount)
            card.status = AWAITING
            self._save_physical(tx, card)
            return card

        return retried(self.engine, step)

    def status_check(self, partner: Partner, number: str | None) -> CardState:
        with self.engine.read() as tx:
            return self._physical(tx, partner, number)

    # -- admin view ---------------------------------------------------------------------------

    def snapshot(self, now: datetime) -> dict[str, Any]:
        from mocksrv.services.agcod.views import snapshot

        t = (self.tenant,)
        with self.engine.read() as tx:
            rows = tx.all(
                "SELECT account, request_id, gc_id, claim_code, amount, currency, expiration, "
                "created, status, claimed, cancelled FROM agcod_cards WHERE tenant=? "
                "ORDER BY created, gc_id",
                t,
            )
            funds = {
                a: Decimal(b)
                for a, b in tx.all("SELECT account, balance FROM agcod_funds WHERE tenant=?", t)
            }
            physical = {
                n: (s, a, r)
                for n, s, a, r in tx.all(
                    "SELECT number, status, amount, activation_id FROM agcod_physical "
                    "WHERE tenant=?",
                    t,
                )
            }
        cards = [_card(r[0], r[1], r[2:]) for r in rows]
        states = []
        for n, c in self._declared.items():
            status, amount, activation = physical.get(n, (c.status, c.amount, None))
            states.append(
                CardState(
                    c.card_number, c.partner_id, c.currency, status,
                    Decimal(amount) if amount is not None else None, activation,
                )
            )  # fmt: skip
        out = snapshot(self.config, cards, funds, states, now)
        if self.replays.table:
            out["recorded"] = self.replays.snapshot()
        return out


def _text(amount: Decimal | None) -> str | None:
    return None if amount is None else str(amount)
