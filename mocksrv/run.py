"""`mocksrv run -- COMMAND`: serve on a free port (or use a tenant of a running server), run
COMMAND against it, verify expectations."""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mocksrv.app import MocksrvApp


def add_run_parser(sub: Any) -> None:
    from mocksrv import options

    p = sub.add_parser(
        "run",
        help="serve on a free port (or use a running server's tenant), run COMMAND with the "
        "endpoint in its environment, then verify the scenario's expectations",
        description="Start mocksrv (or, with --server URL, make a tenant of its own on that "
        "running server), run COMMAND with AWS_ENDPOINT_URL, MOCKSRV_URL and MOCKSRV_* "
        "credential variables, verify expectations, stop (delete the tenants of the run). Exit "
        "status: COMMAND's if it failed, 1 if an expectation is unmet or the JUnit report cannot "
        "be written, else 0. A pytest COMMAND using mocksrv's plugin uses this run's sandbox "
        "(each pytest-xdist worker a tenant of its own on it, whose requests the expectations "
        "count too). Every option can also be set by the environment variable in brackets; a "
        "flag on the command line beats it.",
    )
    options.add(p, options.run_options(), options.RUN_DEFAULTS)
    p.set_defaults(handler=cmd_run)
    p.add_argument("cmd", nargs=argparse.REMAINDER, metavar="-- COMMAND ...")


def identities_of(runtime: Any) -> list[dict[str, Any]]:
    """The runtime's identities as the admin API lists them to a caller allowed the secrets."""
    return [
        {**i.extra, "name": i.name, "api": i.api, "access_key": i.access_key,
         "secret_key": i.secret_key, "regions": list(i.regions)}
        for i in runtime.keyring.identities()
    ]  # fmt: skip


def tools_api(registry: Any) -> str | None:
    """The API whose identity plain AWS tools sign as (AWS_ACCESS_KEY_ID)."""
    return next((a.name for a in registry.apis if a.aws_tools), None)


def environment(app: MocksrvApp, url: str) -> dict[str, str]:
    """The variables COMMAND gets from the run's own server (documented in docs/toolkit.md)."""
    from mocksrv.toolkit.client import sandbox_environment

    runtime = app.runtime
    return sandbox_environment(
        url, identities_of(runtime), admin_url=f"{url}/__admin",
        token=runtime.settings.admin_token, tools_api=tools_api(runtime.registry),
    )  # fmt: skip


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
    from mocksrv.options import is_url
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
    run_id = secrets.token_hex(6)
    if is_url(args.server):
        serving = _remote(settings, args.server, run_id)
    elif worker_count(args.workers) > 1:
        serving = _workers(settings, worker_count(args.workers))
    else:
        serving = _in_process(settings)
    started = time.monotonic()
    with serving as sandbox:
        print(f"mocksrv run: {sandbox.where}; running: {' '.join(command)}", flush=True)
        for line in sandbox.notes:
            print(f"mocksrv run: {line}", flush=True)
        env = {**os.environ, **sandbox.env, "MOCKSRV_RUN": run_id}
        try:
            rc = _run_command(command, env, args.timeout)
            report = verify(sandbox.handle, run_id)
        finally:
            forget(sandbox.handle, run_id)
    print(report_text(report), flush=True)
    written = not args.junit_xml or write_junit(
        args.junit_xml, junit_xml(report, command, rc, time.monotonic() - started)
    )
    if rc != 0:
        print(f"mocksrv run: command exited with status {rc}", file=sys.stderr)
        return rc
    return 0 if report["met"] and written else 1


class Sandbox:
    """What COMMAND runs against: `handle` (the admin API of the run's own server, or of the
    run's tenant on another), the variables COMMAND gets, and lines to print first."""

    def __init__(self, handle: Any, env: dict[str, str], where: str, notes: list[str]) -> None:
        self.handle, self.env, self.where, self.notes = handle, env, where, notes


def run_tenants(handle: Any, run_id: str) -> list[str]:
    """The tenants the run's pytest-xdist workers made (named after the run by the plugin)."""
    from mocksrv.toolkit.client import run_tenant_prefix

    prefix = run_tenant_prefix(run_id)
    return [t["id"] for t in handle.tenants() if str(t["name"]).startswith(prefix)]


def verify(handle: Any, run_id: str) -> dict[str, Any]:
    """The run's expectations: counted over its sandbox and every tenant its tests made there
    (each pytest-xdist worker's), so they count every test's requests."""
    from mocksrv.toolkit.expectations import combine

    reports = [handle.verify()]
    reports += [handle.for_tenant(t).verify() for t in run_tenants(handle, run_id)]
    return combine(reports)


