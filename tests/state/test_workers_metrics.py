"""Metrics under `serve --workers 2`: a scrape is answered by whichever worker the kernel picks
(SO_REUSEPORT), so each one must count every worker's requests. Every request here opens a fresh
connection, so both workers serve some of them."""

from __future__ import annotations

import os
import re

import requests

from tests.support.cli import Serve
from tests.support.state import create, fresh, prime, replaced, worker_pids

VERIFY = re.compile(r'^mocksrv_requests_total\{api="prime",operation="verify",[^}]*\} (\d+)$', re.M)
VERIFY_SECONDS = re.compile(
    r'^mocksrv_request_duration_seconds_count\{api="prime",operation="verify"\} (\d+)$', re.M
)


def counted(url: str) -> tuple[int, int, float]:
    """Verifies counted by the worker that answers: the counter, the histogram's count and the
    dashboard chart's requests (its points are per second over 5-second steps)."""
    text = fresh(url, "/__admin/metrics").text
    chart = fresh(url, "/__admin/metrics/traffic").json()["apis"].get("prime", {})
    in_chart = sum(chart.get("requestsPerSecond", [])) * 5
    seconds = VERIFY_SECONDS.search(text)
    return sum(int(n) for n in VERIFY.findall(text)), int(seconds[1]) if seconds else 0, in_chart


def test_metrics_and_the_traffic_chart_count_every_workers_requests(tmp_path):
    srv = Serve("--state", str(tmp_path / "state.db"), "--workers", "2")
    try:
        for _ in range(40):
            assert prime(srv.url, "123456789", "verify", requests).status_code == 200
        assert create(srv.url, "MocksProdMetrics1").status_code == 200
        for _ in range(8):  # each scrape on a connection of its own: both workers answer some
            total, histogram, chart = counted(srv.url)
            assert (total, histogram) == (40, 40)
            assert abs(chart - 40) < 1e-6, chart
        # a worker killed: its counts stay (the sum never goes down); its successor adds on
        victim = worker_pids(srv.proc.pid)[0]
        os.kill(victim, 9)
        replaced(srv.proc.pid, srv.url, victim)
        for _ in range(10):
            assert prime(srv.url, "123456789", "verify", requests).status_code == 200
        for _ in range(8):
            total, histogram, chart = counted(srv.url)
            assert (total, histogram) == (50, 50)
            assert abs(chart - 50) < 1e-6, chart
    finally:
        srv.stop()


def test_a_restarted_server_counts_from_zero_on_the_same_state(tmp_path):
    """Counters of a run that ended are not carried into the next one (as a restarted process's
    counters start at zero), though the state keeps its cards."""
    state = str(tmp_path / "state.db")
    srv = Serve("--state", state, "--workers", "2")
    try:
        for _ in range(6):
            assert prime(srv.url, "123456789", "verify", requests).status_code == 200
        assert counted(srv.url)[:2] == (6, 6)
    finally:
        srv.stop()
    srv = Serve("--state", state, "--workers", "2")
    try:
        assert prime(srv.url, "123456789", "verify", requests).status_code == 200
        for _ in range(4):
            assert counted(srv.url)[:2] == (1, 1)
    finally:
        srv.stop()
