"""The admin operations, one small function each, and their route table."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mocksrv.clock import FIRST_INSTANT, LAST_INSTANT, clamp, iso
from mocksrv.scenario.library import resolve
from mocksrv.scenario.loader import Scenario, load_default
from mocksrv.toolkit import control, guard
from mocksrv.toolkit.admin import (
    AdminError,
    Ctx,
    instant,
    new_expectation,
    number,
    snapshot,
    validate,
)
from mocksrv.toolkit.journal import Filters
from mocksrv.toolkit.matching import canonical_api
from mocksrv.toolkit.schema import fault as fault_schema

# the same answer whether the path exists or not, and nothing of its content
FORBIDDEN_PATHS = (
    "paths: only the scenario files and directories the server was started with (--scenario), "
    "or files inside those directories, may be loaded"
)
ADVANCE_UNITS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}


def _flag(body: dict[str, Any], key: str) -> bool:
    value = body.get(key, False)
    if not isinstance(value, bool):
        raise AdminError(f"{key} must be true or false")
    return value


def reset(ctx: Ctx) -> dict[str, Any]:
    body = ctx.body()
    unknown = sorted(set(body) - {"keepJournal"})
    if unknown:
        raise AdminError(f"unknown field(s) {', '.join(unknown)}; reset takes keepJournal")
    keep_journal = _flag(body, "keepJournal")
    runtime = control.reset(ctx.app, keep_journal=keep_journal)
    return {
        "reset": True,
        "keptJournal": keep_journal,
        "active": [sc.source for sc in runtime.scenarios],
    }


def identities(ctx: Ctx) -> dict[str, Any]:
    """The scenario's demo credentials, for test harnesses. Secret keys go to a caller with the
    admin token, or to anyone when no token is configured (loopback only: see toolkit/guard)."""
    return {"identities": identity_items(ctx, ctx.runtime)}


def identity_items(ctx: Ctx, runtime: Any) -> list[dict[str, Any]]:
    """`runtime`'s identities with their keys, secrets as `identities` shows them to `ctx`."""
    show_secrets = ctx.authenticated or not guard.token_required(ctx.runtime.settings)
    out = []
    for ident in runtime.keyring.identities():
        item: dict[str, Any] = {
            "name": ident.name,
            "api": ident.api,
            "access_key": ident.access_key,
        }
        if show_secrets:
            item["secret_key"] = ident.secret_key
        item["regions"] = list(ident.regions)
        out.append({**ident.extra, **item})
    return out


# --- scenarios ---------------------------------------------------------------------------------
def list_scenarios(ctx: Ctx) -> dict[str, Any]:
    return {
        "active": [{"name": sc.name, "source": sc.source} for sc in ctx.runtime.scenarios],
        "available": {
            name: str(path) for name, path in sorted(control.library(ctx.runtime).items())
        },
    }


def requested(ctx: Ctx, body: dict[str, Any]) -> list[Scenario]:
    given = [k for k in ("paths", "names", "yaml", "reload", "default") if k in body]
    if len(given) != 1:
        raise AdminError("give exactly one of paths, names, yaml, reload: true or default: true")
    key = given[0]
    if key in ("reload", "default") and body[key] is not True:
        raise AdminError(f"{key} must be true")
    if key == "reload":
        return control.reload_sources(ctx.runtime)
    if key == "default":
        return [load_default()]
    if key == "yaml":
        if not isinstance(body["yaml"], str) or not body["yaml"]:
            raise AdminError("yaml must be the scenario text as a string")
        return control.from_text(ctx.runtime, body["yaml"], str(body.get("name") or "posted"))
    values = body[key]
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise AdminError(f"{key} must be a non-empty list of strings")
    if key == "paths":
        values = [resolve(v) for v in values]  # bundled scenarios by name, too
        if not all(control.path_allowed(v, ctx.runtime.settings) for v in values):
            raise AdminError(FORBIDDEN_PATHS, status=403, code="Forbidden")
        odd = [v for v in values if not (Path(v).is_file() or Path(v).is_dir())]
        if odd:
            raise AdminError(f"not a file or directory on the server: {', '.join(odd)}")
    if key == "names":
        return named_scenarios(ctx, values)
    return ctx.runtime.registry.load_files(values)


def named_scenarios(ctx: Ctx, names: list[str]) -> list[Scenario]:
    """Scenarios by name: the bundled library and the files beside the server's own."""
    known = control.library(ctx.runtime)
    missing = [n for n in names if n not in known]
    if missing:
        raise AdminError(
            f"unknown scenario name(s) {', '.join(missing)}; available: {', '.join(sorted(known))}",
            status=404,
            code="NotFound",
        )
    return ctx.runtime.registry.load_files([str(known[n]) for n in names])


