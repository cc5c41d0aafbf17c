"""`mocksrv conform --target URL --identity NAME=KEY:SECRET`: run the plans on the target and on
mocksrv, report the differences (text, JUnit XML), exit 1 if there are any."""

from __future__ import annotations

import argparse
import secrets
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mocksrv.conform import agcod, prime, promotions
from mocksrv.conform.accounts import Account, parse_identity, reference_account
from mocksrv.conform.plan import Ctx, Options, Pacer, Result, Side, Step, run_plan
from mocksrv.conform.report import exit_status, junit, text
from mocksrv.errors import MocksrvError
from mocksrv.upstream import Connector, Target, parse_target

APIS = ("agcod", "prime", "promotions")


def add_conform_parser(sub: Any, add_target_options: Callable[..., None]) -> None:
    p = sub.add_parser(
        "conform",
        help="send the conformance plans to a target and to mocksrv, report the differences",
        description="Run the AGCOD, Prime and Promotions conformance plans of the identities "
        "given against the target and against mocksrv (started on the --scenario files, or a "
        "running one), paced under the target's rate limits, and report every difference in "
        "status, error code and type, header names, field names, types and order, and number "
        "and date formats. Exit status: 0 the same, 1 a difference, 2 a step could not run or "
        "bad options.",
    )
    p.set_defaults(handler=cmd_conform)
    add_target_options(
        p, "the service to check, as URL or API=URL (the API is otherwise known by the "
        "real host name; a URL of no known host serves every API)",
    )  # fmt: skip
    p.add_argument(
        "--identity",
        action="append",
        default=[],
        required=True,
        metavar="NAME[=ACCESS_KEY:SECRET]",
        help="an identity of the scenario and the target's keys for it; without keys they come "
        "from MOCKSRV_IDENTITY_<NAME>_ACCESS_KEY_ID and _SECRET_ACCESS_KEY; repeatable, one "
        "plan each",
    )
    p.add_argument(
        "--scenario",
        action="append",
        default=[],
        metavar="FILE|DIR|NAME",
        help="the scenario that describes the accounts (default: the embedded default)",
    )
    p.add_argument(
        "--mocksrv", metavar="URL", default=None,
        help="a running mocksrv serving the --scenario files (default: start one)",
    )  # fmt: skip
    p.add_argument(
        "--rate", type=_rate, default=5.0,
        help="requests per second at most, from one answer to the next request (default 5; the "
        "AGCOD sandbox allows 10); 0: unpaced",
    )  # fmt: skip
    p.add_argument(
        "--funds-rate", type=_rate, default=0.5,
        help="GetAvailableFunds calls per second at most (default 0.5; the sandbox allows 1)",
    )  # fmt: skip
    p.add_argument(
        "--prime-code", action="append", default=[], metavar="CODE",
        help="an offer code to verify (repeatable; default: the benefit's codes in the scenario)",
    )  # fmt: skip
    p.add_argument(
        "--report-wait", type=_rate, default=60.0, metavar="SECONDS",
        help="how long to wait for a Promotions processing report (default 60)",
    )  # fmt: skip
    p.add_argument(
        "--ignore-header", action="append", default=[], metavar="NAME",
        help="a response header not to compare (repeatable)",
    )  # fmt: skip
    p.add_argument("--junit-xml", metavar="FILE", help="also write the report as JUnit XML")


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be 0 or more, not {text}")
    return value


def targets_of(given: list[str]) -> dict[str, Target]:
    """Each API's target: `API=URL`, else by the URL's host, else every API not named."""
    from mocksrv.tls import AGCOD_HOSTS, PRIME_HOSTS

    out: dict[str, Target] = {}
    fallback: Target | None = None
    for item in given:
        api, sep, url = item.partition("=")
        if not sep or api not in APIS:
            api, url = "", item
        target = parse_target(url)
        if not api and target.host in AGCOD_HOSTS:
            api = "agcod"
        elif not api and target.host in PRIME_HOSTS:
            api = "prime"
        elif not api and target.host.startswith("s3.") and target.host.endswith(".amazonaws.com"):
            api = "promotions"
        if api:
            out.setdefault(api, target)
        else:
            fallback = fallback or target
    if fallback is not None:
        for api in APIS:
            out.setdefault(api, fallback)
    return out


def cmd_conform(args: argparse.Namespace) -> int:
    from mocksrv.record.command import connector_of

    try:
        targets = targets_of(args.target)
    except ValueError as exc:
        raise MocksrvError(str(exc)) from None
    _, connector = connector_of(args)
    given = [parse_identity(i) for i in args.identity]
    app, server, reference_url = _reference(args)
    try:
        plans = []
        for name, key, secret in given:
            ours = reference_account(app.runtime, name, args.prime_code)
            if ours.api not in targets:
                raise MocksrvError(f"--identity {name}: no --target for the {ours.api} API")
            plans.append((ours, ours.with_keys(key, secret)))
        results = _run(args, plans, targets, connector, reference_url)
    finally:
        if server is not None:
            server.stop()
        else:
            app.runtime.close()
    header = [f"mocksrv conform: mocksrv {reference_url} ({', '.join(args.scenario) or 'default'})"]
    header += [
        f"  {api}: target {t.url}"
        for api, t in targets.items()
        if any(p[0].api == api for p in plans)
    ]
    print(text(results, header), flush=True)
    if args.junit_xml:
        try:
            junit(results, Path(args.junit_xml))
        except OSError as exc:
            print(f"mocksrv conform: cannot write {args.junit_xml}: {exc}", file=sys.stderr)
            return 2
    return exit_status(results)


def _reference(args: argparse.Namespace) -> tuple[Any, Any, str]:
    """The reference app (its scenario describes the accounts), the server started for it (None
    with --mocksrv) and the URL its requests go to."""
    from mocksrv.launch import load_app
    from mocksrv.server import ServerThread
    from mocksrv.settings import Settings

    settings = Settings(port=0, log_level="warning", scenario_paths=list(args.scenario))
    app = load_app(settings)
    if args.mocksrv:
        try:
            parse_target(args.mocksrv)
        except ValueError as exc:
            app.runtime.close()
            raise MocksrvError(f"--mocksrv: {exc}") from None
        return app, None, args.mocksrv.rstrip("/")
    server = ServerThread(app, settings).start()
    return app, server, server.url


def _run(
    args: argparse.Namespace,
    plans: list[tuple[Account, Account]],
    targets: dict[str, Target],
    connector: Connector,
    reference_url: str,
) -> list[Result]:
    reference = parse_target(reference_url)
    their_side = Side("target", targets, connector, Pacer(args.rate, args.funds_rate))
    # mocksrv is paced too: its scenario may carry the same limits (agcod-sandbox-realistic)
    our_side = Side(
        "mocksrv", dict.fromkeys(APIS, reference), Connector(), Pacer(args.rate, args.funds_rate)
    )
    options = Options(args.report_wait, frozenset(h.lower() for h in args.ignore_header))
    results: list[Result] = []
    try:
        for ours, theirs in plans:
            run = secrets.token_hex(6)
            sides = [(their_side, Ctx(theirs, run)), (our_side, Ctx(ours, run))]
            results += run_plan(_plan_name(ours), _steps(ours), sides, options)
    finally:
        their_side.close()
        our_side.close()
    return results


def _steps(account: Account) -> list[Step]:
    if account.api == "agcod":
        return agcod.steps()
    if account.api == "prime":
        return prime.steps(account.params["codes"])
    return promotions.steps()


def _plan_name(account: Account) -> str:
    return f"{account.api} ({account.identity})"