def forget(handle: Any, run_id: str) -> None:
    """Delete the tenants the run's tests made (their state is not the run's to keep)."""
    from mocksrv.toolkit.client import AdminError

    with contextlib.suppress(AdminError, OSError):
        for tenant in run_tenants(handle, run_id):
            handle.delete_tenant(tenant)
    handle.close()


@contextlib.contextmanager
def _in_process(settings: Any) -> Iterator[Sandbox]:
    """The run's server on a thread of this process."""
    from mocksrv.launch import listen, load_app, rate_limit_lines
    from mocksrv.server import ServerThread
    from mocksrv.toolkit.client import Mocksrv

    app = load_app(settings)
    server = ServerThread(app, settings, listen(app, settings)).start()
    try:
        notes = [f"rate limit {line}" for line in rate_limit_lines(app.runtime)]
        handle = Mocksrv(server.url, settings.admin_token)
        yield Sandbox(handle, environment(app, server.url), f"serving on {server.url}", notes)
    finally:
        server.stop()


@contextlib.contextmanager
def _workers(settings: Any, workers: int) -> Iterator[Sandbox]:
    """`run --workers N`: N worker processes on a private (or the given) state; the
    expectations are verified through the admin API, on that shared state, so they count every
    worker's requests."""
    from mocksrv.errors import MocksrvError
    from mocksrv.launch import load_scenarios, rate_limit_lines
    from mocksrv.state.engine import StateError
    from mocksrv.supervisor import Supervisor
    from mocksrv.toolkit.client import Mocksrv

    supervisor = Supervisor(settings, load_scenarios(settings), workers)
    try:
        app = supervisor.prepare()
        supervisor.start()
    except (StateError, RuntimeError, OSError) as exc:
        supervisor.stop()
        raise MocksrvError(f"cannot start {workers} workers: {exc}") from None
    try:
        url = supervisor.urls()[0]
        notes = [f"rate limit {line}" for line in rate_limit_lines(app.runtime)]
        handle = Mocksrv(url, settings.admin_token)
        yield Sandbox(handle, environment(app, url), f"serving on {url}", notes)
    finally:
        supervisor.stop()


@contextlib.contextmanager
def _remote(settings: Any, url: str, run_id: str) -> Iterator[Sandbox]:
    """`run --server URL`: no server of its own; COMMAND runs in a tenant made for the run on
    the server at URL (on the run's --scenario files, checked here first, or on the scenarios
    that server runs), deleted at the end. Nothing else of that server is touched."""
    from mocksrv.registry import REGISTRY
    from mocksrv.toolkit.client import Mocksrv, run_tenant_name, sandbox_environment

    server = Mocksrv(url, settings.admin_token)
    fields: dict[str, Any] = {"name": run_tenant_name(run_id)}
    if settings.scenario_paths:
        fields.update(scenario=[], yaml=_overlay(settings))
    info = _made(server, fields)
    tenant = server.for_tenant(info["id"])
    try:
        env = sandbox_environment(
            server.url, info["identities"], admin_url=tenant.admin_url, tenant=info["id"],
            token=settings.admin_token, tools_api=tools_api(REGISTRY),
        )  # fmt: skip
        yield Sandbox(tenant, env, f"using {server.url}, tenant {info['id']}", [])
    finally:
        with contextlib.suppress(Exception):  # expired or gone with the server: nothing left
            server.delete_tenant(info["id"])
        server.close()


def _overlay(settings: Any) -> str:
    """The run's scenarios (checked here, problems as file:line) as one scenario's YAML: what
    they extend is in it already."""
    import yaml

    from mocksrv.errors import ScenarioError
    from mocksrv.launch import load_scenarios
    from mocksrv.registry import REGISTRY
    from mocksrv.scenario.loader import merge_scenarios

    scenarios = load_scenarios(settings)
    problems = REGISTRY.semantic_problems(scenarios)  # as the server would check them
    if problems:
        raise ScenarioError(problems)
    data = dict(merge_scenarios(scenarios).data)
    data.pop("extends", None)
    return str(yaml.safe_dump(data, sort_keys=False, allow_unicode=True))


def _made(server: Any, fields: dict[str, Any]) -> dict[str, Any]:
    """The run's tenant; one clear line (never a traceback) when it cannot be made."""
    import requests

    from mocksrv.errors import MocksrvError
    from mocksrv.toolkit.client import AdminError

    try:
        return dict(server.create_tenant(**fields))
    except requests.RequestException as exc:
        raise MocksrvError(
            f"cannot reach the server at {server.url} ({type(exc).__name__})"
        ) from None
    except AdminError as exc:
        hint = {
            401: "; give its admin token (--admin-token or MOCKSRV_ADMIN_TOKEN)",
            404: "; it offers no tenants (a mocksrv before tenants?)",
        }.get(exc.status, "")
        raise MocksrvError(f"cannot make a tenant on {server.url}: {exc}{hint}") from None


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
