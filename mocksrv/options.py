"""The options of `mocksrv serve` and `mocksrv run`, each also an environment variable
(`--tls-port` is `MOCKSRV_TLS_PORT`); a flag given on the command line beats its variable."""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from mocksrv.errors import MocksrvError
from mocksrv.settings import DEFAULT_HOST, DEFAULT_PORT

LOG_LEVELS = ("debug", "info", "warning", "error")
LOG_FORMATS = ("text", "json")
TRUE, FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


def port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a port number: {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"port must be 0-65535, not {value}")
    return value


def count(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None


def seconds(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None


@dataclass(frozen=True)
class Option:
    flag: str
    help: str
    default: Any = None
    kind: str = "value"  # value | list (repeatable; comma-separated in the variable) | switch
    parse: Callable[[str], Any] | None = None
    choices: tuple[str, ...] | None = None
    metavar: str | None = None

    @property
    def dest(self) -> str:
        return self.flag[2:].replace("-", "_")

    @property
    def env(self) -> str:
        return "MOCKSRV_" + self.dest.upper()

    def from_env(self, raw: str) -> Any:
        """The variable's text as the flag would take it; MocksrvError naming it if it cannot."""
        try:
            if self.kind == "switch":
                if raw.strip().lower() not in TRUE + FALSE:
                    raise argparse.ArgumentTypeError(f"give one of {', '.join(TRUE + FALSE)}")
                return raw.strip().lower() in TRUE
            if self.kind == "list":
                return [self._one(part.strip()) for part in raw.split(",") if part.strip()]
            return self._one(raw.strip())
        except argparse.ArgumentTypeError as exc:
            raise MocksrvError(f"{self.env}={raw!r}: {exc}") from None

    def _one(self, text: str) -> Any:
        if self.choices and text not in self.choices:
            raise argparse.ArgumentTypeError(f"give one of {', '.join(self.choices)}")
        return self.parse(text) if self.parse else text


SERVER = [
    Option("--host", "bind address", DEFAULT_HOST),
    Option("--port", "port; 0 = any free port", DEFAULT_PORT, parse=port),
    Option(
        "--scenario",
        "scenario file, directory of *.yaml or bundled scenario name (see `mocksrv scenarios`); "
        "repeatable, later ones extend earlier ones (none: the embedded default)",
        [],
        "list",
        metavar="FILE|DIR|NAME",
    ),  # fmt: skip
    Option(
        "--scenario-root",
        "a directory the admin API may also load scenario files from (repeatable)",
        [],
        "list",
        metavar="DIR",
    ),  # fmt: skip
    Option(
        "--log-level",
        "debug, info (one line per request), warning or error",
        "info",
        choices=LOG_LEVELS,
    ),  # fmt: skip
    Option(
        "--log-format", "text, or json: one JSON object per line", "text", choices=LOG_FORMATS
    ),  # fmt: skip
    Option(
        "--sigv4-debug",
        "signature mismatches return and log the canonical request and string-to-sign",
        None,
        "switch",
    ),  # fmt: skip
    Option(
        "--server",
        "HTTP server: mocksrv's own (builtin) or waitress (not hardened; for comparison)",
        "builtin",
        choices=("builtin", "waitress"),
    ),  # fmt: skip
    Option(
        "--threads",
        "worker threads kept ready (built-in server, more on demand) or waitress's",
        8,
        parse=count,
    ),  # fmt: skip
    Option(
        "--tls-port",
        "also serve HTTPS on PORT (0 = any free port) with a certificate for the "
        "real AGCOD, Prime, S3 and STS host names, issued by mocksrv's local CA (see `mocksrv ca`)",
        None,
        parse=port,
        metavar="PORT",
    ),  # fmt: skip
    Option(
        "--ca-dir",
        "where the local CA and server certificate live (none: "
        "~/.local/share/mocksrv/ca); created 0700 on first use",
        None,
        metavar="DIR",
    ),  # fmt: skip
    Option(
        "--admin-token",
        "bearer token the admin API requires (generated and printed when "
        "listening on anything but loopback)",
        None,
        metavar="TOKEN",
    ),  # fmt: skip
    Option(
        "--admin-host",
        "another Host name the admin API accepts (repeatable; loopback names always are)",
        [],
        "list",
        metavar="NAME",
    ),  # fmt: skip
    Option(
        "--metrics-open",
        "serve GET /__admin/metrics (Prometheus) without the admin token, on any bind",
        False,
        "switch",
    ),  # fmt: skip
    Option(
        "--state",
        "keep all state in the SQLite database FILE (created if missing) or the PostgreSQL "
        "database at URL (postgresql://...); processes and servers given the same state share it "
        "(none: memory only)",
        None,
        metavar="FILE|URL",
    ),  # fmt: skip
    Option(
        "--max-tenants",
        "tenants the server holds at once (POST /__admin/tenants answers 409 beyond)",
        1000,
        parse=count,
        metavar="N",
    ),  # fmt: skip
    Option(
        "--workers",
        "serve with N processes on the same ports (auto: one per core); they share the given "
        "state, or a private SQLite database made for the run (1: one process, in memory unless a "
        "state is given)",
        "1",
        metavar="N|auto",
    ),  # fmt: skip
]


def server_or_url(text: str) -> str:
    """`mocksrv run --server`: an HTTP server's name, or the URL of a running mocksrv."""
    if text in ("builtin", "waitress") or text.startswith(("http://", "https://")):
        return text.rstrip("/") if "://" in text else text
    raise argparse.ArgumentTypeError(
        f"give builtin, waitress or the URL of a running mocksrv (http://...), not {text!r}"
    )


def is_url(server: str | None) -> bool:
    return bool(server) and "://" in str(server)


RUN_SERVER = Option(
    "--server",
    "HTTP server: mocksrv's own (builtin) or waitress; or the URL of a running mocksrv to run "
    "COMMAND against, in a tenant of its own made for the run (no server is started)",
    "builtin",
    parse=server_or_url,
    metavar="builtin|waitress|URL",
)
# what still applies when `run --server URL` starts no server
REMOTE_OK = ("scenario", "admin_token", "log_level", "log_format", "server", "junit_xml",
             "timeout")  # fmt: skip
RUN = [
    Option("--junit-xml", "write the expectations as JUnit XML", None, metavar="FILE"),
    Option("--timeout", "kill COMMAND after N seconds", None, parse=seconds, metavar="N"),
]
# `mocksrv run` serves on a free port and is quiet unless asked: COMMAND's output is what counts
RUN_DEFAULTS = {"port": 0, "log_level": "warning"}


def run_options() -> list[Option]:
    """`mocksrv run`'s options: the server's (`--server` also takes a URL), then its own."""
    return [RUN_SERVER if o.flag == "--server" else o for o in SERVER] + RUN


def shown_default(o: Option, defaults: Mapping[str, Any] | None = None) -> str | None:
    value = (defaults or {}).get(o.dest, o.default)
    return None if value is None or value is False or value == [] else str(value)


def add(
    p: argparse.ArgumentParser,
    options: Sequence[Option],
    defaults: Mapping[str, Any] | None = None,
) -> None:
    """Add the options with no default of their own: `resolve` fills them in after parsing."""
    for o in options:
        shown = shown_default(o, defaults)
        note = f"{o.env}" + (f"; default {shown}" if shown else "")
        kw: dict[str, Any] = {"default": None, "help": f"{o.help} [{note}]"}
        if o.kind == "switch":
            kw["action"] = "store_true"
        else:
            kw.update(metavar=o.metavar, choices=o.choices, type=o.parse)
            if o.kind == "list":
                kw["action"] = "append"
        p.add_argument(o.flag, **kw)


def resolve(
    args: argparse.Namespace,
    options: Sequence[Option],
    environ: Mapping[str, str],
    defaults: Mapping[str, Any] | None = None,
) -> None:
    """Each option not given as a flag from its variable (empty counts as unset), else its
    default (`defaults` overrides some, for `run`)."""
    for o in options:
        if getattr(args, o.dest, None) is not None:
            continue
        raw = environ.get(o.env, "")
        if raw.strip():
            value = o.from_env(raw)
        else:
            value = (defaults or {}).get(o.dest, o.default)
            value = list(value) if isinstance(value, list) else value
        setattr(args, o.dest, value)
