"""Command line: `mocksrv serve | validate | schema | ca | scenarios | run | record | conform`."""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
from collections.abc import Sequence
from pathlib import Path

from mocksrv import __version__, options
from mocksrv.errors import MocksrvError, ScenarioError
from mocksrv.launch import (
    banner,
    listen,
    load_app,
    release_large_blocks,
    restore_sigint,
    settings_from,
)


def _add_ca_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--ca-dir",
        default=None,
        metavar="DIR",
        help="where the local CA and server certificate live (default: $MOCKSRV_CA_DIR, "
        "else ~/.local/share/mocksrv/ca); created 0700 on first use",
    )
    p.add_argument("--tls-port", type=options.port, default=None, help="port shown in the hints")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mocksrv",
        description="Offline sandbox for Amazon partner APIs: AGCOD, Prime offer codes, Promotions.",
    )
    parser.add_argument("-V", "--version", action="version", version=f"mocksrv {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser(
        "serve",
        help="start the server",
        description="Start the server. Every option can also be set by the environment "
        "variable in brackets; a flag on the command line beats it.",
    )
    options.add(serve, options.SERVER)
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
    _add_ca_options(ca)
    sub.add_parser(
        "scenarios", help="list the bundled scenarios (usable by name) and their purpose"
    )
    from mocksrv.conform.command import add_conform_parser
    from mocksrv.record.command import add_record_parser, add_target_options
    from mocksrv.run import add_run_parser

    add_run_parser(sub)
    add_record_parser(sub, options.port)
    add_conform_parser(sub, add_target_options)
    return parser


def cmd_serve(args: argparse.Namespace) -> int:
    from mocksrv import logs
    from mocksrv.server import server_url, tls_url

    restore_sigint()
    settings = settings_from(args)
    logs.configure(args.log_level, args.log_format)
    release_large_blocks()
    from mocksrv.supervisor import serve_workers, worker_count

    workers = worker_count(args.workers)
    if workers > 1:
        return serve_workers(args, settings, workers)
    app = load_app(settings)
    server = listen(app, settings)

    from mocksrv.launch import stopper

    stop = stopper(server)
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:  # a signal from here on, even while the banner is printed, is a clean stop
        print(
            banner(app, server_url(server, settings.host), tls_url(server, settings.host)),
            flush=True,
        )
        if getattr(args, "admin_token_generated", False):
            print(f"Admin API token (generated; send 'Authorization: Bearer <token>'): "
                  f"{settings.admin_token}", flush=True)  # fmt: skip
        server.run()
        print("mocksrv stopped", flush=True)
    except KeyboardInterrupt:
        print("mocksrv stopped", flush=True)
    finally:
        server.close()
        app.runtime.close()
        app.runtime.engine.close()
        logging.shutdown()
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


def _check_remote(server: str, given: list[str]) -> None:
    """`run --server URL` starts no server: the options that shape one are refused."""
    if not options.is_url(server):
        return
    odd = [f for f in given if f[2:].replace("-", "_") not in options.REMOTE_OK]
    if odd:
        raise MocksrvError(
            f"run --server {server}: {', '.join(odd)} shape(s) a server this run does not "
            "start; give them to that server (only --scenario, --admin-token, --junit-xml, "
            "--timeout and the log options apply)"
        )


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    handler = COMMANDS.get(args.command) or args.handler
    try:
        if args.command == "serve":
            options.resolve(args, options.SERVER, os.environ)
        elif args.command == "run":
            given = [o.flag for o in options.SERVER if getattr(args, o.dest) is not None]
            options.resolve(args, options.run_options(), os.environ, options.RUN_DEFAULTS)
            _check_remote(args.server, given)
        return int(handler(args))
    except ScenarioError as exc:
        print("mocksrv: invalid scenario:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    except MocksrvError as exc:
        print(f"mocksrv: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # Ctrl-C while starting up (later, serve and run stop cleanly)
        return 130
    except BrokenPipeError:  # `mocksrv schema | head`: the reader has all it wanted
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # nothing more to write at exit either
        return 141  # as a shell reports a command ended by SIGPIPE
