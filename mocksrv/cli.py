"""Command line: `mocksrv serve | validate | schema | ca | scenarios | run`."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mocksrv import __version__
from mocksrv.errors import MocksrvError, ScenarioError
from mocksrv.launch import banner, load_app, settings_from
from mocksrv.settings import DEFAULT_HOST, DEFAULT_PORT

LOG_LEVELS = ("debug", "info", "warning", "error")


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0-65535, not {port}")
    return port


def _add_server_options(p: argparse.ArgumentParser, port: int = DEFAULT_PORT) -> None:
    p.add_argument("--host", default=DEFAULT_HOST, help=f"bind address (default {DEFAULT_HOST})")
    p.add_argument(
        "--port",
        type=_port,
        default=port,
        help=f"port; 0 = any free port (default {port})",
    )
    p.add_argument(
        "--scenario",
        action="append",
        default=[],
        metavar="FILE|DIR|NAME",
        help="scenario file, directory of *.yaml or bundled scenario name (see `mocksrv "
        "scenarios`); repeatable, later ones extend earlier ones (default: the embedded default)",
    )
    p.add_argument(
        "--scenario-root",
        action="append",
        default=[],
        metavar="DIR",
        help="a directory the admin API may also load scenario files from (repeatable)",
    )
    p.add_argument("--log-level", choices=LOG_LEVELS, default="info")
    p.add_argument(
        "--sigv4-debug",
        action="store_true",
        default=None,
        help="signature mismatches return and log the canonical request and string-to-sign",
    )
    p.add_argument(
        "--server",
        choices=("builtin", "waitress"),
        default="builtin",
        help="HTTP server: mocksrv's own (default) or waitress (not hardened; for comparison)",
    )
    p.add_argument(
        "--threads",
        type=int,
        default=8,
        help="worker threads kept ready (built-in server, more on demand) or waitress's (default 8)",
    )
    p.add_argument(
        "--tls-port",
        type=_port,
        default=None,
        metavar="PORT",
        help="also serve HTTPS on PORT (0 = any free port) with a certificate for the real AGCOD, "
        "Prime, S3 and STS host names, issued by mocksrv's local CA (see `mocksrv ca`)",
    )
    _add_ca_dir_option(p)
    p.add_argument(
        "--state",
        default=None,
        metavar="PATH",
        help="keep all state in the SQLite database PATH (created if missing) and restore it on "
        "start; default: memory only",
    )


def _add_ca_dir_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--ca-dir",
        default=None,
        metavar="DIR",
        help="where the local CA and server certificate live (default: $MOCKSRV_CA_DIR, "
        "else ~/.local/share/mocksrv/ca); created 0700 on first use",
    )
    p.add_argument(
        "--admin-token",
        default=None,
        metavar="TOKEN",
        help="bearer token the admin API requires (default: $MOCKSRV_ADMIN_TOKEN; generated and "
        "printed when listening on anything but loopback)",
    )
    p.add_argument(
        "--admin-host",
        action="append",
        default=[],
        metavar="NAME",
        help="another Host name the admin API accepts (repeatable; loopback names always are)",
    )
    p.add_argument(
        "--metrics-open",
        action="store_true",
        default=None,
        help="serve GET /__admin/metrics (Prometheus) without the admin token, on any bind",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mocksrv",
        description="Offline sandbox for Amazon partner APIs: AGCOD, Prime offer codes, Promotions.",
    )
    parser.add_argument("--version", action="version", version=f"mocksrv {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="start the server")
    _add_server_options(serve)
    validate = sub.add_parser("validate", help="validate scenario files")
    validate.add_argument(
        "files",
        nargs="+",
        metavar="FILE|DIR|NAME",
        help="each FILE (or bundled scenario NAME), or the *.yaml files of each DIR together, "
        "is checked as one scenario",
    )
    validate.add_argument(
        "--merge",
        action="store_true",
        help="check all arguments merged into one scenario, as `serve --scenario ...` loads them",
    )
    sub.add_parser("schema", help="print the scenario JSON Schema")
    ca = sub.add_parser(
        "ca",
        help="print the local CA certificate's path (created on first use) and how to trust it",
    )
    _add_ca_dir_option(ca)
    ca.add_argument("--tls-port", type=_port, default=None, help="port shown in the hints")
    sub.add_parser(
        "scenarios", help="list the bundled scenarios (usable by name) and their purpose"
    )
    from mocksrv.run import add_run_parser

    add_run_parser(sub, _add_server_options)
    return parser


def cmd_serve(args: argparse.Namespace) -> int:
    from mocksrv.server import make_server, server_url, tls_url
    from mocksrv.tls import TLSError

    settings = settings_from(args)
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    app = load_app(settings)
    try:
        server = make_server(app, settings)
    except TLSError as exc:
        raise MocksrvError(str(exc)) from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise MocksrvError(f"cannot listen on {settings.host}:{settings.port}: {reason}") from None
    print(
        banner(app, server_url(server, settings.host), tls_url(server, settings.host)), flush=True
    )
    if getattr(args, "admin_token_generated", False):
        print(f"Admin API token (generated; send 'Authorization: Bearer <token>'): "
              f"{settings.admin_token}", flush=True)  # fmt: skip

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop)
    try:
        server.run()
    except KeyboardInterrupt:
        print("mocksrv stopped", flush=True)
    finally:
        server.close()
        app.runtime.close()
        if app.runtime.state is not None:
            app.runtime.state.close()
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    from mocksrv.registry import validate_paths

    groups = [list(args.files)] if args.merge else [[f] for f in args.files]
    problems = [p for group in groups for p in validate_paths(group)]
    for problem in problems:
        print(problem)
    if not problems:
        print(f"ok: {len(groups)} scenario(s) valid")
    return 1 if problems else 0


def cmd_schema(args: argparse.Namespace) -> int:
    from mocksrv.registry import scenario_schema

    print(json.dumps(scenario_schema(), indent=2))
    return 0


def cmd_ca(args: argparse.Namespace) -> int:
    from mocksrv.tls import TLSError, ensure_certs, trust_instructions

    try:
        paths = ensure_certs(Path(args.ca_dir) if args.ca_dir else None)
    except TLSError as exc:
        raise MocksrvError(str(exc)) from None
    print(trust_instructions(paths, args.tls_port))
    return 0


def cmd_scenarios(args: argparse.Namespace) -> int:
    from mocksrv.scenario.library import bundled

    found = bundled()
    width = max((len(name) for name in found), default=0)
    for name, (_, purpose) in found.items():
        print(f"{name:<{width}}  {purpose}")
    return 0


COMMANDS = {
    "serve": cmd_serve,
    "validate": cmd_validate,
    "schema": cmd_schema,
    "scenarios": cmd_scenarios,
    "ca": cmd_ca,
}


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = COMMANDS.get(args.command) or args.handler
    try:
        return int(handler(args))
    except ScenarioError as exc:
        print("mocksrv: invalid scenario:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    except MocksrvError as exc:
        print(f"mocksrv: {exc}", file=sys.stderr)
        return 2
