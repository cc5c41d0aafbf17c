"""The one request pipeline every API's service runs; each API fills in its steps.

    route -> header cap -> precheck -> body cap -> authenticate -> authorize -> throttle -> parse
          -> faults -> operate

A step answers with the API's own wire error by raising it (an instance of `wire_error`), which
`render_error` turns into the API's error shape; nothing else is caught here, so a bug reaches the
app's last-resort handler. Steps read runtime-wide values (clock, settings, faults) from the call's
runtime, never from a copy taken when the service was built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from mocksrv import sigv4
from mocksrv.call import BodyTooLarge, Call
from mocksrv.http import FIELD_REFUSED, MAX_FIELD, Response
from mocksrv.state.engine import StoreError


class Route:
    """What routing found: the operation, the API's own path parameters, and optionally the
    answer that runs the operation (a route table's entry; None: the service's `operate`)."""

    __slots__ = ("operation", "params", "answer")

    def __init__(
        self,
        operation: str,
        params: dict[str, Any] | None = None,
        answer: Answer | None = None,
    ) -> None:
        self.operation = operation
        self.params = params if params is not None else {}
        self.answer = answer


# (call, route, ident, request) -> the answer, as `ApiService.operate`
Answer = Callable[[Call, Route, Any, Any], Response]


# the steps with a default: a class that does not fill one in costs no call for it per request
_OPTIONAL = ("precheck", "body_limit", "authenticate", "authorize", "throttle", "parse")


class ApiService:
    """A base for an API's service: `__call__` runs the pipeline, subclasses fill in the steps."""

    api: ClassVar[str]
    scope: ClassVar[str | None]
    # the API's error family (a class or a tuple of classes), rendered by render_error
    wire_error: ClassVar[type[Exception] | tuple[type[Exception], ...]]
    reads_body: ClassVar[bool] = True  # False: the API takes no body (it is never read)
    # the wire error a request gets when its state change cannot be committed (StoreError)
    internal_error: ClassVar[str] = "InternalError"
    # True: a large body stays in the server's file (`call.payload()`), never read whole here
    streams_body: ClassVar[bool] = False
    # the optional steps this service runs: set per class (the ones it fills in), and an
    # instance may leave out more (`leave_out`, for a step its scenario turns off)
    _fills: frozenset[str] = frozenset()

    def __init__(self, policy: sigv4.VerifyPolicy) -> None:
        self.policy = policy

    def claims(self, call: Call) -> bool:
        """True if the path alone identifies this API (checked before the SigV4 scope)."""
        return False

    def describe(self, url: str) -> list[str]:
        """Its lines of the start-up banner's endpoints (none by default)."""
        return []

    def rate_limits(self) -> list[str]:
        """Its active rate limits, a line each, for the banners (none by default)."""
        return []

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # which optional steps an API fills in: the others cost no call per request
        cls._fills = frozenset(
            name for name in _OPTIONAL if getattr(cls, name) is not getattr(ApiService, name)
        )

    def leave_out(self, *steps: str) -> None:
        """Skip these optional steps on this instance (say, `throttle` with no rate limit set:
        a step that would do nothing then costs no call per request)."""
        unknown = set(steps) - set(_OPTIONAL)
        if unknown:
            raise ValueError(f"not optional steps: {sorted(unknown)}")
        self._fills = self._fills - set(steps)

    def __call__(self, call: Call) -> Response:
        call.api = self.api
        fills = self._fills
        route: Route | None = None
        try:
            route = self.route(call)
            call.operation = route.operation
            if FIELD_REFUSED in call.environ:  # the server dropped a header field over its cap
                name = call.environ[FIELD_REFUSED]
                raise self.field_too_large(
                    f"Request header field {name} exceeds the {MAX_FIELD}-byte limit", name
                )
            if "precheck" in fills:
                self.precheck(call, route)
            if self.reads_body:
                limit = self.body_limit(call) if "body_limit" in fills else None
                try:
                    call.check_body(limit) if self.streams_body else call.body(limit)
                except BodyTooLarge as exc:
                    raise self.body_too_large(str(exc), limit) from None
            # the default authenticate is `signed`, called directly (one call fewer per request)
            ident = self.authenticate(call, route) if "authenticate" in fills else self.signed(call)
            if "authorize" in fills:
                self.authorize(call, route, ident)
            if "throttle" in fills:
                self.throttle(call, route, ident)
            request = self.parse(call, route, ident) if "parse" in fills else None
            faults = call.runtime.faults
            if faults.items:
                injected = faults.intercept(
                    call, lambda name: self.render_named_error(call, name, route)
                )
                if injected is not None:
                    return injected
            return (route.answer or self.operate)(call, route, ident, request)
        except self.wire_error as err:
            call.outcome = call.outcome or self.outcome_of(err)
            return self.render_error(call, err, route)
        except StoreError:  # nothing was committed, so nothing is reported done
            call.outcome = self.internal_error
            return self.render_named_error(call, self.internal_error, route)

    # -- the steps: routing and rendering are the API's own; the others have defaults ---------

    def inline(self, call: Call) -> bool:
        """May the HTTP server answer `call` on its event loop (`MocksrvApp.inline`): is its
        work short, and does it never wait (no other server, no lock held for long, no large
        body)? Worker threads answer the others."""
        return False

    def writes(self, call: Call) -> bool:
        """May `call`, answered on the event loop, write in a transaction before its answer?
        On SQLite such a request's step waits for the end of the loop's turn, to commit with the
        other requests of the turn (`mocksrv.state.turn`); a request that only reads (or
        writes after its answer) is answered at once."""
        return True

    def route(self, call: Call) -> Route:
        raise NotImplementedError

    def precheck(self, call: Call, route: Route) -> None:
        """Checks that come before the body is read (headers that are echoed, anonymous calls)."""

    def body_limit(self, call: Call) -> int | None:
        """The body cap (None: the server's `max_body_bytes`)."""
        return None

    def body_too_large(self, message: str, limit: int | None) -> Exception:
        raise NotImplementedError

    def field_too_large(self, message: str, name: str) -> Exception:
        """The API's error for a header field the server dropped as too large."""
        raise NotImplementedError

    def body_cap(self, call: Call) -> int:
        """The most body bytes the HTTP server reads for this request, from its head alone (the
        app's `body_cap` hook asks): the API's body limit, else the server's default."""
        if self.reads_body and "body_limit" in self._fills:
            limit = self.body_limit(call)
            if limit is not None:
                return limit
        return int(call.runtime.settings.max_body_bytes)

    def authenticate(self, call: Call, route: Route) -> Any:
        """What the later steps get as `ident`; by default the SigV4-verified identity and the
        parsed Authorization (the scope's region, for one)."""
        return self.signed(call)

    def signed(self, call: Call) -> tuple[sigv4.Identity, sigv4.ParsedAuth]:
        """SigV4 verified under this service's policy; a failure becomes the API's own error."""
        try:
            return call.verify_signature(self.policy)
        except sigv4.SigV4Failure as failure:
            raise self.auth_error(call, failure) from None

    def auth_error(self, call: Call, failure: sigv4.SigV4Failure) -> Exception:
        raise NotImplementedError

    def authorize(self, call: Call, route: Route, ident: Any) -> None:
        """What the identity may do (benefits, bucket prefixes, regions)."""

    def throttle(self, call: Call, route: Route, ident: Any) -> None:
        """Rate limits (opt-in per scenario)."""

    def parse(self, call: Call, route: Route, ident: Any) -> Any:
        """The request's own input, validated (the body's fields, the query's parameters)."""
        return None

    def operate(self, call: Call, route: Route, ident: Any, request: Any) -> Response:
        """The operation's answer (unless the route carries its own `answer`)."""
        raise NotImplementedError

    def outcome_of(self, err: Any) -> str:
        return str(getattr(err, "error_code", type(err).__name__))

    def render_error(self, call: Call, err: Any, route: Route | None) -> Response:
        raise NotImplementedError

    def render_named_error(self, call: Call, name: str, route: Route | None) -> Response:
        """A wire error by name, for faults (`error:` and `throttle:`)."""
        raise NotImplementedError
