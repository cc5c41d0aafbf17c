"""The admin API under /__admin/: a flat table of small JSON operations (plain werkzeug)."""

from __future__ import annotations

import functools
import inspect
import json
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from importlib import resources
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound, RequestEntityTooLarge
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from mocksrv import __version__
from mocksrv.clock import parse_instant
from mocksrv.errors import ScenarioError
from mocksrv.http import BODY_REFUSED, FIELD_REFUSED, MAX_FIELD
from mocksrv.toolkit import expectations, guard
from mocksrv.toolkit.plugin import STARTED

if TYPE_CHECKING:
    from mocksrv.app import MocksrvApp
    from mocksrv.runtime import Runtime
    from mocksrv.toolkit.plugin import Toolkit

log = logging.getLogger("mocksrv")
APP_KEY = "mocksrv.app"  # environ key: the MocksrvApp, set by the app before calling the admin
Handler = Callable[["Ctx"], Any]
MAX_BODY = 1024 * 1024  # admin request bodies: 413 above this


class _Request(Request):
    max_content_length = MAX_BODY


class AdminError(Exception):
    """Bad input to the admin API: rendered as {"error": {"code", "message"}} with a 4xx."""

    def __init__(self, message: str, status: int = 400, code: str = "BadRequest", **extra: Any):
        super().__init__(message)
        self.message, self.status, self.code, self.extra = message, status, code, extra


class Ctx:
    """One admin request: the parsed request, the app, its current runtime and toolkit."""

    def __init__(self, request: Request, app: MocksrvApp, runtime: Runtime, kit: Toolkit):
        self.request, self.app, self.runtime, self.kit = request, app, runtime, kit
        self.args: Mapping[str, Any] = {}
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


def json_response(data: Any, status: int = 200) -> Response:
    body = json.dumps(data, indent=2, default=str) + "\n"
    return Response(body, status=status, content_type="application/json")


def error_response(status: int, code: str, message: str, **extra: Any) -> Response:
    return json_response({"error": {"code": code, "message": message, **extra}}, status)


def _too_large(environ: dict[str, Any]) -> tuple[int, str, str] | None:
    """A body over the cap (declared, or refused by the server as it arrived) or a header field
    the server dropped as too large: the admin's answer (status, code, message), else None."""
    if FIELD_REFUSED in environ:
        message = f"request header field {environ[FIELD_REFUSED]} exceeds {MAX_FIELD} bytes"
        return 431, "RequestHeaderFieldsTooLarge", message
    message = f"admin request bodies are limited to {MAX_BODY} bytes"
    try:
        declared = int(environ.get("CONTENT_LENGTH") or 0) > MAX_BODY
    except ValueError:
        declared = False  # werkzeug reads no body from a bad length
    return (413, "PayloadTooLarge", message) if declared or BODY_REFUSED in environ else None


