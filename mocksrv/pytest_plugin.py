"""pytest plugin (entry point `pytest11`): a mocksrv sandbox per session (a server of its own, a
tenant of its own on a server it did not start, or the sandbox of the `mocksrv run` it runs
under), reset before each test.

Inert unless a test uses one of its fixtures: nothing starts and nothing heavy is imported before.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

MARKER = "mocksrv_scenario"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mocksrv", "mocksrv sandbox server")
    group.addoption(
        "--mocksrv-scenario",
        action="append",
        default=[],
        metavar="FILE|DIR",
        help="scenario file(s) for the session's mocksrv (default: the embedded default)",
    )
    group.addoption(
        "--mocksrv-url",
        default=None,
        help="use an already running mocksrv at this URL instead of starting one (default: "
        "$MOCKSRV_URL, which `mocksrv run` sets)",
    )
    parser.addini("mocksrv_scenario", "scenario file(s) for the session's mocksrv", type="linelist")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}(*paths): run this test against these scenario files instead"
    )


class _Session:
    """The session's sandbox and the scenarios currently loaded on it.

    Standalone, the plugin starts its own server and resets it whole before each test. Given a
    server it did not start (`--mocksrv-url`, `MOCKSRV_URL`), it makes a tenant of its own there
    (one per pytest-xdist worker), resets only that tenant and deletes it at the end; the
    tenant's keys sign the fixtures' clients and are put in the environment for child processes.
    Under `mocksrv run` (which names itself in `MOCKSRV_RUN`) the run's sandbox is this
    session's, and the run's expectations count every test's requests: a single process uses the
    run's sandbox itself, each xdist worker a tenant the run verifies and deletes at its end;
    resets keep the journal then, and each test sees only its own requests in the journal and in
    expectations it adds (a journal scope per test).
    """

    def __init__(self, config: pytest.Config, temp_root: Path | None = None) -> None:
        self.root = Path(str(config.rootpath))
        paths = list(config.getoption("--mocksrv-scenario") or config.getini("mocksrv_scenario"))
        self.base = [self._resolve(p) for p in paths]
        self.server: Any = None
        self.made: str | None = None  # the tenant this session made
        self.saved_env: dict[str, str | None] = {}
        url = config.getoption("--mocksrv-url") or os.environ.get("MOCKSRV_URL") or None
        self.attached = url is not None
        self.in_run = bool(url and os.environ.get("MOCKSRV_RUN") and _same(url))
        if url is None:
            url = self._start(temp_root)
        from mocksrv.toolkit.client import Mocksrv

        run_tenant = os.environ.get("MOCKSRV_TENANT", "") if self.in_run else ""
        self.handle = Mocksrv(url, tenant=run_tenant)
        self.handle.own_expectations_only = self.attached
        worker = _worker(config)
        if self.attached and not (self.in_run and worker is None):
            self.handle = self._tenant(worker or "main", like=run_tenant)
        self.original: list[str] = self._attach(url) if self.attached else self.base
        self.loaded = self.original
        if not self.base:
            self.base = self.original
        self.active = list(self.handle.active())  # what the server runs after the plugin's loads

    def _tenant(self, worker: str, like: str) -> Any:
        """A tenant of this session's own on the server (on the scenarios of the run's sandbox
        under `mocksrv run`, else on the server's), its keys in the environment."""
        import requests

        from mocksrv.toolkit.client import AdminError, run_tenant_name

        server = self.handle
        if self.in_run:
            name = run_tenant_name(os.environ["MOCKSRV_RUN"], worker)
        else:
            name = f"pytest {worker} pid {os.getpid()}"
        # on the session's scenarios when it names some (a tenant may not switch to a scenario
        # with identities it was not made with), else on the sandbox's
        shape: dict[str, Any] = {"scenario": self.base} if self.base else {"like": like}
        try:
            info = server.create_tenant(name=name, **shape)
        except requests.RequestException as exc:
            reason = type(exc).__name__
            pytest.exit(f"mocksrv: cannot reach the server at {server.url} ({reason})", 4)
        except AdminError as exc:
            hint = " (a mocksrv without tenants: update it)" if exc.status == 404 else ""
            pytest.exit(f"mocksrv: cannot make a tenant on {server.url}: {exc}{hint}", 4)
        self.made = info["id"]
        handle = server.for_tenant(info["id"])
        handle.own_expectations_only = True  # the scenario's count the session
        server.close()
        self._export(handle)
        return handle

    def _export(self, handle: Any) -> None:
        """The tenant's variables (as `mocksrv run` names them) for the tests' child processes,
        until the session ends."""
        from mocksrv.registry import REGISTRY
        from mocksrv.run import tools_api

        env = handle.environment(tools_api(REGISTRY))
        env["MOCKSRV_URL"] = handle.url
        self.saved_env = {k: os.environ.get(k) for k in env}
        os.environ.update(env)

    def _attach(self, url: str) -> list[str]:
        """The running server's scenarios; one clear message if it cannot be reached."""
        import requests

        try:
            return list(self.handle.active())
        except requests.RequestException as exc:
            reason = type(exc).__name__
            pytest.exit(f"mocksrv: cannot reach the server at {url} ({reason})", returncode=4)

    def _start(self, temp_root: Path | None) -> str:
        from mocksrv.app import create_app
        from mocksrv.errors import ScenarioError
        from mocksrv.registry import load_files
        from mocksrv.scenario.library import resolve
        from mocksrv.server import ServerThread
        from mocksrv.settings import Settings

        # the admin API loads scenario files from the rootdir, pytest's temp directories and
        # the directories of the session's scenario files (markers switch between them)
        roots = [str(self.root), *([str(temp_root)] if temp_root else [])]
        roots += sorted(
            {str(Path(resolve(p)).parent) for p in self.base if Path(resolve(p)).is_file()}
        )
        settings = Settings(
            host="127.0.0.1", port=0, scenario_paths=self.base, scenario_roots=roots
        )
        try:
            app = create_app(settings, load_files(self.base) if self.base else None)
        except ScenarioError as exc:
            lines = "\n  ".join(exc.problems)
            pytest.exit(f"mocksrv: invalid scenario:\n  {lines}", returncode=4)
        self.server = ServerThread(app, settings).start()
        return str(self.server.url)

    def _resolve(self, path: str) -> str:
        from mocksrv.scenario.library import is_name

        p = Path(path)
        if p.is_absolute():
            return path
        if not (self.root / p).exists() and is_name(path):
            return path  # a bundled scenario, by name
        return str(self.root / p)

    def _load(self, paths: list[str]) -> None:
        embedded = len(paths) == 1 and paths[0].startswith("<embedded>")
        self.handle.load(None if embedded else paths or None, keep_journal=self.attached)
        self.loaded = paths
        self.active = list(self.handle.active())

    def prepare(self, wanted: list[str] | None) -> Any:
        """Reset before a test; switch scenarios when the test asks for others than loaded."""
        from mocksrv.toolkit.client import AdminError

        paths = [self._resolve(p) for p in wanted] if wanted is not None else self.base
        self.handle.close_clients()
        try:
            # a test may have switched scenarios through the admin API itself: the next test
            # still gets its own (or the session's) scenarios, never the leftovers
            if paths != self.loaded or self.handle.active() != self.active:
                self._load(paths)
            else:
                self.handle.reset(keep_journal=self.attached)
        except AdminError as exc:
            pytest.fail(f"mocksrv: {exc}", pytrace=False)
        return self.handle

    def stop(self) -> None:
        from mocksrv.toolkit.client import AdminError

        try:
            if self.in_run:  # the run verifies its scenario's expectations, not the last test's
                if self.loaded != self.original:
                    self._load(self.original)
                else:
                    self.handle.reset(keep_journal=True)
            elif self.made is not None:  # a server this session did not start: its tenant goes
                self.handle.delete_tenant(self.made)
        except AdminError:
            pass  # expired, or deleted by someone else: nothing of ours is left
        finally:
            for key, value in self.saved_env.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value
            self.handle.close()
            if self.server is not None:
                self.server.stop()


