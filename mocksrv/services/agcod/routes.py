"""HTTP surface of AGCOD on the shared pipeline: POST /<Operation> -> body cap -> SigV4 and the
partner -> throttle -> x-amz-target and the body -> faults -> operation."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from mocksrv import sigv4
from mocksrv.call import Call
from mocksrv.http import Response
from mocksrv.ratelimit import RejectionLog
from mocksrv.services.agcod import replies, rules
from mocksrv.services.agcod.config import AgcodConfig, Partner
from mocksrv.services.agcod.exceptions import (
    AUTH_DEFAULT,
    AUTH_ERRORS,
    MOCK_SUCCESS_ID,
    THROTTLE_MESSAGE,
    THROTTLING,
    AgcodError,
    AwsError,
    mock_error,
    named_error,
)
from mocksrv.services.agcod.models import ACTIVATED, AWAITING, AgcodStore
from mocksrv.services.agcod.shapes import FIELDS, bad_input, parse_body
from mocksrv.services.base import ApiService, Route

SCOPE = "AGCODService"
TARGET_PREFIX = "com.amazonaws.agcod.AGCODService."
PATHS = {f"/{op}": op for op in FIELDS} | {f"/{op}/": op for op in FIELDS}
Handler = Callable[[Call, Partner, dict[str, Any]], replies.Body]


class AgcodService(ApiService):
    """The `AGCODService` SigV4 service: POST /<Operation>, JSON or XML."""

    api = "agcod"
    scope = SCOPE
    wire_error = (AgcodError, AwsError)
    internal_error = "GeneralError"

    def __init__(
        self,
        config: AgcodConfig,
        backend: AgcodStore,
        policy: sigv4.VerifyPolicy,
        clock: Any,
        buckets: Any,
    ) -> None:
        super().__init__(policy)
        self.config = config
        self.decisions = config.decisions
        self.backend = backend
        self.buckets = buckets
        self.rejections = RejectionLog(clock)
        self.handlers: dict[str, Handler] = {
            "CreateGiftCard": self._create,
            "CancelGiftCard": self._cancel,
            "GetAvailableFunds": self._funds,
            "ActivateGiftCard": self._activate,
            "DeactivateGiftCard": self._deactivate,
            "ActivationStatusCheck": self._status_check,
        }

    def inline(self, call: Call) -> bool:
        """In memory (a dict and a lock) and on SQLite (a short transaction: the write lock
        is held for a commit at a time), every operation; on PostgreSQL only the funds read:
        a write there waits for the network."""
        return call.runtime.engine.local or call.path == "/GetAvailableFunds"

    def writes(self, call: Call) -> bool:
        return call.path != "/GetAvailableFunds"

    def claims(self, call: Call) -> bool:
        return call.method == "POST" and call.path in PATHS

    def describe(self, url: str) -> list[str]:
        partners = ", ".join(
            f"{p.partner_id} ({'production' if p.production else 'sandbox'}, {p.marketplace}, "
            f"{p.signing_region})"
            for p in self.config.partners.values()
        )
        return [f"AGCOD gift cards   {url}/CreateGiftCard ...  (SigV4 AGCODService; {partners})"]

    # -- the pipeline's steps -----------------------------------------------------------------

    def route(self, call: Call) -> Route:
        operation = PATHS.get(call.path) if call.method == "POST" else None
        if operation is None:
            raise AwsError("UnknownOperationException", "Unknown operation", 404)
        return Route(operation)

    def body_limit(self, call: Call) -> int:
        return self.decisions.max_body_bytes

    def body_too_large(self, message: str, limit: int | None) -> Exception:
        return bad_input(f"Request body exceeds {limit} bytes")

    def field_too_large(self, message: str, name: str) -> Exception:
        return bad_input(message)

    def authenticate(self, call: Call, route: Route) -> Partner:
        ident, auth = self.signed(call)
        partner = self.config.partners.get(ident.access_key)
        if partner is None:
            call.signature_failed = True
            call.outcome = "signature:unknown_key"
            call.signature_detail = f"key {ident.access_key} ({ident.name}) is no AGCOD partner's"
            raise AwsError(AUTH_ERRORS["unknown_key"], sigv4.MSG_UNKNOWN_KEY, 403)
        if auth.region != partner.signing_region:
            call.signature_failed = True
            call.outcome = "signature:scope_region"
            call.signature_detail = (
                f"key {ident.access_key} ({ident.name}): signed for region {auth.region}, "
                f"the partner's is {partner.signing_region}"
            )
            text = f"Credential should be scoped to a valid region, not '{auth.region}'."
            raise AwsError(AUTH_DEFAULT, text, 403)
        return partner

    def auth_error(self, call: Call, failure: sigv4.SigV4Failure) -> Exception:
        return AwsError(AUTH_ERRORS.get(failure.kind, AUTH_DEFAULT), sigv4.explain(failure), 403)

    def throttle(self, call: Call, route: Route, partner: Partner) -> None:
        operation = route.operation
        funds = operation == "GetAvailableFunds"
        if funds and not self.buckets.allow((partner.access_key, operation), partner.funds_rate, 1):
            self._rejected(partner, operation, f"GetAvailableFunds {partner.funds_rate:g}/s")
        if not self.buckets.allow(partner.access_key, partner.rate, partner.burst):
            self._rejected(partner, operation, f"{partner.rate:g}/s, burst {partner.burst:g}")

    def parse(self, call: Call, route: Route, partner: Partner) -> dict[str, Any]:
        self._check_target(call, route.operation)
        fields = parse_body(
            route.operation, call.body(), call.headers.get("content-type", ""),
            self.decisions.reject_unknown_fields,
        )  # fmt: skip
        self._record(call, fields)
        return fields

    def operate(
        self, call: Call, route: Route, partner: Partner, fields: dict[str, Any]
    ) -> Response:
        if self.config.recorded:
            replay = self._recorded(call, route.operation, fields)
            if replay is not None:
                return replay
        body = self.handlers[route.operation](call, partner, fields)
        call.outcome = call.outcome or "SUCCESS"
        return self._send(body, 200, _wants_json(call))

    def outcome_of(self, err: Any) -> str:
        if isinstance(err, AgcodError):
            return f"{err.error_code}:{err.error_type}"
        return str(err.name)

    def render_error(self, call: Call, err: Any, route: Route | None) -> Response:
        as_json = _wants_json(call)
        if isinstance(err, AwsError):
            return self._send(replies.aws_error(err), err.status, as_json)
        operation = route.operation if route else ""
        request_id = call.fields.get(replies.REQUEST_ID.get(operation, ""))
        return self._send(replies.error(operation, err, request_id), self._status(err), as_json)

    def render_named_error(self, call: Call, name: str, route: Route | None) -> Response:
        operation = route.operation if route else "CreateGiftCard"
        return self.named_error(name, operation, _wants_json(call))

    def named_error(
        self, name: str, operation: str = "CreateGiftCard", as_json: bool = True
    ) -> Response:
        """Any AGCOD errorType (or `F300:GeneralError`, a mock id, `ThrottlingException`)."""
        if name == THROTTLING:
            throttled = AwsError(THROTTLING, THROTTLE_MESSAGE, self.decisions.throttle_status)
            return self._send(replies.aws_error(throttled), throttled.status, as_json)
        err = named_error(name) or AgcodError("GeneralError", error_code="F500")
        return self._send(replies.error(operation, err, None), self._status(err), as_json)

    # -- helpers ------------------------------------------------------------------------------

    def _send(self, body: replies.Body, status: int, as_json: bool) -> Response:
        text, content_type = body.render(as_json)
        return Response(text, status=status, content_type=content_type)

    def _status(self, err: AgcodError) -> int:
        return self.decisions.error_status.get(err.error_code, 400)

    def rate_limits(self) -> list[str]:
        """The active rate limits, for the start-up banner."""
        return [
            f"agcod {p.partner_id} ({p.access_key}): {_limits_text(p)} ({p.rate_source})"
            for p in self.config.partners.values()
            if p.rate > 0 or p.funds_rate > 0
        ]

    def _rejected(self, partner: Partner, operation: str, rate: str) -> None:
        fix = (
            f"change {partner.rate_source} in the scenario (0 or absent: no limit) or load one "
            "without limits, e.g. the default"
        )
        self.rejections.rejected(partner.rate_source, rate, partner.access_key, operation, fix)
        raise AwsError(THROTTLING, THROTTLE_MESSAGE, self.decisions.throttle_status)

    def _recorded(self, call: Call, operation: str, fields: dict[str, Any]) -> Response | None:
        """A reply `agcod.recorded` pins for this operation, partnerId and request id."""
        id_name = replies.REQUEST_ID.get(operation)
        partner_id = fields.get("partnerId")
        request_id = fields.get(id_name) if id_name else ""
        if partner_id is None or request_id is None:
            return None
        reply = self.backend.recorded_reply((operation, partner_id, request_id))
        if reply is None:
            return None
        call.outcome = "recorded"
        return reply.response()

    def _check_target(self, call: Call, operation: str) -> None:
        target = call.headers.get("x-amz-target", "")
        if not self.decisions.target_mismatch_error or not target.startswith(TARGET_PREFIX):
            return
        named = target[len(TARGET_PREFIX) :].strip("/ ")
        if named in FIELDS and named != operation:
            raise AgcodError("InvalidRequest", f"x-amz-target names {named}, not {operation}")

    @staticmethod
    def _record(call: Call, fields: dict[str, Any]) -> None:
        for key, value in fields.items():
            if key == "value":
                amount, currency = _num(value.get("amount")), value.get("currencyCode")
                call.fields["amount"], call.fields["currencyCode"] = amount, currency
                call.fields["value"] = {"amount": amount, "currencyCode": currency}
            else:
                call.fields[key] = value

    # -- operations ---------------------------------------------------------------------------

    def _create(self, call: Call, partner: Partner, fields: dict[str, Any]) -> replies.Body:
        rules.check_partner(partner, fields)
        request_id = fields.get("creationRequestId")
        mock = rules.mock_id(partner, request_id)
        if mock == MOCK_SUCCESS_ID:
            rules.check_echoed_value(fields.get("value"))
            return replies.mock_card(str(request_id), fields.get("value"))
        if mock is not None:
            raise mock_error(mock)
        request_id = rules.check_request_id(partner, request_id)
        money = rules.check_value(partner, fields.get("value"))
        rules.check_create_extras(fields)
        card = self.backend.create_gift_card(partner, request_id, money, call.runtime.clock.now())
        call.fields["gcId"] = card.gc_id
        return replies.gift_card(card)

    def _cancel(self, call: Call, partner: Partner, fields: dict[str, Any]) -> replies.Body:
        rules.check_partner(partner, fields)
        request_id = fields.get("creationRequestId")
        mock = rules.mock_id(partner, request_id)
        if mock == MOCK_SUCCESS_ID:
            return replies.cancelled(str(request_id), fields.get("gcId", replies.MOCK_GC_ID))
        if mock is not None:
            raise mock_error(mock)
        request_id = rules.check_request_id(partner, request_id)
        now = call.runtime.clock.now()
        card = self.backend.cancel_gift_card(partner, request_id, fields.get("gcId"), now)
        return replies.cancelled(card.creation_request_id, card.gc_id)

    def _funds(self, call: Call, partner: Partner, fields: dict[str, Any]) -> replies.Body:
        rules.check_partner(partner, fields)
        amount = self.backend.available_funds(partner)
        stamp = rules.funds_timestamp(call.runtime.clock.now())
        return replies.funds(amount, partner.currency, stamp, self.decisions.funds_xml_root)

    def _physical_mock(
        self, operation: str, partner: Partner, fields: dict[str, Any], status: str
    ) -> replies.Body | None:
        id_name = replies.REQUEST_ID[operation]
        mock = rules.mock_id(partner, fields.get(id_name))
        if mock is None:
            return None
        if mock != MOCK_SUCCESS_ID:
            raise mock_error(mock)
        value = fields.get("value") or {}
        rules.check_echoed_value(value)
        return replies.physical(
            operation, fields[id_name], None, status=status, number=fields.get("cardNumber"),
            amount=value.get("amount"), currency=value.get("currencyCode"),
        )  # fmt: skip

    def _physical_request(
        self, operation: str, partner: Partner, fields: dict[str, Any], status: str
    ) -> tuple[replies.Body | None, str]:
        """The checks every physical-card operation starts with: partner, mock id, request id.
        Returns the mock reply to send, or None and the validated request id."""
        rules.check_partner(partner, fields)
        mocked = self._physical_mock(operation, partner, fields, status)
        if mocked is not None:
            return mocked, ""
        id_name = replies.REQUEST_ID[operation]
        return None, rules.check_request_id(partner, fields.get(id_name), name=id_name)

    def _activate(self, call: Call, partner: Partner, fields: dict[str, Any]) -> replies.Body:
        mocked, request_id = self._physical_request("ActivateGiftCard", partner, fields, ACTIVATED)
        if mocked is not None:
            return mocked
        money = rules.check_value(partner, fields.get("value"))
        card = self.backend.activate(partner, request_id, fields.get("cardNumber"), money)
        return replies.physical("ActivateGiftCard", request_id, card)

    def _deactivate(self, call: Call, partner: Partner, fields: dict[str, Any]) -> replies.Body:
        mocked, request_id = self._physical_request("DeactivateGiftCard", partner, fields, AWAITING)
        if mocked is not None:
            return mocked
        card = self.backend.deactivate(partner, request_id, fields.get("cardNumber"))
        return replies.physical("DeactivateGiftCard", request_id, card)

    def _status_check(self, call: Call, partner: Partner, fields: dict[str, Any]) -> replies.Body:
        operation = "ActivationStatusCheck"
        mocked, request_id = self._physical_request(operation, partner, fields, ACTIVATED)
        if mocked is not None:
            return mocked
        card = self.backend.status_check(partner, fields.get("cardNumber"))
        return replies.physical(operation, request_id, card)


def _wants_json(call: Call) -> bool:
    return "application/json" in call.headers.get("accept", "").lower()


def _num(amount: Decimal | None) -> float | None:
    return float(amount) if amount is not None else None


def _limits_text(p: Partner) -> str:
    parts = [f"{p.rate:g}/s, burst {p.burst:g}"] if p.rate > 0 else []
    if p.funds_rate > 0:
        parts.append(f"GetAvailableFunds {p.funds_rate:g}/s")
    return "; ".join(parts)
