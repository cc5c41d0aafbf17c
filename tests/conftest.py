"""Shared fixtures: servers a test starts for itself, and a botocore signer (never mocksrv's).

Which server to use when is in tests/README.md: the pytest plugin's `mocksrv` fixtures first;
`server_factory` / `module_server_factory` when a test needs a server of its own (settings the
shared one lacks, its in-process state, or an in-process app via `.in_process(...)`).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

# pytester (tests/toolkit/test_plugin.py) drops from sys.modules what a test imported: imported
# here, the admin app's modules stay the same objects for the whole session, whatever the order
import mocksrv.toolkit.admin  # noqa: F401
from tests.support.server import Servers
from tests.support.signing import PRIME_KEY, PRIME_SECRET, Signer


@pytest.fixture
def server_factory() -> Iterator[Servers]:
    """`server_factory(scenarios, **settings)`: a real server; `.in_process(...)`: an app without
    a socket. Stopped after the test."""
    servers = Servers()
    yield servers
    servers.stop_all()


@pytest.fixture(scope="module")
def module_server_factory() -> Iterator[Servers]:
    """The same, stopped after the module: for a module-scoped fixture of servers its tests share."""
    servers = Servers()
    yield servers
    servers.stop_all()


@pytest.fixture
def prime_signer() -> Signer:
    return Signer(PRIME_KEY, PRIME_SECRET, "execute-api", "us-east-1")
