"""HTTP surface of the Prime offer-code APIs on the shared pipeline: route table -> request-id
header -> SigV4 -> marketplace, time zone, benefit and access -> rate -> faults -> answer."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from operator import itemgetter
from typing import Any, NamedTuple
from urllib.parse import unquote
from zoneinfo import ZoneInfo

from mocksrv import sigv4
from mocksrv.call import Call
from mocksrv.clock import later
from mocksrv.http import Response, has_control
from mocksrv.ratelimit import RejectionLog
from mocksrv.services.base import Answer, ApiService, Route
from mocksrv.services.prime import exceptions as exc
from mocksrv.services.prime.config import OUTCOMES, PrimeConfig
from mocksrv.services.prime.models import PrimeStore, Reply

PREFIX = "/v1/customer/benefit/"
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


class Endpoint(NamedTuple):
    """One route: method, path template (`{name}` segments are path parameters), operation, and
    the name of the PrimeService method that answers it."""

    method: str
    template: str
    operation: str
    answer: str


# Prime's route table: a new endpoint is one entry here and its answer method in PrimeService
ENDPOINTS = (
    Endpoint("GET", PREFIX + "{benefitId}/offer-code/{offerCode}/verify", "verify", "_verify"),
    Endpoint("POST", PREFIX + "{benefitId}/offer-code/{offerCode}/redeem", "redeem", "_redeem"),
    Endpoint(
        "GET", PREFIX + "{benefitId}/offer-code/{offerCode}/auth-code", "auth-code", "_auth_code"
    ),
)
# compiled per service: (method, segment count) ->
#   [(literal getter, literals, parameter slots, operation, answer)]
Compiled = tuple[
    Callable[[list[str]], Any], tuple[str, ...], tuple[tuple[int, str], ...], str, Answer
]


def compile_routes(
    endpoints: tuple[Endpoint, ...], answers: object
) -> dict[tuple[str, int], list[Compiled]]:
    """The route table, matched by `PrimeService.route`; each answer is `answers`' method."""
    table: dict[tuple[str, int], list[Compiled]] = {}
    for ep in endpoints:
        segs = ep.template.split("/")
        literal = [i for i, seg in enumerate(segs) if not seg.startswith("{")]
        slots = tuple((i, seg[1:-1]) for i, seg in enumerate(segs) if seg.startswith("{"))
        answer = getattr(answers, ep.answer)
        entry = (itemgetter(*literal), tuple(segs[i] for i in literal), slots, ep.operation, answer)
        table.setdefault((ep.method, len(segs)), []).append(entry)
    return table


class _ReplayFirst:
    """A service's answers, each answering a reply `prime.recorded` pins for the request first."""

    def __init__(self, service: PrimeService) -> None:
        self.service = service

    def __getattr__(self, name: str) -> Answer:
        answer: Answer = getattr(self.service, name)
        backend = self.service.backend

        def replay_first(call: Call, route: Route, ident: Any, request: Any) -> Response:
            p = route.params
            reply = backend.recorded_reply((route.operation, p["benefitId"], p["offerCode"]))
            if reply is None:
                return answer(call, route, ident, request)
            call.outcome = "recorded"
            return reply.response()

        return replay_first


def _decoded(raw: str) -> str:
    try:
        return unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise exc.BadRequest("Path is not valid UTF-8") from None


