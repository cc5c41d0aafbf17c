"""Issue 10, D12: unauthenticated clients cannot grow the server's memory (caches and journal are
bounded by bytes). A `mocksrv serve` subprocess, its RSS read from /proc."""

from __future__ import annotations

import http.client
from datetime import UTC, datetime
from pathlib import Path

import requests

from tests.support.cli import Serve
from tests.support.signing import PRIME_KEY

REQUESTS = 1500
SEGMENT = "a" * 60_000  # a 60 KB path segment


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def fake_signed_headers(n: int) -> dict[str, str]:
    """A well-formed Authorization with the public access key and a made-up signature."""
    now = datetime.now(UTC)
    date, stamp = now.strftime("%Y%m%d"), now.strftime("%Y%m%dT%H%M%SZ")
    return {
        "Authorization": (
            f"AWS4-HMAC-SHA256 Credential={PRIME_KEY}/{date}/us-east-1/execute-api/aws4_request, "
            f"SignedHeaders=host;x-amz-date, Signature={n:064x}"
        ),
        "X-Amz-Date": stamp,
        "x-amz-marketplace": "US",
        "x-amz-request-id": "r",
    }


def test_long_paths_with_fake_signatures_do_not_grow_memory():
    srv = Serve()
    try:
        url = srv.url
        conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=30)
        statuses = set()

        def burst(start: int, count: int) -> None:
            for n in range(start, start + count):
                path = f"/v1/customer/benefit/{SEGMENT}{n}/offer-code/x/verify"
                conn.request("GET", path, headers=fake_signed_headers(n))
                resp = conn.getresponse()
                resp.read()
                statuses.add(resp.status)

        burst(0, 200)  # warm up: imports, first allocations
        before = rss_mib(srv.proc.pid)
        burst(200, REQUESTS)
        grown = rss_mib(srv.proc.pid) - before
        conn.close()
        journal = requests.get(f"{url}/__admin/journal", params={"limit": 1}, timeout=10).json()
    finally:
        err = srv.stop()
    # the signature check ran (403) or a strict HTTP layer refused the long line (414): either way
    assert statuses <= {403, 414}, statuses
    assert grown < 40, f"RSS grew {grown:.0f} MiB over {REQUESTS} requests of 60 KB paths"
    assert journal["bytes"] <= journal["maxBytes"]
    if journal["entries"]:
        assert journal["entries"][0]["path"].endswith("characters cut]")
    assert "Traceback" not in err