class AdminApp:
    """`runtime.admin`: a WSGI app over the toolkit of one runtime."""

    def __init__(self, toolkit: Toolkit) -> None:
        from mocksrv.toolkit import admin_views

        self.toolkit = toolkit
        self.routes: dict[str, Handler] = {}
        rules = []
        for path, methods, handler in admin_views.ROUTES:
            endpoint = f"{handler.__name__}"
            self.routes[endpoint] = handler
            rules.append(Rule(path, methods=methods, endpoint=endpoint, strict_slashes=False))
        self.url_map = Map(rules)

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        app = environ.get(APP_KEY)
        if app is None:  # mounted outside MocksrvApp: nothing to control
            error = {"code": "InternalError", "message": "admin API called outside a mocksrv app"}
            return json_response({"error": error}, 500)(environ, start_response)
        try:
            if _dashboard_file(environ):  # the page and its script hold no data: no token needed
                authenticated = False
            else:
                authenticated = guard.check(environ, app.runtime.settings)
        except guard.Refused as refused:
            resp = error_response(refused.status, refused.code, refused.message)
            if refused.status == 401:
                resp.headers["WWW-Authenticate"] = guard.REALM
            return resp(environ, start_response)
        over = _too_large(environ)
        if over is not None:
            return error_response(*over)(environ, start_response)
        ctx = Ctx(_Request(environ), app, app.runtime, self.toolkit)
        ctx.authenticated = authenticated
        return self.dispatch(ctx)(environ, start_response)

    def dispatch(self, ctx: Ctx) -> Response:
        try:
            endpoint, ctx.args = self.url_map.bind_to_environ(ctx.request.environ).match()
            guard.check_json(ctx.request.environ)
            if ctx.request.method in ("POST", "PUT"):
                ctx.body()  # every write takes a JSON object (or nothing), whatever it reads
            result = self.routes[endpoint](ctx)
        except AdminError as err:
            return error_response(err.status, err.code, err.message, **err.extra)
        except guard.Refused as refused:
            return error_response(refused.status, refused.code, refused.message)
        except ScenarioError as err:
            problems = err.problems
            message = "invalid scenario: " + "; ".join(problems[:5])
            return json_response(
                {"error": {"code": "InvalidScenario", "message": message, "problems": problems}},
                400,
            )
        except (NotFound, MethodNotAllowed) as err:
            code = "NotFound" if isinstance(err, NotFound) else "MethodNotAllowed"
            message = f"{ctx.request.method} {ctx.request.path}: {err.name}; see GET /__admin/"
            resp = error_response(err.code or 400, code, message)
            if isinstance(err, MethodNotAllowed) and err.valid_methods:
                resp.headers["Allow"] = ", ".join(sorted(set(err.valid_methods) - {"HEAD"}))
            return resp
        except RequestEntityTooLarge:
            message = f"admin request bodies are limited to {MAX_BODY} bytes"
            return error_response(413, "PayloadTooLarge", message)
        except HTTPException as err:
            return json_response({"error": {"code": "BadRequest", "message": str(err)}}, 400)
        except Exception:  # never a traceback on the admin API either
            log.exception("admin %s %s failed", ctx.request.method, ctx.request.path)
            error = {"code": "InternalError", "message": "admin operation failed; see the log"}
            return json_response({"error": error}, 500)
        if isinstance(result, Response):
            return result
        return json_response(result)


def health(ctx: Ctx) -> dict[str, Any]:
    return {
        "status": "ok",
        "version": __version__,
        "uptimeSeconds": round(time.time() - STARTED, 3),  # since the process loaded mocksrv
    }


def version(ctx: Ctx) -> dict[str, Any]:
    return {"version": __version__, "name": "mocksrv"}


def openapi(ctx: Ctx) -> Response:
    return Response(openapi_text(ctx.runtime.registry.spellings), content_type="application/yaml")


@functools.cache
def openapi_text(apis: tuple[str, ...]) -> str:
    """The OpenAPI document with `match.api` listing the registered APIs' names (and aliases)."""
    text = resources.files("mocksrv.toolkit").joinpath("openapi.yaml").read_text("utf-8")
    return text.replace("[API_NAMES]", "[" + ", ".join(apis) + "]")


# The dashboard's files: a fixed list (no path from the request reaches the file system).
DASHBOARD_ASSETS = {
    "index.html": "text/html; charset=utf-8",
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
}
DASHBOARD_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
        "img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def _dashboard_file(environ: dict[str, Any]) -> bool:
    """A GET of the dashboard page or one of its files (served without the admin token; every
    call the page makes for data goes through the token check)."""
    if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
        return False
    path = str(environ.get("PATH_INFO", "")).rstrip("/")
    if path == "/__admin/dashboard":
        return True
    return path.startswith("/__admin/dashboard/") and path.rsplit("/", 1)[1] in DASHBOARD_ASSETS


def dashboard(ctx: Ctx) -> Response:
    """The dashboard page; its data comes from this admin API, polled by the page."""
    return _asset("index.html")


def dashboard_asset(ctx: Ctx) -> Response:
    name = ctx.args["asset"]
    if name not in DASHBOARD_ASSETS:
        raise AdminError(f"no dashboard file {name!r}", status=404, code="NotFound")
    return _asset(name)


def _asset(name: str) -> Response:
    data = resources.files("mocksrv.toolkit").joinpath("dashboard", name).read_bytes()
    return Response(data, content_type=DASHBOARD_ASSETS[name], headers=DASHBOARD_HEADERS)


def snapshot(store: Any, runtime: Runtime) -> Any:
    """A store's state view: `snapshot(now)` or `snapshot()`, whichever it offers."""
    view = getattr(store, "snapshot", None)
    if view is None:
        return {"message": "this API offers no state view"}
    try:
        params = inspect.signature(view).parameters
    except (TypeError, ValueError):
        params = {}  # type: ignore[assignment]
    return view(runtime.clock.now()) if params else view()


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


__all__ = ["APP_KEY", "AdminApp", "AdminError", "Ctx"]