class PrimeService(ApiService):
    """The `execute-api` service: the offer-code endpoints under /v1/customer/benefit/."""

    api = "prime"
    scope = "execute-api"
    wire_error = exc.PrimeError
    internal_error = "InternalServerError"

    def __init__(
        self,
        config: PrimeConfig,
        backend: PrimeStore,
        policy: sigv4.VerifyPolicy,
        clock: Any,
        buckets: Any,
    ) -> None:
        super().__init__(policy)
        self.config = config
        self.backend = backend
        self.buckets = buckets
        self.rejections = RejectionLog(clock)
        # recorded replies come first; without any, the answers cost nothing more
        self.routes = compile_routes(ENDPOINTS, _ReplayFirst(self) if config.recorded else self)
        if config.rate <= 0:  # no rate limit in the scenario: the throttle step is not run
            self.leave_out("throttle")

    def inline(self, call: Call) -> bool:
        """In memory and on SQLite, every endpoint (SQLite's writes are short transactions);
        on PostgreSQL verify only (a read: its call counters commit after the answer), while
        redeem and auth-code write over the network and go to worker threads."""
        return call.runtime.engine.local or (call.method == "GET" and call.path.endswith("/verify"))

    def writes(self, call: Call) -> bool:
        """Redeem and auth-code; a verify reads (its call counters are written later)."""
        return not (call.method == "GET" and call.path.endswith("/verify"))

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
        resp = ApiService.__call__(self, call)  # not super(): this runs on every request
        request_id = call.headers.get("x-amz-request-id")
        if request_id and not has_control(request_id):
            resp.headers["x-amz-request-id"] = request_id
        return resp

    # -- the pipeline's steps -----------------------------------------------------------------

    def route(self, call: Call) -> Route:
        """The endpoint the request names (the route table), with its path parameters
        percent-decoded; Prime's NotFound, or BadRequest for a path that is not UTF-8."""
        parts = call.raw_path.split("/")
        for literals, want, slots, operation, answer in self.routes.get(
            (call.method, len(parts)), ()
        ):
            if literals(parts) != want:
                continue
            params = {}
            for i, name in slots:
                raw = parts[i]
                if not raw:  # an empty segment names no endpoint (a non-empty one decodes to text)
                    break
                params[name] = _decoded(raw) if "%" in raw else raw
            else:
                call.fields.update(params)
                return Route(operation, params, answer)
        raise exc.NotFound(f"No route for {call.method} {call.path[:200]}")

    def precheck(self, call: Call, route: Route) -> None:
        if has_control(call.headers.get("x-amz-request-id", "")):  # echoed: never split it
            raise exc.BadRequest("Invalid x-amz-request-id: control characters are not allowed")

    def body_too_large(self, message: str, limit: int | None) -> Exception:
        return exc.BadRequest(message)

    def field_too_large(self, message: str, name: str) -> Exception:
        return exc.BadRequest(message)

    def auth_error(self, call: Call, failure: sigv4.SigV4Failure) -> Exception:
        if failure.kind == "missing":
            return exc.MissingAuthenticationToken(failure.message)
        return exc.InvalidSignature(sigv4.explain(failure))

    def authorize(
        self, call: Call, route: Route, signed: tuple[sigv4.Identity, sigv4.ParsedAuth]
    ) -> None:
        ident, auth = signed
        marketplace = self._marketplace(call)
        route.params["tz"] = self._time_zone(call)
        benefit_id = route.params["benefitId"]
        benefit = self.config.benefits.get(benefit_id)
        if benefit is None:
            raise exc.NotFound(f"Benefit {benefit_id!r} not found")
        if self.config.marketplaces.get(benefit.marketplace) != auth.region:
            text = f"Credential should be scoped to a valid region, not '{auth.region}'."
            raise self.auth_error(call, sigv4.SigV4Failure("scope_region", text))
        if marketplace != benefit.marketplace:
            raise exc.BadRequest(
                f"x-amz-marketplace {marketplace!r} does not match the benefit's marketplace"
            )
        allowed = ident.extra.get("benefits")
        if isinstance(allowed, list) and benefit_id not in allowed:
            raise exc.AccessDenied(f"Identity {ident.name!r} may not access benefit {benefit_id!r}")

    def throttle(
        self, call: Call, route: Route, signed: tuple[sigv4.Identity, sigv4.ParsedAuth]
    ) -> None:
        access_key = signed[0].access_key
        if not self.buckets.allow(access_key, self.config.rate, self.config.burst):
            self._rejected(access_key, route.operation)

    def render_error(self, call: Call, err: Any, route: Route | None) -> Response:
        return error_response(err)

    def render_named_error(self, call: Call, name: str, route: Route | None) -> Response:
        cls = exc.ERRORS.get(name, exc.InternalServerError)
        return error_response(cls())

    # -- the answers (the route table's, in place of `operate`) --------------------------------

    def _verify(self, call: Call, route: Route, ident: Any, request: Any) -> Response:
        p = route.params
        reply = self.backend.verify(
            p["benefitId"], p["offerCode"], call.runtime.clock.now(), p["tz"]
        )
        return self._render(call, reply, "")

    def _redeem(self, call: Call, route: Route, ident: Any, request: Any) -> Response:
        p = route.params
        at = self._redemption_time(call, call.runtime.clock.now())
        return self._render(
            call, self.backend.redeem(p["benefitId"], p["offerCode"], at, p["tz"]), ""
        )

    def _auth_code(self, call: Call, route: Route, ident: Any, request: Any) -> Response:
        p = route.params
        reply, token = self.backend.auth_code(
            p["benefitId"], p["offerCode"], call.runtime.clock.now(), p["tz"]
        )
        return self._render(call, reply, token)

    # -- helpers ------------------------------------------------------------------------------

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

    def _render(self, call: Call, reply: Reply, token: str) -> Response:
        if reply.value in exc.ERRORS:
            call.outcome = reply.value
            raise exc.ERRORS[reply.value]()
        call.outcome = reply.value
        if token:
            body = json.dumps({"message": reply.value, "authCode": token}, separators=(",", ":"))
            return Response(body, status=200, content_type=JSON)
        return Response(_OUTCOME_BODIES[reply.value], status=200, content_type=JSON)
