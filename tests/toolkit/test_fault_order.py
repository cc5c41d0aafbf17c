"""The order faults are tried in: priority, then run-time faults (newest first), then the
scenario's in list order; a broad scenario fault no longer hides a fault added at run time."""

from __future__ import annotations

import pytest

from mocksrv.toolkit.client import Mocksrv
from tests.support.paths import DATA, SCENARIOS

# the default with one scenario fault that matches every request (id everything-slow, 1 ms)
pytestmark = pytest.mark.mocksrv_scenario(
    str(SCENARIOS / "default.yaml"), str(DATA / "wide-latency.yaml")
)


@pytest.fixture
def srv(mocksrv):
    """The plugin's session server on that scenario, reset before each test."""
    return mocksrv


def by_id(handle: Mocksrv) -> dict[str, dict]:
    return {f["id"]: f for f in handle.admin("GET", "/faults")["faults"]}


def test_run_time_fault_fires_despite_a_scenario_wide_latency(srv):
    srv.fault(match={"api": "prime", "operation": "verify"}, error="ServiceUnavailable")
    r = srv.prime().verify("123456789")
    assert r.status_code == 503, r.text
    faults = by_id(srv)
    assert (faults["admin-1"]["seen"], faults["admin-1"]["fired"]) == (1, 1)
    assert faults["everything-slow"]["seen"] == 0  # one fault per call: the first that fires


def test_newest_run_time_fault_first(srv):
    srv.fault(id="older", match={"api": "prime"}, error="InternalServerError")
    srv.fault(id="newer", match={"api": "prime"}, error="ServiceUnavailable")
    assert srv.prime().verify("123456789").status_code == 503
    assert [f["id"] for f in srv.admin("GET", "/faults")["faults"]] == [
        "newer", "older", "everything-slow",
    ]  # fmt: skip


def test_explicit_priority_wins(srv):
    srv.fault(id="probe", match={"api": "prime"}, error="ServiceUnavailable")
    srv.fault(id="urgent", match={"api": "prime"}, error="InternalServerError", priority=5)
    assert srv.prime().verify("123456789").status_code == 500
    assert by_id(srv)["probe"]["seen"] == 0


def test_priority_must_be_an_integer(srv):
    with pytest.raises(AssertionError, match="priority"):
        srv.fault(match={"api": "prime"}, error="ServiceUnavailable", priority="high")
