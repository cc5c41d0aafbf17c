"""From command-line options to a loaded app: settings, the admin token, the state database,
and the start-up banner (shared by `mocksrv serve` and `mocksrv run`)."""

from __future__ import annotations

import argparse
import ctypes
import secrets
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

from mocksrv import __version__
from mocksrv.errors import MocksrvError
from mocksrv.settings import Settings


def admin_token(args: argparse.Namespace) -> tuple[str | None, bool]:
    """The admin token from --admin-token or MOCKSRV_ADMIN_TOKEN (`options.resolve` read it);
    off loopback one is generated when neither is given. Returns (token, generated)."""
    from mocksrv.toolkit.guard import is_loopback

    token = args.admin_token or None
    if token is None and not is_loopback(args.host):
        return secrets.token_urlsafe(24), True
    return token, False


def settings_from(args: argparse.Namespace) -> Settings:
    token, generated = admin_token(args)
    args.admin_token_generated = generated
    return Settings(
        admin_token=token,
        admin_hosts=list(args.admin_host),
        metrics_open=bool(args.metrics_open),
        max_tenants=max(0, args.max_tenants),
        host=args.host,
        port=args.port,
        log_level=args.log_level,
        sigv4_debug=args.sigv4_debug,
        threads=max(1, args.threads),
        server=args.server,
        scenario_paths=list(args.scenario),
        state=args.state or None,
        tls_port=args.tls_port,
        ca_dir=Path(args.ca_dir) if args.ca_dir else None,
        scenario_roots=list(args.scenario_root),
    )


def release_large_blocks() -> None:
    """Every allocation of 128 KiB or more gets its own mapping, given back to the system when
    freed (glibc's `M_MMAP_THRESHOLD`, fixed). By default glibc raises that threshold after
    freeing a large block, up to 32 MiB, and keeps freed blocks under it in its heaps: each
    large upload (moto reads an object in 16 MiB blocks) then left 16-80 MB in use for good.
    Only in mocksrv's own processes (`serve`, `run`), not in a test process using the plugin."""
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the C library of this process
    except (OSError, AttributeError):  # not glibc (macOS): nothing to set
        return
    mallopt(-3, 128 * 1024)  # M_MMAP_THRESHOLD


def listen(app: Any, settings: Settings) -> Any:
    """Bind the listeners (`server.make_server`); one line, never a traceback, if it cannot."""
    from mocksrv.server import make_server
    from mocksrv.tls import TLSError

    try:
        return make_server(app, settings)
    except TLSError as exc:
        app.runtime.close()
        raise MocksrvError(str(exc)) from None
    except (OSError, ValueError) as exc:
        app.runtime.close()
        reason = getattr(exc, "strerror", None) or str(exc)
        raise MocksrvError(f"cannot listen on {settings.host}:{settings.port}: {reason}") from None


def restore_sigint() -> None:
    """A server started in the background of a script inherits SIGINT ignored (shells do that to
    background jobs): take it back, so Ctrl-C and `kill -INT` stop it as in the foreground."""
    if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
        signal.signal(signal.SIGINT, signal.default_int_handler)


def load_scenarios(settings: Settings) -> Any:
    """The scenarios the command line names (None: the embedded default)."""
    from mocksrv.registry import load_files

    return load_files(settings.scenario_paths) if settings.scenario_paths else None


def load_app(settings: Settings) -> Any:
    from mocksrv.app import create_app

    scenarios = load_scenarios(settings)
    if settings.state is None:
        return create_app(settings, scenarios)
    from mocksrv.state.engine import StateError
    from mocksrv.state.open import open_engine

    try:
        engine = open_engine(settings.state)
    except StateError as exc:
        raise MocksrvError(str(exc)) from None
    try:
        return create_app(settings, scenarios, state=engine)
    except StateError as exc:
        engine.close()
        raise MocksrvError(str(exc)) from None
    except BaseException:
        engine.close()
        raise


def banner(app: Any, url: str, https: str | None = None, workers: int = 1) -> str:
    from mocksrv.sigv4 import Identity

    runtime = app.runtime
    lines = [listening_line(runtime.settings.host, url)]
    if https:
        lines.append(f"HTTPS on {https} (real host names; CA: `mocksrv ca`)")
    lines += ["", "Endpoints:"]
    for service in runtime.services:
        lines.extend(f"  {line}" for line in service.describe(url))
    if runtime.admin is not None:
        lines.append(f"  admin API          {url}/__admin/")
    lines += ["", "Credentials (scenario demo values):"]
    ident: Identity
    for ident in runtime.keyring.identities():
        lines.append(
            f"  {ident.api:<11} {ident.name:<18} access key {ident.access_key}  "
            f"secret {ident.secret_key}"
        )
    lines += ["", "Rate limits:"] + [f"  {line}" for line in rate_limit_lines(runtime) or ["none"]]
    shared = f"{workers} processes sharing " if workers > 1 else ""
    lines.append(f"\nState: {shared}{runtime.engine.describe()}")
    lines.append(f"Scenario: {', '.join(sc.source for sc in runtime.scenarios)}")
    return "\n".join(lines)


def listening_line(host: str, url: str) -> str:
    """The banner's first line: the bind address, and the URLs that reach it. Bound to one
    address, that is the URL; bound to every address (the Docker image), loopback first, then
    this machine's own addresses and name."""
    from mocksrv.toolkit.guard import is_wildcard

    if not is_wildcard(host):
        return f"mocksrv {__version__} listening on {url}"
    port = url.rsplit(":", 1)[1]
    v6 = ":" in host
    shown, loopback = ("[::]", "[::1]") if v6 else (host or "0.0.0.0", "127.0.0.1")
    family = "IPv6 address, and IPv4 where the system maps it" if v6 else "IPv4 address"
    urls = [f"http://{name}:{port}" for name in (loopback, *_own_names(v6))]
    return (
        f"mocksrv {__version__} listening on {shown}:{port} (every {family}); "
        f"reach it at {', '.join(urls)}"
    )


def _own_names(v6: bool) -> list[str]:
    """This machine's name and its non-loopback addresses (no network traffic: the resolver's
    answer for its own name, typically /etc/hosts)."""
    import ipaddress
    import socket

    name = socket.gethostname()
    family = socket.AF_INET6 if v6 else socket.AF_INET
    try:
        found = {str(info[4][0]) for info in socket.getaddrinfo(name, None, family)}
    except OSError:
        found = set()
    addresses = sorted(a for a in found if not ipaddress.ip_address(a.split("%")[0]).is_loopback)
    shown = [f"[{a}]" if v6 else a for a in addresses]
    return ([name] if name and name != "localhost" else []) + shown


def rate_limit_lines(runtime: Any) -> list[str]:
    """The active rate limits of every API, one line each (for the banners)."""
    return [line for s in runtime.services for line in s.rate_limits()]


def stopper(server: Any) -> Callable[[int, Any], None]:
    """The handler of SIGTERM and SIGINT while `server` runs on the main thread. The first
    signal asks the loop to end after its turn: an exception raised where the signal lands could
    leave a lock held (the loop commits the state's bookkeeping), and the clean-up after run()
    would then wait for it forever. A second signal, or a server without `stop_soon`
    (waitress), raises KeyboardInterrupt at once."""
    asked = {"stop": False}
    soon = getattr(server, "stop_soon", None)

    def stop(signum: int, frame: Any) -> None:
        if asked["stop"] or soon is None:
            raise KeyboardInterrupt
        asked["stop"] = True
        soon()

    return stop
