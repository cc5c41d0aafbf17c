"""The admin API under /__admin/ and the dashboard: a Flask app over the current runtime's toolkit."""

from __future__ import annotations

import json
import logging
import math
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any

from flask import Blueprint, Flask, Request, Response, current_app, g, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.exceptions import (
    HTTPException,
    MethodNotAllowed,
    NotFound,
    RequestEntityTooLarge,
)
from werkzeug.routing import RequestRedirect

from mocksrv.clock import parse_instant
from mocksrv.errors import ScenarioError
from mocksrv.http import BODY_REFUSED, FIELD_REFUSED, MAX_FIELD
from mocksrv.toolkit import expectations, guard

if TYPE_CHECKING:
    from mocksrv.api import Store
    from mocksrv.app import MocksrvApp
    from mocksrv.runtime import Runtime
    from mocksrv.toolkit.plugin import Toolkit

log = logging.getLogger("mocksrv")
REQUEST_LOG = logging.getLogger("mocksrv.requests")
APP_KEY = "mocksrv.app"  # environ key: the MocksrvApp, set by the app before calling the admin
KIT_KEY = "mocksrv.toolkit"  # environ key: the toolkit of the runtime that took the request
MAX_BODY = 1024 * 1024  # admin request bodies: 413 above this (Flask's MAX_CONTENT_LENGTH)
PREFIX = "/__admin"
Handler = Callable[["Ctx"], Any]


class AdminError(Exception):
    """Bad input to the admin API: rendered as {"error": {"code", "message"}} with a 4xx."""

    def __init__(self, message: str, status: int = 400, code: str = "BadRequest", **extra: Any):
        super().__init__(message)
        self.message, self.status, self.code, self.extra = message, status, code, extra


