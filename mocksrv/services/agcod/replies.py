"""AGCOD response bodies, each built once as a JSON object and as ordered XML members."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from mocksrv.services.agcod.config import OPERATIONS
from mocksrv.services.agcod.exceptions import AgcodError, AwsError
from mocksrv.services.agcod.models import CardState, GiftCard
from mocksrv.services.agcod.shapes import to_json, to_xml

CORAL_NS = "http://internal.amazon.com/coral/com.amazonaws.agcod/"
MEMBERS: dict[str, tuple[str, ...]] = {
    "CreateGiftCard": (
        "cardInfo", "creationRequestId", "gcClaimCode", "gcExpirationDate", "gcId", "status",
    ),
    "CancelGiftCard": ("creationRequestId", "gcId", "status"),
    "GetAvailableFunds": ("availableFunds", "status", "timestamp"),
    "ActivateGiftCard": ("activationRequestId", "cardInfo", "status"),
    "DeactivateGiftCard": ("activationRequestId", "cardInfo", "status"),
    "ActivationStatusCheck": ("cardInfo", "status", "statusCheckRequestId"),
}  # fmt: skip
REQUEST_ID = {op: name for op, name in OPERATIONS.items() if name}
# the null-filled agcodResponse of every operation, built once
_NULL_RESPONSES = {
    op: {"__type": f"{op}Response:{CORAL_NS}", **dict.fromkeys(members)}
    for op, members in MEMBERS.items()
}
MOCK_CLAIM_CODE = "ZYXW-VUTS-RQPO"
MOCK_GC_ID = "ABC123ZYX987"
JSON_TYPE = "application/json"
XML_TYPE = "application/xml"


@dataclass(frozen=True)
class Body:
    """One response body in both encodings."""

    json: dict[str, Any]
    xml_root: str
    xml: list[tuple[str, Any]]
    cache: dict[tuple[str, bool], tuple[str, str]] | None = None
    cache_tag: str = ""

    def render(self, as_json: bool) -> tuple[str, str]:
        key = (self.cache_tag, as_json)
        if self.cache is not None and key in self.cache:
            return self.cache[key]
        if as_json:
            out = to_json(self.json), JSON_TYPE
        else:
            out = to_xml(self.xml_root, self.xml), XML_TYPE
        if self.cache is not None:
            self.cache[key] = out
        return out


def _value(amount: Decimal | None, currency: str | None) -> tuple[dict[str, Any], list]:
    return (
        {"amount": amount, "currencyCode": currency},
        [("currencyCode", currency), ("amount", amount)],
    )


def card_info(
    status: str, amount: Decimal | None, currency: str | None, number: str | None = None
) -> tuple[dict[str, Any], list]:
    value_json, value_xml = _value(amount, currency)
    has_value = amount is not None or currency is not None
    info = {
        "cardNumber": number,
        "cardStatus": status,
        "expirationDate": None,
        "value": value_json if has_value else None,
    }
    xml = [
        ("cardNumber", number),
        ("value", value_xml if has_value else None),
        ("cardStatus", status),
    ]
    return info, xml


def created(
    request_id: str,
    claim_code: str,
    gc_id: str,
    expiration: str | None,
    info: tuple[dict[str, Any], list],
) -> Body:
    members = {
        "cardInfo": info[0],
        "creationRequestId": request_id,
        "gcClaimCode": claim_code,
        "gcExpirationDate": expiration,
        "gcId": gc_id,
        "status": "SUCCESS",
    }
    xml = [
        ("gcClaimCode", claim_code),
        ("cardInfo", info[1]),
        ("gcId", gc_id),
        ("creationRequestId", request_id),
        ("gcExpirationDate", expiration),
        ("status", "SUCCESS"),
    ]
    return Body(members, "CreateGiftCardResponse", xml)


def gift_card(card: GiftCard) -> Body:
    status = card.status  # read once: a concurrent cancel must not mix two states
    info = card_info(status, card.amount, card.currency)
    body = created(card.creation_request_id, card.claim_code, card.gc_id, card.expiration, info)
    return Body(body.json, body.xml_root, body.xml, card.wire, status)


def mock_card(request_id: str, value: dict[str, Any] | None) -> Body:
    value = value or {}
    info = card_info("Fulfilled", value.get("amount"), value.get("currencyCode"))
    return created(request_id, MOCK_CLAIM_CODE, MOCK_GC_ID, None, info)


def cancelled(request_id: str, gc_id: str | None) -> Body:
    body = {"creationRequestId": request_id, "gcId": gc_id, "status": "SUCCESS"}
    xml = [("creationRequestId", request_id), ("status", "SUCCESS")]
    return Body(body, "CancelGiftCardResponse", xml)


def funds(amount: Decimal, currency: str, timestamp: str, xml_root: str) -> Body:
    value_json, _ = _value(amount, currency)
    body = {"availableFunds": value_json, "status": "SUCCESS", "timestamp": timestamp}
    xml = [
        ("availableFunds", [("amount", amount), ("currencyCode", currency)]),
        ("timestamp", timestamp),
        ("status", "SUCCESS"),
    ]
    return Body(body, xml_root, xml)


def physical(operation: str, request_id: str, card: CardState | None, **mock: Any) -> Body:
    """Activate/Deactivate/StatusCheck replies; `mock` gives the echoed fields of a mock id."""
    if card is not None:
        info = card_info(card.status, card.amount, card.currency, card.card_number)
    else:
        info = card_info(
            mock["status"], mock.get("amount"), mock.get("currency"), mock.get("number")
        )
    id_name = REQUEST_ID[operation]
    body = {id_name: request_id, "cardInfo": info[0], "status": "SUCCESS"}
    xml = [(id_name, request_id), ("cardInfo", info[1]), ("status", "SUCCESS")]
    return Body(body, f"{operation}Response", xml)


def error(operation: str, err: AgcodError, request_id: str | None) -> Body:
    status = err.response_status
    inner = dict(_NULL_RESPONSES[operation])
    inner["status"] = status
    id_name = REQUEST_ID.get(operation)
    if id_name and err.echo_request_id:
        inner[id_name] = request_id
    body = {
        "agcodResponse": inner,
        "errorCode": err.error_code,
        "errorType": err.error_type,
        "message": err.message,
    }
    xml = [
        ("agcodResponse", [("status", status)]),
        ("errorCode", err.error_code),
        ("errorType", err.error_type),
        ("Message", err.message),
    ]
    return Body(body, "ErrorResponse", xml)


def aws_error(err: AwsError) -> Body:
    return Body({"__type": err.name, "message": err.message}, err.name, [("Message", err.message)])
