"""`mocksrv record --target URL`: run the recording proxy until stopped, then check the overlay."""

from __future__ import annotations

import argparse
import os
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mocksrv.errors import MocksrvError
from mocksrv.record.proxy import Proxy, urls
from mocksrv.record.recording import MAX_EXCHANGES, Recording
from mocksrv.record.redact import CodeMask
from mocksrv.upstream import Connector, Target, parse_connect_to, parse_target

DEFAULT_PORT = 4600


def add_target_options(p: argparse.ArgumentParser, what: str) -> None:
    """--target, --connect-to, --ca-bundle, --timeout: shared by `record` and `conform`."""
    p.add_argument(
        "--target",
        action="append",
        default=[],
        metavar="URL",
        required=True,
        help=f"{what} (https://agcod-v2-gamma.amazon.com, https://prime-apis.amazon.com); "
        "repeatable",
    )
    p.add_argument(
        "--connect-to",
        action="append",
        default=[],
        metavar="NAME=ADDRESS:PORT",
        help="connect to ADDRESS:PORT for target host NAME (TLS still checks NAME's certificate "
        "and the Host header is unchanged); repeatable",
    )
    p.add_argument(
        "--ca-bundle",
        metavar="FILE",
        default=None,
        help="trust the CA certificates in FILE for the targets' HTTPS (default: the system's)",
    )
    p.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for a target")


def connector_of(args: argparse.Namespace) -> tuple[list[Target], Connector]:
    try:
        targets = [parse_target(t) for t in args.target]
        connect_to = dict(parse_connect_to(c) for c in args.connect_to)
    except ValueError as exc:
        raise MocksrvError(str(exc)) from None
    if args.ca_bundle and not Path(args.ca_bundle).is_file():
        raise MocksrvError(f"--ca-bundle {args.ca_bundle}: no such file")
    try:
        connector = Connector(connect_to, args.ca_bundle, args.timeout)
    except (OSError, ValueError) as exc:
        raise MocksrvError(f"--ca-bundle {args.ca_bundle}: {exc}") from None
    return targets, connector


def add_record_parser(sub: Any, port_type: Callable[[str], int]) -> None:
    p = sub.add_parser(
        "record",
        help="a recording proxy: forward signed requests to a real service, write what it "
        "answered as a scenario overlay and an exchange file",
        description="Forward every request, byte for byte, to the target its Host names (else "
        "the first --target) and answer with the target's reply. Writes a scenario overlay that "
        "replays the answers and an exchange file in the journal's format; secrets, "
        "Authorization and session tokens are never written. Stop with Ctrl-C or SIGTERM; exit "
        "status 1 if the overlay does not validate, 2 on bad options.",
    )
    p.set_defaults(handler=cmd_record)
    add_target_options(p, "the service to forward to")
    p.add_argument("--host", default="127.0.0.1", help="bind address (default 127.0.0.1)")
    p.add_argument(
        "--port",
        type=port_type,
        default=DEFAULT_PORT,
        help=f"plain HTTP port (default {DEFAULT_PORT})",
    )
    p.add_argument(
        "--tls-port",
        type=port_type,
        default=None,
        metavar="PORT",
        help="also listen for HTTPS on PORT with mocksrv's certificate for the real host names "
        "(see `mocksrv ca`)",
    )
    p.add_argument(
        "--ca-dir", default=None, metavar="DIR", help="mocksrv's local CA (`mocksrv ca`)"
    )
    p.add_argument(
        "--overlay", default="recorded.yaml", metavar="FILE", help="scenario overlay to write"
    )
    p.add_argument(
        "--exchanges",
        default="recorded-exchanges.json",
        metavar="FILE",
        help="exchange file to write",
    )
    p.add_argument(
        "--extends",
        default="default",
        metavar="NAME|FILE",
        help="the scenario the overlay extends (with the identities that sign the replayed "
        "requests); default: default; '' for none",
    )
    p.add_argument(
        "--mask-codes",
        action="store_true",
        help="write claim codes (AGCOD gcClaimCode) and auth codes (Prime authCode) as stand-ins "
        "of the same shape",
    )


def cmd_record(args: argparse.Namespace) -> int:
    from mocksrv.registry import validate_paths

    targets, connector = connector_of(args)
    overlay, exchanges = Path(args.overlay), Path(args.exchanges)
    extends = _extends(args.extends, overlay)
    if extends:
        problems = validate_paths([args.extends])
        if problems:
            raise MocksrvError("--extends: " + "; ".join(problems[:5]))
    recording = Recording(
        overlay, exchanges, targets, extends, CodeMask() if args.mask_codes else None
    )
    proxy = _proxy(args, targets, connector, recording)
    try:
        recording.write()
    except OSError as exc:
        proxy.close()
        raise MocksrvError(f"cannot write the recording: {exc}") from None
    print(_banner(proxy, targets, connector, overlay, exchanges), flush=True)
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    proxy.start()
    try:
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        proxy.close()
    pinned = sum(len(r) for r in recording.pinned.values())
    print(f"mocksrv record: {len(recording.entries)} exchange(s), {pinned} reply(ies) pinned")
    for reason in recording.skipped:
        print(f"  not pinned: {reason}")
    if recording.not_written:
        held = f"the file holds {MAX_EXCHANGES}"
        print(f"  {recording.not_written} later exchange(s) not written: {held}")
    problems = validate_paths([str(overlay)])
    for problem in problems:
        print(problem)
    if not problems:
        print(f"ok: {overlay} is a valid scenario")
    return 1 if problems else 0


def _proxy(
    args: argparse.Namespace, targets: list[Target], connector: Connector, recording: Recording
) -> Proxy:
    tls = None
    if args.tls_port is not None:
        from mocksrv.tls import TLSError, ensure_certs, server_context

        try:
            tls = (
                args.tls_port,
                server_context(ensure_certs(Path(args.ca_dir) if args.ca_dir else None)),
            )
        except TLSError as exc:
            raise MocksrvError(str(exc)) from None
    try:
        return Proxy(targets, connector, recording.add, args.host, args.port, tls)
    except OSError as exc:
        raise MocksrvError(f"cannot listen on {args.host}: {exc.strerror or exc}") from None


def _extends(given: str, overlay: Path) -> str | None:
    """What the overlay's `extends:` says: a bundled name as given, a file relative to the
    overlay's folder."""
    if not given:
        return None
    path = Path(given)
    if path.is_file():
        return os.path.relpath(path.resolve(), overlay.resolve().parent)
    return given


def _banner(
    proxy: Proxy, targets: list[Target], connector: Connector, overlay: Path, exchanges: Path
) -> str:
    found = urls(proxy)
    lines = [f"mocksrv record: proxy on {found[0]}"]
    if len(found) > 1:
        lines.append(f"HTTPS on {found[1]} (real host names; CA: `mocksrv ca`)")
    for t in targets:
        via = connector.address(t)
        shown = "" if via == (t.host, t.port) else f" (connecting to {via[0]}:{via[1]})"
        lines.append(f"target {t.url}{shown}")
    lines.append(f"writing {overlay} (scenario overlay) and {exchanges} (exchanges)")
    lines.append("stop with Ctrl-C")
    return "\n".join(lines)
