"""`mocksrv run -- COMMAND`: serve on a free port, run COMMAND against it, verify expectations."""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mocksrv.app import MocksrvApp

ENV_SAFE = re.compile(r"[^A-Z0-9]+")


def add_run_parser(sub: Any) -> None:
    from mocksrv import options

    p = sub.add_parser(
        "run",
        help="serve on a free port, run COMMAND with the endpoint in its environment, "
        "then verify the scenario's expectations",
        description="Start mocksrv, run COMMAND with AWS_ENDPOINT_URL, MOCKSRV_URL and MOCKSRV_* "
        "credential variables, verify expectations, stop. Exit status: COMMAND's if it failed, "
        "1 if an expectation is unmet or the JUnit report cannot be written, else 0. A pytest "
        "COMMAND using mocksrv's plugin attaches to this server. Every option can also be set "
        "by the environment variable in brackets; a flag on the command line beats it.",
    )
    options.add(p, [*options.SERVER, *options.RUN], options.RUN_DEFAULTS)
    p.set_defaults(handler=cmd_run)
    p.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- COMMAND ...")


def environment(app: MocksrvApp, url: str) -> dict[str, str]:
    """The variables COMMAND gets (documented in docs/toolkit.md)."""
    env = {"AWS_ENDPOINT_URL": url, "MOCKSRV_URL": url, "MOCKSRV_ADMIN_URL": f"{url}/__admin"}
    seen: set[str] = set()
    for ident in app.runtime.keyring.identities():
        name = ENV_SAFE.sub("_", ident.name.upper()).strip("_")
        pairs = {"ACCESS_KEY_ID": ident.access_key, "SECRET_ACCESS_KEY": ident.secret_key}
        if ident.regions:
            pairs["REGION"] = ident.regions[0]
        for key, value in ident.extra.items():
            if isinstance(value, str | int | float) and not isinstance(value, bool):
                pairs[ENV_SAFE.sub("_", key.upper())] = str(value)
        prefixes = [f"MOCKSRV_IDENTITY_{name}"]
        if ident.api not in seen:  # the first identity of each API also under the API's name
            prefixes.append(f"MOCKSRV_{ident.api.upper()}")
            seen.add(ident.api)
        for prefix in prefixes:
            env.update({f"{prefix}_{k}": v for k, v in pairs.items()})
    tools = next(
        (a.name for a in app.runtime.registry.apis if a.aws_tools and a.name in seen), None
    )
    if tools is not None:  # plain AWS tools (aws s3 cp, boto3) sign as that API's identity
        env["AWS_ACCESS_KEY_ID"] = env[f"MOCKSRV_{tools.upper()}_ACCESS_KEY_ID"]
        env["AWS_SECRET_ACCESS_KEY"] = env[f"MOCKSRV_{tools.upper()}_SECRET_ACCESS_KEY"]
        env.setdefault("AWS_DEFAULT_REGION", "us-east-1")
    if app.runtime.settings.admin_token:  # the toolkit client and the pytest plugin send it
        env["MOCKSRV_ADMIN_TOKEN"] = app.runtime.settings.admin_token
    return env


def report_text(report: dict[str, Any]) -> str:
    lines = [
        f"mocksrv run: {report['total'] - len(report['unmet'])}/{report['total']} expectations met"
    ]
    for item in report["expectations"]:
        if item["met"]:
            lines.append(f"  met    {item['name']} ({item['actual']})")
            continue
        lines.append(f"  UNMET  {item['name']}: {item['message']}")
        for near in item.get("nearMisses", [])[:3]:
            lines.append(
                f"           near miss {near['operation']}: {'; '.join(near['differences'])}"
            )
        for hit in item.get("matches", [])[:3]:
            lines.append(f"           matched {hit['api']} {hit['operation']} -> {hit['outcome']}")
    return "\n".join(lines)


def junit_xml(report: dict[str, Any], command: list[str], rc: int, seconds: float) -> bytes:
    from xml.etree import ElementTree as ET  # only when a report is asked for

    suite = ET.Element("testsuite", name="mocksrv", time=f"{seconds:.3f}")
    cmd = ET.SubElement(suite, "testcase", classname="mocksrv.command", name=" ".join(command))
    if rc != 0:
        ET.SubElement(cmd, "failure", message=f"command exited with status {rc}")
    for item in report["expectations"]:
        case = ET.SubElement(suite, "testcase", classname="mocksrv.expectations", name=item["name"])
        if not item["met"]:
            failure = ET.SubElement(case, "failure", message=item["message"])
            failure.text = "\n".join(
                "; ".join(n["differences"]) for n in item.get("nearMisses", [])
            )
    suite.set("tests", str(len(suite)))
    suite.set("failures", str(sum(1 for c in suite if c.find("failure") is not None)))
    return ET.tostring(suite, encoding="utf-8", xml_declaration=True)