def load_scenarios(ctx: Ctx) -> dict[str, Any]:
    body = ctx.body()
    keep, keep_journal = _flag(body, "keepState"), _flag(body, "keepJournal")
    if not isinstance(body.get("name", ""), str):
        raise AdminError("name must be a string")
    scenarios = requested(ctx, body)
    return control.switch(ctx.app, scenarios, keep, keep_journal=keep_journal)


# --- clock -------------------------------------------------------------------------------------
def get_clock(ctx: Ctx) -> dict[str, Any]:
    return ctx.runtime.clock.to_json()


def set_clock(ctx: Ctx) -> dict[str, Any]:
    body = ctx.body()
    if "now" not in body:
        raise AdminError('give {"now": "<ISO-8601 instant>"}')
    at = instant("now", body["now"])
    if at != clamp(at):
        raise AdminError(
            f"now: {body['now']!r} is outside the scenario clock's range "
            f"({iso(FIRST_INSTANT)} to {iso(LAST_INSTANT)})"
        )
    frozen = body.get("frozen")
    if "frozen" in body and not isinstance(frozen, bool):
        raise AdminError("frozen must be true or false")
    ctx.runtime.clock.set(at, frozen)  # the instant and frozen in one step
    return ctx.runtime.clock.to_json()


def _freeze(ctx: Ctx, frozen: Any) -> None:
    if not isinstance(frozen, bool):
        raise AdminError("frozen must be true or false")
    clock = ctx.runtime.clock
    clock.freeze() if frozen else clock.unfreeze()


def advance_clock(ctx: Ctx) -> dict[str, Any]:
    body = ctx.body()
    given = [k for k in ADVANCE_UNITS if k in body]
    if not given:
        raise AdminError(f"give one or more of {', '.join(ADVANCE_UNITS)}")
    amounts = [number(k, body[k]) * ADVANCE_UNITS[k] for k in given]
    seconds = sum(amounts)
    if min(amounts) < 0:
        raise AdminError("the scenario clock only moves forward; use PUT /__admin/clock to go back")
    try:
        ctx.runtime.clock.advance(seconds)
    except (OverflowError, ValueError):
        raise AdminError(f"cannot advance the clock by {seconds:g} seconds: out of range") from None
    return {**ctx.runtime.clock.to_json(), "advancedSeconds": seconds}


def freeze_clock(ctx: Ctx) -> dict[str, Any]:
    _freeze(ctx, True)
    return ctx.runtime.clock.to_json()


def unfreeze_clock(ctx: Ctx) -> dict[str, Any]:
    _freeze(ctx, False)
    return ctx.runtime.clock.to_json()


# --- state views -------------------------------------------------------------------------------
def all_state(ctx: Ctx) -> dict[str, Any]:
    return {api: snapshot(store, ctx.runtime) for api, store in sorted(ctx.runtime.stores.items())}


def api_state(ctx: Ctx) -> Any:
    api = ctx.args["api"]
    store = ctx.runtime.stores.get(api)
    if store is None:
        known = ", ".join(sorted(ctx.runtime.stores)) or "none"
        raise AdminError(f"no state for API {api!r} (known: {known})", status=404, code="NotFound")
    return snapshot(store, ctx.runtime)


# --- API actions (run-time operations an API offers, e.g. promotions enable-prod) -------------
def _actions(ctx: Ctx) -> dict[str, dict[str, Any]]:
    out = {}
    for api, store in sorted(ctx.runtime.stores.items()):
        offered = store.admin_actions()
        if offered:
            out[api] = dict(offered)
    return out


def list_actions(ctx: Ctx) -> dict[str, Any]:
    return {
        "actions": {
            api: {name: text for name, (_, text) in found.items()}
            for api, found in _actions(ctx).items()
        }
    }


def run_action(ctx: Ctx) -> Any:
    api, name = ctx.args["api"], ctx.args["action"]
    found = _actions(ctx).get(api, {})
    if name not in found:
        known = [f"{a}/{n}" for a, acts in _actions(ctx).items() for n in acts] or ["none"]
        raise AdminError(
            f"no action {api}/{name}; known: {', '.join(known)}", status=404, code="NotFound"
        )
    try:
        return found[name][0](ctx.body())
    except LookupError as exc:
        raise AdminError(str(exc.args[0]), status=404, code="NotFound") from None
    except ValueError as exc:
        raise AdminError(str(exc)) from None


# --- journal -----------------------------------------------------------------------------------
def get_journal(ctx: Ctx) -> dict[str, Any]:
    args = ctx.request.args
    unknown = set(args) - {*Filters.KEYS, "since", "limit", "scope"}
    if unknown:
        raise AdminError(f"unknown filter(s) {', '.join(sorted(unknown))}")
    repeated = sorted(k for k in args if len(args.getlist(k)) > 1)
    if repeated:
        raise AdminError(f"give each filter once: {', '.join(repeated)}")
    equal: dict[str, Any] = {k: args[k] for k in Filters.KEYS if k in args and k != "status"}
    if "status" in args:
        equal["status"] = _integer("status", args["status"], 100, 599)
    canonical_api(equal, ctx.runtime.registry)  # an older spelling (s3, landing, iam): its API
    limit = _integer("limit", args["limit"], 1, None) if "limit" in args else None
    since = instant("since", args["since"]) if "since" in args else None
    scope = args.get("scope", "current")
    if scope not in ("current", "all"):
        raise AdminError(f"scope must be current or all, not {scope!r}")
    entries = ctx.kit.journal.query(Filters(equal, since, limit), all_scopes=scope == "all")
    return {**ctx.kit.journal.stats(), "count": len(entries), "entries": entries}


