"""Shared fixtures: a real server on a free port and signers that use botocore, never mocksrv."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from mocksrv.server import ServerThread
from tests.support.server import start_server
from tests.support.signing import PRIME_KEY, PRIME_SECRET, Signer


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