def cmd_run(args: argparse.Namespace) -> int:
    from mocksrv import logs
    from mocksrv.launch import release_large_blocks, restore_sigint, settings_from
    from mocksrv.supervisor import worker_count

    command = list(args.cmd)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        print("mocksrv run: give the command after --, e.g. mocksrv run -- pytest", file=sys.stderr)
        return 2
    restore_sigint()
    settings = settings_from(args)
    logs.configure(args.log_level, args.log_format)
    release_large_blocks()
    serving = _workers if worker_count(args.workers) > 1 else _in_process
    started = time.monotonic()
    with serving(settings, worker_count(args.workers)) as (app, url, verify):
        print(f"mocksrv run: serving on {url}; running: {' '.join(command)}", flush=True)
        from mocksrv.launch import rate_limit_lines

        for line in rate_limit_lines(app.runtime):
            print(f"mocksrv run: rate limit {line}", flush=True)
        rc = _run_command(command, {**os.environ, **environment(app, url)}, args.timeout)
        report = verify()
    print(report_text(report), flush=True)
    written = not args.junit_xml or write_junit(
        args.junit_xml, junit_xml(report, command, rc, time.monotonic() - started)
    )
    if rc != 0:
        print(f"mocksrv run: command exited with status {rc}", file=sys.stderr)
        return rc
    return 0 if report["met"] and written else 1


Serving = Iterator[tuple[Any, str, Callable[[], dict[str, Any]]]]


@contextlib.contextmanager
def _in_process(settings: Any, workers: int) -> Serving:
    """The run's server on a thread of this process."""
    from mocksrv.launch import listen, load_app
    from mocksrv.server import ServerThread
    from mocksrv.toolkit.plugin import toolkit_of

    app = load_app(settings)
    server = ServerThread(app, settings, listen(app, settings)).start()
    try:
        yield app, server.url, lambda: toolkit_of(app.runtime).expectations.verify()
    finally:
        server.stop()


@contextlib.contextmanager
def _workers(settings: Any, workers: int) -> Serving:
    """`run --workers N`: N worker processes on a private (or the given) state; the
    expectations are verified on that state, so they count every worker's requests."""
    from mocksrv.app import create_app
    from mocksrv.errors import MocksrvError
    from mocksrv.launch import load_scenarios
    from mocksrv.state.engine import StateError
    from mocksrv.state.open import open_engine
    from mocksrv.supervisor import Supervisor
    from mocksrv.toolkit.plugin import toolkit_of

    supervisor = Supervisor(settings, load_scenarios(settings), workers)
    try:
        app = supervisor.prepare()
        supervisor.start()
    except (StateError, RuntimeError, OSError) as exc:
        supervisor.stop()
        raise MocksrvError(f"cannot start {workers} workers: {exc}") from None

    def verify() -> dict[str, Any]:
        assert supervisor.settings.state is not None
        engine = open_engine(supervisor.settings.state)
        try:
            view = create_app(supervisor.settings, None, engine, install=False, start=False)
            return dict(toolkit_of(view.runtime).expectations.verify())
        finally:
            engine.close()

    try:
        yield app, supervisor.urls()[0], verify
    finally:
        supervisor.stop()


def write_junit(path: str, data: bytes) -> bool:
    """Write the report, creating its folders; a failure is reported, never a traceback (the
    command's exit status must still come through)."""
    try:
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    except OSError as exc:
        print(f"mocksrv run: cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
        return False
    return True


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt  # SIGTERM (docker stop, CI cancel): stop COMMAND and the server


def _run_command(command: list[str], env: dict[str, str], timeout: float | None) -> int:
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _interrupt)
    try:
        proc = subprocess.Popen(command, env=env)
    except OSError as exc:
        print(f"mocksrv run: cannot start {command[0]!r}: {exc.strerror}", file=sys.stderr)
        return 127
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        print(f"mocksrv run: command killed after {timeout} s", file=sys.stderr)
        return 124
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait()
        return 130