class Ctx:
    """One admin request: the parsed request, the app, its current runtime and toolkit (kept on
    Flask's `g` by the guard, handed to each operation)."""

    def __init__(self, request: Request, app: MocksrvApp, runtime: Runtime, kit: Toolkit):
        self.request, self.app, self.runtime, self.kit = request, app, runtime, kit
        self.args: Mapping[str, Any] = request.view_args or {}
        self.authenticated = False  # the request carried the valid admin token

    def body(self, required: bool = False) -> dict[str, Any]:
        """The JSON object posted; an empty body is {} unless `required`."""
        raw = self.request.get_data(cache=True)
        if not raw and required:
            raise AdminError("give a JSON object as the request body")
        if not raw:
            return {}
        try:
            data = json.loads(raw)
        except ValueError as exc:
            raise AdminError(f"request body is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise AdminError("request body must be a JSON object")
        return data


def json_text(data: Any) -> str:
    return json.dumps(data, indent=2, default=str) + "\n"


def json_response(data: Any, status: int = 200) -> Response:
    return Response(json_text(data), status=status, content_type="application/json")


def error_response(status: int, code: str, message: str, **extra: Any) -> Response:
    return json_response({"error": {"code": code, "message": message, **extra}}, status)


class _Json(DefaultJSONProvider):
    """What an operation returns (a dict or list) as the admin API has always written it."""

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return json.dumps(obj, indent=2, default=str)

    def response(self, *args: Any, **kwargs: Any) -> Response:
        return json_response(args[0] if len(args) == 1 else list(args))


# --- the Flask app -----------------------------------------------------------------------------
def blueprint(name: str = "admin", tenant: bool = False) -> Blueprint:
    """Every admin route, relative to where the blueprint is mounted (`/__admin`); mounted
    again under `/__admin/tenants/<tenant>` (`tenant`), it serves one tenant's operations (not
    the index, nor the tenants themselves)."""
    from mocksrv.toolkit import admin_meta, admin_tenants, admin_views

    routes = [*admin_meta.ROUTES, *admin_views.ROUTES]
    if tenant:
        routes = [r for r in routes if r[0]]
    else:
        routes += admin_tenants.ROUTES
    bp = Blueprint(name, __name__)
    for path, methods, handler in routes:
        bp.add_url_rule(
            path,
            endpoint=handler.__name__,
            view_func=_view(handler),
            methods=methods,
            strict_slashes=False,
            provide_automatic_options=False,  # OPTIONS is a 405 like any method not listed
        )
    return bp


def _view(handler: Handler) -> Callable[..., Any]:
    def view(**_: Any) -> Any:
        return handler(g.ctx)

    view.__name__ = handler.__name__
    return view


def create_admin_app() -> Flask:
    app = Flask(__name__, static_folder=None, template_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY
    app.json = _Json(app)
    app.register_blueprint(blueprint(), url_prefix=PREFIX)
    app.register_blueprint(
        blueprint("tenant", tenant=True), url_prefix=PREFIX + "/tenants/<tenant>"
    )
    app.before_request(_guard)
    app.after_request(_log_request)
    app.register_error_handler(AdminError, _admin_error)
    app.register_error_handler(guard.Refused, _refused)
    app.register_error_handler(ScenarioError, _invalid_scenario)
    app.register_error_handler(404, _no_route)
    app.register_error_handler(405, _no_route)
    app.register_error_handler(413, _too_large)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _internal_error)
    return app


_APP: Flask | None = None
_APP_LOCK = threading.Lock()


def admin_wsgi(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The admin app for every runtime of this process (built on its first request)."""
    global _APP
    if _APP is None:
        with _APP_LOCK:
            if _APP is None:
                _APP = create_admin_app()
    return _APP(environ, start_response)


# --- the guard: who may call what, before any operation ----------------------------------------
def _guard() -> None:
    environ = request.environ
    app, kit = environ.get(APP_KEY), environ.get(KIT_KEY)
    if app is None or kit is None:  # mounted outside MocksrvApp: nothing to control
        raise AdminError("admin API called outside a mocksrv app", 500, "InternalError")
    runtime = app.runtime
    if _open(runtime):  # health, readiness and the dashboard's files need no token
        authenticated = guard.bearer_ok(environ, runtime.settings)
    else:
        authenticated = guard.check(environ, runtime.settings)
    if FIELD_REFUSED in environ:  # a header field the server dropped as too large
        message = f"request header field {environ[FIELD_REFUSED]} exceeds {MAX_FIELD} bytes"
        raise AdminError(message, 431, "RequestHeaderFieldsTooLarge")
    length = request.content_length
    # over the cap by its declared length, or refused by the server as the body arrived
    if BODY_REFUSED in environ or (
        length is not None and length > current_app.config["MAX_CONTENT_LENGTH"]
    ):
        raise RequestEntityTooLarge()
    g.ctx = ctx = Ctx(request, app, runtime, kit)
    ctx.authenticated = authenticated
    routing = request.routing_exception
    if isinstance(routing, RequestRedirect):  # `//` in the path: refused as before, not redirected
        raise AdminError(str(routing))
    if routing is None:
        guard.check_json(environ)
        if request.method in ("POST", "PUT"):
            ctx.body()  # every write takes a JSON object (or nothing), whatever it reads


def _open(runtime: Runtime) -> bool:
    """Operations any caller may use on any bind, whatever the Host (their answers hold no data
    of the sandbox): health, readiness, the dashboard page and its files; the metrics too when
    `--metrics-open` says so."""
    from mocksrv.toolkit.admin_meta import DASHBOARD_ASSETS, OPEN

    endpoint = (request.endpoint or "").rpartition(".")[2]
    if endpoint == "dashboard_asset":
        return (request.view_args or {}).get("asset") in DASHBOARD_ASSETS
    metric = endpoint in ("metrics", "traffic")
    return endpoint in OPEN or (metric and runtime.settings.metrics_open)


def _log_request(response: Response) -> Response:
    """Admin calls in the request log at `debug` only: the dashboard polls twice a second."""
    if REQUEST_LOG.isEnabledFor(logging.DEBUG):
        from mocksrv.logs import quoted

        REQUEST_LOG.debug(
            "api=admin method=%s path=%s status=%d",
            request.method, quoted(request.path), response.status_code,
        )  # fmt: skip
    return response


# --- error handlers: every failure in the API's own JSON shape ---------------------------------
def _admin_error(err: AdminError) -> Response:
    return error_response(err.status, err.code, err.message, **err.extra)


def _refused(refused: guard.Refused) -> Response:
    resp = error_response(refused.status, refused.code, refused.message)
    if refused.status == 401:
        resp.headers["WWW-Authenticate"] = guard.REALM
    return resp


def _invalid_scenario(err: ScenarioError) -> Response:
    problems = err.problems
    message = "invalid scenario: " + "; ".join(problems[:5])
    return error_response(400, "InvalidScenario", message, problems=problems)


def _no_route(err: HTTPException) -> Response:
    code = "MethodNotAllowed" if isinstance(err, MethodNotAllowed) else "NotFound"
    message = f"{request.method} {request.path}: {err.name}; see GET /__admin/"
    resp = error_response(err.code or 400, code, message)
    if isinstance(err, MethodNotAllowed) and err.valid_methods:
        resp.headers["Allow"] = ", ".join(sorted(set(err.valid_methods) - {"HEAD"}))
    return resp


def _too_large(err: RequestEntityTooLarge) -> Response:
    return error_response(
        413, "PayloadTooLarge", f"admin request bodies are limited to {MAX_BODY} bytes"
    )


def _http_error(err: HTTPException) -> Response:
    if isinstance(err, NotFound | MethodNotAllowed):
        return _no_route(err)
    return error_response(400, "BadRequest", str(err))


def _internal_error(err: Exception) -> Response:  # never a traceback on the admin API either
    log.error("admin %s %s failed", request.method, request.path, exc_info=err)
    return error_response(500, "InternalError", "admin operation failed; see the log")


# --- small helpers the operations share --------------------------------------------------------
def snapshot(store: Store, runtime: Runtime) -> Any:
    """A store's state view, as of the scenario clock's now."""
    return store.snapshot(runtime.clock.now())


def number(key: str, value: Any, *, minimum: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise AdminError(f"{key} must be a number, got {value!r}")
    try:
        out = float(value)
    except ValueError:
        raise AdminError(f"{key} must be a number, got {value!r}") from None
    if not math.isfinite(out):
        raise AdminError(f"{key} must be a finite number, got {value!r}")
    if minimum is not None and out < minimum:
        raise AdminError(f"{key} must be at least {minimum:g}, got {value!r}")
    return out


def instant(key: str, value: Any) -> Any:
    try:
        return parse_instant(str(value))
    except ValueError:
        raise AdminError(
            f"{key}: {value!r} is not an ISO-8601 instant (e.g. 2026-05-15T14:00:00Z)"
        ) from None


def new_expectation(ctx: Ctx, spec: dict[str, Any]) -> expectations.Expectation:
    from mocksrv.toolkit.schema import expectation

    validate(spec, expectation(ctx.runtime.registry.spellings), "expectation")
    try:
        index = len(ctx.kit.expectations.items)
        return expectations.build(spec, index, "admin", ctx.runtime.registry)
    except ValueError as exc:
        raise AdminError(f"invalid expectation: {exc}") from None


def validate(spec: Any, schema: dict[str, Any], what: str) -> None:
    import jsonschema

    errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(spec), key=str)
    if errors:
        err = errors[0]
        where = ".".join(str(p) for p in err.absolute_path) or "(top)"
        raise AdminError(f"invalid {what}: {where}: {err.message}")


__all__ = ["APP_KEY", "KIT_KEY", "AdminError", "Ctx", "admin_wsgi", "blueprint", "create_admin_app"]
