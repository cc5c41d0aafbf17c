"""HTTP surface of the Prime offer-code APIs: auth -> headers -> route -> access -> rate -> answer."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from mocksrv import sigv4
from mocksrv.call import BodyTooLarge, Call
from mocksrv.clock import later
from mocksrv.http import Response, has_control
from mocksrv.ratelimit import RejectionLog, TokenBuckets
from mocksrv.services.prime import exceptions as exc
from mocksrv.services.prime.config import OUTCOMES, PrimeConfig
from mocksrv.services.prime.models import PrimeBackend, Reply

PREFIX = "/v1/customer/benefit/"
OPERATIONS = {"verify": "GET", "redeem": "POST", "auth-code": "GET"}
JSON = "application/json"
_OUTCOME_BODIES = {m: json.dumps({"message": m}, separators=(",", ":")).encode() for m in OUTCOMES}


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo | None:
    try:
        return ZoneInfo(name)
    except Exception:  # ZoneInfoNotFoundError, ValueError for path-like names, ...
        return None


def error_response(err: exc.PrimeError) -> Response:
    body = json.dumps(
        {"error": {"code": err.error_code, "message": err.message}}, separators=(",", ":")
    )
    resp = Response(body, status=err.status, content_type=JSON)
    resp.headers["x-amzn-ErrorType"] = err.error_code
    return resp


class PrimeService:
    """The `execute-api` service: verify, redeem and auth-code under /v1/customer/benefit/."""

    api = "prime"
    scope = "execute-api"

    def __init__(
        self, config: PrimeConfig, backend: PrimeBackend, policy: sigv4.VerifyPolicy
    ) -> None:
        self.config = config
        self.backend = backend
        self.policy = policy
        self.buckets = TokenBuckets()
        self.rejections = RejectionLog()

    def claims(self, call: Call) -> bool:
        return call.path.startswith("/v1/") and "s3/aws4_request" not in call.headers.get(
            "authorization", ""
        )

    def describe(self, url: str) -> list[str]:
        return [
            f"Prime offer codes  {url}{PREFIX}{{benefit-id}}/offer-code/{{code}}/verify|redeem|auth-code"
            "  (SigV4 execute-api)"
        ]

    def __call__(self, call: Call) -> Response:
        call.api = self.api
        try:
            resp = self._handle(call)
        except exc.PrimeError as err:
            call.outcome = call.outcome or err.error_code
            resp = error_response(err)
        request_id = call.headers.get("x-amz-request-id")
        if request_id and not has_control(request_id):
            resp.headers["x-amz-request-id"] = request_id
        return resp

    def _handle(self, call: Call) -> Response:
        operation, benefit_id, code = self._route(call)
        call.operation = operation
        call.fields.update({"benefitId": benefit_id, "offerCode": code})
        if has_control(call.headers.get("x-amz-request-id", "")):  # echoed: never split the answer
            raise exc.BadRequest("Invalid x-amz-request-id: control characters are not allowed")
        try:
            call.body()
            ident, auth = call.verify_signature(self.policy)
        except BodyTooLarge as e:
            raise exc.BadRequest(str(e)) from None
        except sigv4.SigV4Failure as failure:
            raise self._auth_error(failure) from None
        marketplace = self._marketplace(call)
        tz = self._time_zone(call)
        benefit = self.config.benefits.get(benefit_id)
        if benefit is None:
            raise exc.NotFound(f"Benefit {benefit_id!r} not found")
        if self.config.marketplaces.get(benefit.marketplace) != auth.region:
            raise self._auth_error(
                sigv4.SigV4Failure(
                    "scope_region",
                    f"Credential should be scoped to a valid region, not '{auth.region}'.",
                )
            )
        if marketplace != benefit.marketplace:
            raise exc.BadRequest(
                f"x-amz-marketplace {marketplace!r} does not match the benefit's marketplace"
            )
        allowed = ident.extra.get("benefits")
        if isinstance(allowed, list) and benefit_id not in allowed:
            raise exc.AccessDenied(f"Identity {ident.name!r} may not access benefit {benefit_id!r}")
        if not self.buckets.allow(ident.access_key, self.config.rate, self.config.burst):
            self._rejected(ident.access_key, operation)
        injected = call.runtime.faults.intercept(call, self.render_named_error)
        if injected is not None:
            return injected
        return self._answer(call, operation, benefit_id, code, tz)

    def rate_limits(self) -> list[str]:
        """The active rate limit, for the start-up banner."""
        if self.config.rate <= 0:
            return []
        return [f"prime every access key: {self._rate_text()} (prime.rate_limit)"]

    def _rate_text(self) -> str:
        burst = self.config.burst if self.config.burst is not None else self.config.rate
        return f"{self.config.rate:g}/s, burst {burst:g}"

    def _rejected(self, access_key: str, operation: str) -> None:
        fix = "change prime.rate_limit in the scenario (0 or absent: no limit)"
        self.rejections.rejected("prime.rate_limit", self._rate_text(), access_key, operation, fix)
        raise exc.TooManyRequests()

    def _route(self, call: Call) -> tuple[str, str, str]:
        parts = call.raw_path.split("/")
        # ['', 'v1', 'customer', 'benefit', B, 'offer-code', C, OP]
        if (
            len(parts) != 8
            or not call.raw_path.startswith(PREFIX)
            or parts[5] != "offer-code"
            or parts[7] not in OPERATIONS
        ):
            raise exc.NotFound(f"No route for {call.method} {call.path[:200]}")
        operation = parts[7]
        if call.method != OPERATIONS[operation]:
            raise exc.NotFound(f"No route for {call.method} {call.path[:200]}")
        try:
            benefit_id = unquote(parts[4], errors="strict")
            code = unquote(parts[6], errors="strict")
        except UnicodeDecodeError:
            raise exc.BadRequest("Path is not valid UTF-8") from None
        if not benefit_id or not code:
            raise exc.NotFound(f"No route for {call.method} {call.path[:200]}")
        return operation, benefit_id, code

    def _auth_error(self, failure: sigv4.SigV4Failure) -> exc.PrimeError:
        if failure.kind == "missing":
            return exc.MissingAuthenticationToken(failure.message)
        err = exc.InvalidSignature(failure.message)
        if failure.debug:
            err.message = (
                f"{failure.message}\n\nThe Canonical String for this request should have been\n"
                f"'{failure.debug['canonicalRequest']}'\n\nThe String-to-Sign should have been\n"
                f"'{failure.debug['stringToSign']}'\n"
            )
        return err

    def _marketplace(self, call: Call) -> str:
        if not call.headers.get("x-amz-request-id"):
            raise exc.BadRequest("Missing required header: x-amz-request-id")
        marketplace = call.headers.get("x-amz-marketplace", "")
        if not marketplace:
            raise exc.BadRequest("Missing required header: x-amz-marketplace")
        if marketplace not in self.config.marketplaces:
            raise exc.BadRequest(f"Invalid x-amz-marketplace: {marketplace[:20]!r}")
        return marketplace

    def _time_zone(self, call: Call) -> ZoneInfo:
        name = call.headers.get("x-amz-time-zone", "UTC").strip() or "UTC"
        tz = zone(name) if len(name) <= 64 else None
        if tz is None:
            raise exc.BadRequest(f"Invalid x-amz-time-zone: {name[:64]!r}")
        return tz

    def _redemption_time(self, call: Call, now: datetime) -> datetime:
        raw = call.headers.get("x-amz-offer-code-redemption-time")
        if raw is None:
            return now
        try:
            at = datetime.strptime(raw.strip(), "%Y%m%dT%H%MZ").replace(tzinfo=UTC)
        except ValueError:
            raise exc.BadRequest(
                "Invalid x-amz-offer-code-redemption-time: expected YYYYMMDD'T'HHMM'Z'"
            ) from None
        if at > later(now, 60):
            raise exc.BadRequest("x-amz-offer-code-redemption-time is in the future")
        if now - at > timedelta(seconds=self.config.redemption_max_age):
            raise exc.BadRequest("x-amz-offer-code-redemption-time is too far in the past")
        return at

    def _answer(self, call: Call, op: str, benefit: str, code: str, tz: ZoneInfo) -> Response:
        now = call.runtime.clock.now()
        token = ""
        if op == "verify":
            reply = self.backend.verify(benefit, code, now, tz)
        elif op == "redeem":
            reply = self.backend.redeem(benefit, code, self._redemption_time(call, now), tz)
        else:
            reply, token = self.backend.auth_code(benefit, code, now, tz)
        return self._render(call, reply, token)

    def _render(self, call: Call, reply: Reply, token: str) -> Response:
        if reply.value in exc.ERRORS:
            call.outcome = reply.value
            raise exc.ERRORS[reply.value]()
        call.outcome = reply.value
        if token:
            body = json.dumps({"message": reply.value, "authCode": token}, separators=(",", ":"))
            return Response(body, status=200, content_type=JSON)
        return Response(_OUTCOME_BODIES[reply.value], status=200, content_type=JSON)

    def render_named_error(self, name: str) -> Response:
        cls = exc.ERRORS.get(name, exc.InternalServerError)
        return error_response(cls())
