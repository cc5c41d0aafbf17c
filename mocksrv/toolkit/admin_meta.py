"""The admin API's own endpoints: its index, health and readiness, version, OpenAPI document and
the dashboard's files."""

from __future__ import annotations

import functools
import json
import time
from importlib import resources
from typing import Any

from flask import Response, current_app, request

from mocksrv import __version__
from mocksrv.toolkit import guard
from mocksrv.toolkit.admin import AdminError, Ctx, json_response
from mocksrv.toolkit.plugin import STARTED

# operations any caller may use, on any bind: their answers say nothing about the sandbox's data
OPEN = frozenset({"health", "ready", "dashboard"})


def index(ctx: Ctx) -> dict[str, Any]:
    mount = request.blueprint  # the routes of the mount this request came through
    rules = [r for r in current_app.url_map.iter_rules() if r.endpoint.startswith(f"{mount}.")]
    return {
        "name": "mocksrv admin API",
        "openapi": "/__admin/openapi.yaml",
        "endpoints": [
            f"{' '.join(sorted(set(r.methods or ()) - {'HEAD', 'OPTIONS'}))} {r.rule}"
            for r in rules
        ],
    }


def _detailed(ctx: Ctx) -> bool:
    """Health details go to whoever may use the rest of the admin API without a token, or has it."""
    return ctx.authenticated or not guard.token_required(ctx.runtime.settings)


def health(ctx: Ctx) -> dict[str, Any]:
    """Alive: the process answers. Without the token (when one is needed) only the status."""
    if not _detailed(ctx):
        return {"status": "ok"}
    return {
        "status": "ok",
        "version": __version__,
        "uptimeSeconds": round(time.time() - STARTED, 3),  # since the process loaded mocksrv
    }


def ready(ctx: Ctx) -> Response:
    """Ready: a scenario is loaded and the state database (with `--state`) answers; 503 if not."""
    checks = {"scenario": "ok" if ctx.runtime.scenarios else "none loaded"}
    state = ctx.runtime.engine
    if state.shared:
        checks["state"] = "ok" if state.reachable() else "unreachable"
    ok = all(v == "ok" for v in checks.values())
    body: dict[str, Any] = {"status": "ready" if ok else "not ready"}
    if _detailed(ctx):
        body["checks"] = checks
    return json_response(body, 200 if ok else 503)


def metrics(ctx: Ctx) -> Response:
    """Prometheus text: behind the token like the rest, unless `--metrics-open`."""
    from mocksrv.toolkit.metrics import CONTENT_TYPE, render

    text = render(ctx.kit.metrics, ctx.runtime, ctx.kit, STARTED)
    return Response(text, content_type=CONTENT_TYPE)


def traffic(ctx: Ctx) -> dict[str, Any]:
    """The dashboard's chart: requests per second and latency per API, the last ten minutes."""
    return ctx.kit.metrics.traffic()


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


def dashboard(ctx: Ctx) -> Response:
    """The dashboard page; its data comes from this admin API, polled by the page. To a caller who
    may read that data without a token (loopback, no token configured, a Host naming the server)
    the page comes with a first helping of it, so its first paint shows data."""
    text = _asset_bytes("index.html").decode("utf-8")
    data = _initial_data(ctx)
    if data is not None:
        # JSON inside <script>: no "<", ">" or "&" left that could end the element
        safe = json.dumps(data, default=str).replace("<", "\\u003c").replace(">", "\\u003e")
        safe = safe.replace("&", "\\u0026")
        text = text.replace(
            "<!--initial-data-->",
            f'<script type="application/json" id="initial-data">{safe}</script>',
        )
    return Response(text, content_type=DASHBOARD_ASSETS["index.html"], headers=DASHBOARD_HEADERS)


def _initial_data(ctx: Ctx) -> dict[str, Any] | None:
    from mocksrv.toolkit import admin_views
    from mocksrv.toolkit.journal import Filters

    try:
        guard.check(ctx.request.environ, ctx.runtime.settings)
    except guard.Refused:
        return None
    if guard.token_required(ctx.runtime.settings):  # a browser's page load never sends the token
        return None
    journal = ctx.kit.journal
    entries = journal.query(Filters(limit=200))
    return {
        "version": __version__,
        "clock": ctx.runtime.clock.to_json(),
        "scenarios": admin_views.list_scenarios(ctx),
        "identities": admin_views.identities(ctx),
        "journal": {**journal.stats(), "count": len(entries), "entries": entries},
        "traffic": ctx.kit.metrics.traffic(),
    }


def dashboard_asset(ctx: Ctx) -> Response:
    name = ctx.args["asset"]
    if name not in DASHBOARD_ASSETS:
        raise AdminError(f"no dashboard file {name!r}", status=404, code="NotFound")
    return _asset(name)


def _asset(name: str) -> Response:
    data = _asset_bytes(name)
    return Response(data, content_type=DASHBOARD_ASSETS[name], headers=DASHBOARD_HEADERS)


def _asset_bytes(name: str) -> bytes:
    return resources.files("mocksrv.toolkit").joinpath("dashboard", name).read_bytes()


GET = ["GET"]
# paths below the blueprint's mount point (/__admin), listed by the index in this order
ROUTES: list[tuple[str, list[str], Any]] = [
    ("", GET, index),
    ("/health", GET, health),
    ("/ready", GET, ready),
    ("/metrics", GET, metrics),
    ("/metrics/traffic", GET, traffic),
    ("/version", GET, version),
    ("/openapi.yaml", GET, openapi),
    ("/dashboard", GET, dashboard),
    ("/dashboard/<asset>", GET, dashboard_asset),
]
