"""Shared fixtures: a real server on a free port and signers that use botocore, never mocksrv."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

# pytester (tests/test_plugin.py) drops from sys.modules what a test imported: imported here, the
# admin app's modules stay the same objects for the whole session, whatever the test order
import mocksrv.toolkit.admin  # noqa: F401
from mocksrv.app import create_app
from mocksrv.registry import load_files
from mocksrv.server import ServerThread
from mocksrv.settings import Settings
from tests.signing import Signer

ROOT = Path(__file__).resolve().parent.parent
SCENARIOS = ROOT / "scenarios"

PRIME_KEY = "AKIAMOCKSRVPRIME0001"
PRIME_SECRET = "MockSrvPrimeDemoSecretKey000000000000001"


def start_server(scenario_paths: list[str] | None = None, **settings: object) -> ServerThread:
    cfg = Settings(**{"host": "127.0.0.1", "port": 0, **settings})  # type: ignore[arg-type]
    scenarios = load_files(scenario_paths) if scenario_paths else None
    return ServerThread(create_app(cfg, scenarios), cfg).start()


@pytest.fixture(scope="session")
def default_server() -> Iterator[ServerThread]:
    srv = start_server()
    yield srv
    srv.stop()


@pytest.fixture
def server_factory() -> Iterator[object]:
    started: list[ServerThread] = []

    def make(scenario_paths: list[str] | None = None, **settings: object) -> ServerThread:
        srv = start_server(scenario_paths, **settings)
        started.append(srv)
        return srv

    yield make
    for srv in started:
        srv.stop()


@pytest.fixture
def prime_signer() -> Signer:
    return Signer(PRIME_KEY, PRIME_SECRET, "execute-api", "us-east-1")
