"""The admin API's tenants: make one (with its own scenario and fresh keys), list, look up,
delete. Every other admin operation is also served under `/__admin/tenants/{id}/...` for that
tenant alone (the same blueprint, mounted again)."""

from __future__ import annotations

import math
import time
from typing import Any

from mocksrv.clock import iso
from mocksrv.toolkit.admin import AdminError, Ctx, json_response

TENANTS_KEY = "mocksrv.tenants"  # environ key: the app's tenants, set by the app
MAX_TTL = 30 * 86400  # seconds a tenant may be given at most
DEFAULT_TTL = 86400  # seconds, when the caller names none: a forgotten tenant does not stay
MAX_NAME = 64
FIELDS = ("name", "scenario", "like", "yaml", "ttl_seconds")


def _tenants(ctx: Ctx) -> Any:
    found = ctx.request.environ.get(TENANTS_KEY)
    if found is None:
        raise AdminError("tenants are served by the mocksrv app only", 500, "InternalError")
    return found


def _when(seconds: float | None) -> str | None:
    from datetime import UTC, datetime

    return iso(datetime.fromtimestamp(seconds, UTC)) if seconds is not None else None


def _summary(tenant: Any) -> dict[str, Any]:
    return {
        "id": tenant.id,
        "name": tenant.name,
        "scenario": list(tenant.sources),
        "createdAt": _when(tenant.created),
        "expiresAt": _when(tenant.expires),
        "admin": f"/__admin/tenants/{tenant.id}/",
    }


def _identities(ctx: Ctx, runtime: Any) -> list[dict[str, Any]]:
    """The tenant's identities with their keys (secrets as `/__admin/identities` shows them)."""
    from mocksrv.toolkit.admin_views import identity_items

    return identity_items(ctx, runtime)


def _ttl(body: dict[str, Any]) -> float:
    value = body.get("ttl_seconds", DEFAULT_TTL)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise AdminError(f"ttl_seconds must be a number of seconds, got {value!r}")
    if not 1 <= value <= MAX_TTL:
        raise AdminError(f"ttl_seconds must be between 1 and {MAX_TTL}, got {value!r}")
    return float(value)


def _name(body: dict[str, Any]) -> str:
    name = body.get("name", "")
    if not isinstance(name, str) or len(name) > MAX_NAME or not name.isprintable():
        raise AdminError(f"name must be text of at most {MAX_NAME} printable characters")
    return name


def _scenarios(ctx: Ctx, body: dict[str, Any]) -> list[Any]:
    """The tenant's scenarios: bundled names or files the server may load (or those another
    tenant runs, `like`), then a YAML overlay; without either, the scenarios the server's
    default tenant runs."""
    from mocksrv.toolkit import control

    found = _base(ctx, body)
    text = body.get("yaml")
    if text is not None:
        if not isinstance(text, str) or not text:
            raise AdminError("yaml must be the overlay scenario's text as a string")
        found = [*found, *control.from_text(ctx.runtime, text, "tenant-overlay")]
    if not found:
        raise AdminError("scenario: [] needs a yaml overlay: a tenant runs at least one scenario")
    problems = ctx.runtime.registry.semantic_problems(found)  # checked as any scenario is
    if problems:
        from mocksrv.errors import ScenarioError

        raise ScenarioError(problems)
    return found


def _base(ctx: Ctx, body: dict[str, Any]) -> list[Any]:
    """What the overlay goes on: `scenario` (an empty list: nothing, the overlay alone), the
    scenarios of the tenant `like` names ("": the default tenant), else the server's."""
    named, like = body.get("scenario"), body.get("like")
    if named is not None and like is not None:
        raise AdminError("give scenario or like, not both")
    if like is not None:
        if not isinstance(like, str):
            raise AdminError('like must be a tenant id ("" for the default tenant)')
        slot = _tenants(ctx).get(like) if like else ctx.app
        if slot is None:
            raise AdminError(f"like: no tenant {like[:80]!r}", 404, "NotFound")
        return list(slot.runtime.scenarios)
    if named is None:
        return list(ctx.runtime.scenarios)
    if isinstance(named, str):
        named = [named]
    if not isinstance(named, list) or not all(isinstance(n, str) and n for n in named):
        raise AdminError("scenario must be a scenario name or file, or a list of them")
    return _named(ctx, named)


def _named(ctx: Ctx, named: list[str]) -> list[Any]:
    """Each entry a scenario by name (the bundled library, the files beside the server's own)
    or a file the server may load, as for POST /__admin/scenarios."""
    from mocksrv.toolkit import admin_views, control

    known = control.library(ctx.runtime)
    found: list[Any] = []
    for entry in named:
        if entry in known or ("/" not in entry and not entry.endswith((".yaml", ".yml"))):
            found += admin_views.named_scenarios(ctx, [entry])  # an unknown name: 404
        else:
            found += admin_views.requested(ctx, {"paths": [entry]})
    return found


def create_tenant(ctx: Ctx) -> Any:
    body = ctx.body()
    unknown = sorted(set(body) - set(FIELDS))
    if unknown:
        raise AdminError(
            f"unknown field(s) {', '.join(unknown)}; a tenant takes {', '.join(FIELDS)}"
        )
    nulls = [key for key in FIELDS if key in body and body[key] is None]
    if nulls:  # a field left out means its default; null is not one of its values
        raise AdminError(f"{', '.join(nulls)} must not be null (leave a field out for its default)")
    name, ttl = _name(body), _ttl(body)
    scenarios = _scenarios(ctx, body)
    settings = ctx.runtime.settings
    from mocksrv.errors import TenantError

    try:
        tenant, runtime = _tenants(ctx).create(scenarios, name, ttl, settings.max_tenants)
    except TenantError as exc:
        raise AdminError(exc.message, exc.status, exc.code) from None
    out = {**_summary(tenant), "identities": _identities(ctx, runtime)}
    return json_response(out, 201)


def list_tenants(ctx: Ctx) -> dict[str, Any]:
    found = sorted(_tenants(ctx).all(), key=lambda t: t.created)
    return {"tenants": [_summary(t) for t in found], "count": len(found),
            "max": ctx.runtime.settings.max_tenants}  # fmt: skip


def _slot(ctx: Ctx) -> Any:
    tenant_id = ctx.args["tenant_id"]
    slot = _tenants(ctx).get(tenant_id)
    if slot is None:
        raise AdminError(f"no tenant {tenant_id!r}", 404, "NotFound")
    return slot


def get_tenant(ctx: Ctx) -> dict[str, Any]:
    slot = _slot(ctx)
    left = slot.tenant.expires - time.time() if slot.tenant.expires is not None else None
    return {**_summary(slot.tenant), "identities": _identities(ctx, slot.runtime),
            "expiresInSeconds": round(left, 3) if left is not None else None}  # fmt: skip


def delete_tenant(ctx: Ctx) -> dict[str, Any]:
    tenant_id = _slot(ctx).tenant.id
    _tenants(ctx).delete(tenant_id)
    return {"deleted": tenant_id}


GET, POST, DELETE = ["GET"], ["POST"], ["DELETE"]
ROUTES: list[tuple[str, list[str], Any]] = [
    ("/tenants", POST, create_tenant),
    ("/tenants", GET, list_tenants),
    ("/tenants/<tenant_id>", GET, get_tenant),
    ("/tenants/<tenant_id>", DELETE, delete_tenant),
]
