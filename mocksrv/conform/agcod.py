"""The AGCOD plan (a sandbox partner): the documented mock ids F0000-F5000 for CreateGiftCard (and
two for CancelGiftCard), JSON and XML, a new card, its idempotent replay and its cancel inside the
window, GetAvailableFunds in both encodings, and a wrong signature."""

from __future__ import annotations

import json
from typing import Any

from mocksrv.conform.compare import Rules
from mocksrv.conform.plan import Call, Ctx, Step

MOCK_IDS = (
    "F0000", "F1000", "F2000", "F2001", "F2002", "F2003", "F2004", "F2005", "F2010", "F2015",
    "F2016", "F2017", "F2047", "F3003", "F3005", "F3010", "F4000", "F5000",
)  # fmt: skip
TARGET = "com.amazonaws.agcod.AGCODService."
# values that must agree: outcomes, error codes and types, card states, currencies
RULES = Rules(values=("status", "errorCode", "errorType", "__type", "cardStatus", "currencyCode"))
AMOUNT = 5


def _xml(root: str, fields: dict[str, Any]) -> bytes:
    def inner(d: dict[str, Any]) -> str:
        return "".join(f"<{k}>{inner(v) if isinstance(v, dict) else v}</{k}>" for k, v in d.items())

    return f"<{root}>{inner(fields)}</{root}>".encode()


def _call(operation: str, fields: dict[str, Any], xml: bool = False, sign: str = "yes") -> Call:
    kind = "application/xml" if xml else "application/json"
    headers = {"accept": kind, "content-type": kind, "x-amz-target": TARGET + operation}
    body = _xml(f"{operation}Request", fields) if xml else json.dumps(fields).encode()
    return Call("POST", f"/{operation}", headers, body, sign)


def _create(request_id: str | None = None, xml: bool = False, sign: str = "yes") -> Any:
    def build(ctx: Ctx) -> Call:
        p = ctx.account.params
        fields = {
            "creationRequestId": request_id or new_id(ctx),
            "partnerId": p["partner_id"],
            "value": {"currencyCode": p["currency"], "amount": AMOUNT},
        }
        return _call("CreateGiftCard", fields, xml, sign)

    return build


def _cancel(request_id: str | None = None, card_of: str | None = None) -> Any:
    def build(ctx: Ctx) -> Call:
        fields: dict[str, Any] = {
            "creationRequestId": request_id or new_id(ctx),
            "partnerId": ctx.account.params["partner_id"],
        }
        gc_id = _gc_id(ctx, card_of) if card_of else None
        if gc_id:
            fields["gcId"] = gc_id
        return _call("CancelGiftCard", fields)

    return build


def _funds(xml: bool = False) -> Any:
    def build(ctx: Ctx) -> Call:
        return _call("GetAvailableFunds", {"partnerId": ctx.account.params["partner_id"]}, xml)

    return build


def new_id(ctx: Ctx) -> str:
    """This run's creationRequestId: the partner id, then the run tag (unique per run)."""
    return f"{ctx.account.params['partner_id']}Cf{ctx.run}"


def _gc_id(ctx: Ctx, step: str) -> str | None:
    answer = ctx.answers.get(step)
    if answer is None:
        return None
    try:
        found = json.loads(answer.body).get("gcId")
    except (ValueError, AttributeError):
        return None
    return found if isinstance(found, str) else None


def steps() -> list[Step]:
    out = [Step(f"CreateGiftCard {m}", "CreateGiftCard", _create(m), RULES) for m in MOCK_IDS]
    out += [
        Step("CancelGiftCard F0000", "CancelGiftCard", _cancel("F0000"), RULES),
        Step("CancelGiftCard F2047", "CancelGiftCard", _cancel("F2047"), RULES),
        Step("CreateGiftCard F0000 (XML)", "CreateGiftCard", _create("F0000", xml=True), RULES),
        Step("CreateGiftCard F3003 (XML)", "CreateGiftCard", _create("F3003", xml=True), RULES),
        Step("CreateGiftCard", "CreateGiftCard", _create(), RULES),
        Step(
            "CreateGiftCard again (idempotent)",
            "CreateGiftCard",
            _create(),
            RULES,
            same_as="CreateGiftCard",
        ),  # fmt: skip
        Step(
            "CancelGiftCard inside the window",
            "CancelGiftCard",
            _cancel(card_of="CreateGiftCard"),
            RULES,
        ),  # fmt: skip
        Step("GetAvailableFunds", "GetAvailableFunds", _funds(), RULES, funds=True),
        Step("GetAvailableFunds (XML)", "GetAvailableFunds", _funds(xml=True), RULES, funds=True),
        Step(
            "CreateGiftCard (wrong signature)",
            "CreateGiftCard",
            _create("F0000", sign="wrong-secret"),
            RULES,
        ),  # fmt: skip
    ]
    return out