def journal_exchange(ctx: Ctx) -> dict[str, Any]:
    """One recorded call with what was sent and answered (kept for the newest calls only)."""
    rid = ctx.args["request_id"]
    entry = ctx.kit.journal.find(rid)
    if entry is None:
        raise AdminError(f"no journal entry with requestId {rid!r}", status=404, code="NotFound")
    detail = ctx.kit.exchanges.get(rid)
    return {"entry": entry, "kept": detail is not None, **(detail or {})}


def _integer(key: str, text: str, minimum: int, maximum: int | None) -> int:
    if not text.strip().lstrip("-").isascii() or not text.strip().lstrip("-").isdigit():
        raise AdminError(f"{key} must be an integer, got {text[:40]!r}")
    value = int(text.strip())
    if value < minimum or (maximum is not None and value > maximum):
        upper = f" and at most {maximum}" if maximum is not None else ""
        raise AdminError(f"{key} must be at least {minimum}{upper}, got {text[:40]!r}")
    return value


def clear_journal(ctx: Ctx) -> dict[str, Any]:
    ctx.kit.reset_journal()
    return {"cleared": True}


# --- expectations ------------------------------------------------------------------------------
def list_expectations(ctx: Ctx) -> dict[str, Any]:
    return ctx.kit.expectations.verify()


def add_expectation(ctx: Ctx) -> Any:
    item = new_expectation(ctx, ctx.body(required=True))
    ctx.kit.journal.with_history(lambda history: ctx.kit.expectations.add(item, history))
    return item.report()


def clear_expectations(ctx: Ctx) -> dict[str, Any]:
    return {"removed": ctx.kit.expectations.remove_added()}


def verify_expectations(ctx: Ctx) -> Any:
    return ctx.kit.expectations.verify()


# --- faults ------------------------------------------------------------------------------------
def list_faults(ctx: Ctx) -> dict[str, Any]:
    return {"faults": ctx.kit.faults.to_json()}


def add_fault(ctx: Ctx) -> Any:
    spec = ctx.body(required=True)
    validate(spec, fault_schema(ctx.runtime.registry.spellings), "fault")
    try:
        fault = ctx.kit.faults.add(spec)
    except ValueError as exc:
        raise AdminError(f"invalid fault: {exc}") from None
    return fault.to_json()


def clear_faults(ctx: Ctx) -> dict[str, Any]:
    source = ctx.request.args.get("source")
    if source not in (None, "scenario", "admin"):
        raise AdminError(f"source must be scenario or admin, got {source!r}")
    return {"removed": ctx.kit.faults.clear(source)}


def delete_fault(ctx: Ctx) -> dict[str, Any]:
    if not ctx.kit.faults.remove(ctx.args["fault_id"]):
        raise AdminError(f"no fault with id {ctx.args['fault_id']!r}", status=404, code="NotFound")
    return {"removed": 1}


GET, POST, PUT, DELETE = ["GET"], ["POST"], ["PUT", "POST"], ["DELETE"]
# paths below the blueprint's mount point (/__admin); admin_meta's routes come first
ROUTES: list[tuple[str, list[str], Any]] = [
    ("/reset", POST, reset),
    ("/identities", GET, identities),
    ("/scenarios", GET, list_scenarios),
    ("/scenarios", POST, load_scenarios),
    ("/clock", GET, get_clock),
    ("/clock", PUT, set_clock),
    ("/clock/advance", POST, advance_clock),
    ("/clock/freeze", POST, freeze_clock),
    ("/clock/unfreeze", POST, unfreeze_clock),
    ("/state", GET, all_state),
    ("/state/<api>", GET, api_state),
    ("/actions", GET, list_actions),
    ("/actions/<api>/<action>", POST, run_action),
    ("/journal", GET, get_journal),
    ("/journal", DELETE, clear_journal),
    ("/journal/<request_id>", GET, journal_exchange),
    ("/expectations", GET, list_expectations),
    ("/expectations", POST, add_expectation),
    ("/expectations", DELETE, clear_expectations),
    ("/expectations/verify", ["GET", "POST"], verify_expectations),
    ("/faults", GET, list_faults),
    ("/faults", POST, add_fault),
    ("/faults", DELETE, clear_faults),
    ("/faults/<fault_id>", DELETE, delete_fault),
]