def _same(url: str) -> bool:
    """`url` is the one `mocksrv run` gave (its sandbox), not another server."""
    return url.rstrip("/") == os.environ.get("MOCKSRV_URL", "").rstrip("/")


def _worker(config: pytest.Config) -> str | None:
    """The pytest-xdist worker this process is (gw0, gw1, ...), or None."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is not None:
        return str(workerinput.get("workerid", "gw"))
    return os.environ.get("PYTEST_XDIST_WORKER") or None


@pytest.fixture(scope="session")
def mocksrv_session(request: pytest.FixtureRequest) -> Iterator[_Session]:
    """The session-wide server; prefer the function-scoped `mocksrv` fixture in tests."""
    temp_root = request.getfixturevalue("tmp_path_factory").getbasetemp()
    session = _Session(request.config, temp_root)
    yield session
    session.stop()


@pytest.fixture
def mocksrv(mocksrv_session: _Session, request: pytest.FixtureRequest) -> Any:
    """A freshly reset mocksrv handle (`mocksrv.toolkit.client.Mocksrv`)."""
    marker = request.node.get_closest_marker(MARKER)
    return mocksrv_session.prepare(list(marker.args) if marker else None)


@pytest.fixture
def mocksrv_url(mocksrv: Any) -> str:
    """The endpoint URL (also the AWS endpoint URL for boto3)."""
    return str(mocksrv.url)


@pytest.fixture
def mocksrv_credentials(mocksrv: Any) -> dict[str, dict[str, Any]]:
    """Scenario identities by name, and the first one of each API by API name."""
    out: dict[str, dict[str, Any]] = {}
    for ident in mocksrv.identities():
        out.setdefault(ident["api"], ident)
        out[ident["name"]] = ident
    return out


@pytest.fixture
def mocksrv_clock(mocksrv: Any) -> Any:
    """The scenario clock: now(), set(instant, frozen=), advance(seconds=..), freeze(), unfreeze()."""
    return mocksrv.clock


@pytest.fixture
def mocksrv_journal(mocksrv: Any) -> Any:
    """A callable: `mocksrv_journal(api="prime", operation="verify")` lists entries, newest first."""
    return mocksrv.journal


@pytest.fixture
def mocksrv_prime(mocksrv: Any) -> Iterator[Any]:
    """A Prime offer-code client signed by botocore as the scenario's first prime identity."""
    client = mocksrv.prime()
    yield client
    client.close()


@pytest.fixture
def mocksrv_agcod(mocksrv: Any) -> Iterator[Any]:
    """An AGCOD client signed by botocore as the scenario's first agcod identity."""
    client = mocksrv.agcod()
    yield client
    client.close()


@pytest.fixture
def mocksrv_s3(mocksrv: Any) -> Any:
    """A boto3 S3 client on mocksrv as the scenario's first promotions identity."""
    return mocksrv.s3()


@pytest.fixture
def mocksrv_env(mocksrv: Any) -> dict[str, str]:
    """The variables `mocksrv run` gives a command, for this session's sandbox (its tenant's
    keys when it has one): `subprocess.run(cmd, env={**os.environ, **mocksrv_env})`."""
    from mocksrv.registry import REGISTRY
    from mocksrv.run import tools_api

    return dict(mocksrv.environment(tools_api(REGISTRY)))
