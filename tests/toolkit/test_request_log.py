"""Issue 22: the request log of `mocksrv serve`, read from the real process's stderr.

One line per API request at `info` (text, or JSON with `--log-format json`); a signature failure
says what did not match and never a secret; `warning` silences the lines; an error inside mocksrv
keeps its traceback in the log and off the wire.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sqlite3

import pytest
import requests

from tests.support.agcod import ACCOUNTS, Client
from tests.support.cli import Serve
from tests.support.promotions import s3_client

SECRETS = [secret for _, secret, _, _ in ACCOUNTS.values()]


def exchanges(srv: Serve) -> dict[str, requests.Response]:
    """A signed success, a throttle, a wrong secret, an unsigned request and a skewed clock,
    against agcod-sandbox-realistic with its clock frozen (the throttle does not depend on time)."""
    r = requests.post(f"{srv.url}/__admin/clock/freeze", json={}, timeout=10)
    assert r.status_code == 200
    client = Client(srv, "Mocks")  # type: ignore[arg-type]
    sent = {"success": client.funds(), "throttle": client.funds()}
    sent["wrong"] = Client(srv, "MocksProd").funds(secret="not-the-secret")  # type: ignore[arg-type]
    sent["unsigned"] = requests.post(
        f"{srv.url}/GetAvailableFunds", data=b'{"partnerId": "Mocks"}',
        headers={"content-type": "application/json", "accept": "application/json"}, timeout=10,
    )  # fmt: skip
    early = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=20)
    sent["skew"] = Client(srv, "MocksProd").funds(at=early)  # type: ignore[arg-type]
    assert [r.status_code for r in sent.values()] == [200, 400, 403, 403, 403], [
        r.text for r in sent.values()
    ]
    return sent


def logged(fmt: str) -> tuple[dict[str, requests.Response], str]:
    srv = Serve("--scenario", "agcod-sandbox-realistic", "--log-format", fmt)
    try:
        sent = exchanges(srv)
    finally:
        err = srv.stop()
    return sent, err


def test_text_lines(tmp_path):
    sent, err = logged("text")
    lines = {}
    for name, r in sent.items():
        rid = r.headers["x-amzn-RequestId"]
        found = [ln for ln in err.splitlines() if f" request_id={rid}" in ln]
        assert len(found) == 1, (name, err)
        lines[name] = found[0]
    pattern = (
        r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO mocksrv\.requests: api=agcod "
        r"operation=GetAvailableFunds identity=(\S*) outcome=(\S+) status=(\d+) "
        r"latency_ms=[\d.]+ request_id=[0-9a-f-]{36}( method=POST path=/GetAvailableFunds)?"
        r"(?: signature=(\".*\"))?"
    )
    parsed = {name: re.fullmatch(pattern, line) for name, line in lines.items()}
    assert all(parsed.values()), lines
    groups = {name: m.groups() for name, m in parsed.items() if m}
    assert groups["success"] == ("agcod-sandbox", "SUCCESS", "200", None, None)  # no path
    where = " method=POST path=/GetAvailableFunds"  # errors carry the method and path
    assert groups["throttle"] == ("agcod-sandbox", "ThrottlingException", "400", where, None)
    ident, outcome, status, _, detail = groups["wrong"]
    assert (ident, outcome, status) == ("agcod-production", "signature:mismatch", "403")
    assert json.loads(detail).startswith("key AKIAMOCKSRVAGCOD0002 (agcod-production), scope ")
    assert groups["unsigned"] == (
        "",
        "signature:missing",
        "403",
        where,
        '"no Authorization header"',
    )
    ident, outcome, _, _, detail = groups["skew"]
    assert (ident, outcome) == ("agcod-production", "signature:skew")
    assert "Signature expired" in json.loads(detail)
    assert not [s for s in SECRETS if s in err]  # never a secret, signatures neither
    assert not [r.headers["Authorization"] for r in sent.values() if "Authorization" in r.request.headers
                and r.request.headers["Authorization"].split("Signature=")[-1] in err]  # fmt: skip


def test_json_lines():
    sent, err = logged("json")
    records = [json.loads(line) for line in err.splitlines() if line.strip()]
    assert records and all({"time", "level", "logger", "message"} <= set(r) for r in records)
    by_id = {r["requestId"]: r for r in records if r["logger"] == "mocksrv.requests"}
    got = {name: by_id[r.headers["x-amzn-RequestId"]] for name, r in sent.items()}
    assert got["success"]["identity"] == "agcod-sandbox" and got["success"]["status"] == 200
    assert got["success"]["outcome"] == "SUCCESS" and got["success"]["latencyMs"] > 0
    assert got["throttle"]["outcome"] == "ThrottlingException" and got["throttle"]["status"] == 400
    assert got["wrong"]["identity"] == "agcod-production"
    assert got["wrong"]["signature"].startswith("key AKIAMOCKSRVAGCOD0002 (agcod-production)")
    assert (
        "identity" not in got["unsigned"]
        and got["unsigned"]["signature"] == "no Authorization header"
    )
    assert "Signature expired" in got["skew"]["signature"]
    assert "path" not in got["success"] and got["throttle"]["path"] == "/GetAvailableFunds"
    for r in got.values():
        assert r["api"] == "agcod" and r["operation"] == "GetAvailableFunds"
        assert r["level"] == "INFO" and r["time"].endswith("Z")
    assert not [s for s in SECRETS if s in err]


@pytest.mark.parametrize("level", ["warning", "error"])
def test_warning_silences_the_request_lines(level):
    srv = Serve("--scenario", "agcod-sandbox-realistic", "--log-level", level)
    try:
        exchanges(srv)
    finally:
        err = srv.stop()
    assert " mocksrv.requests: " not in err and "request_id=" not in err, err
    if level == "warning":  # the throttle's own warning still shows
        assert "rejected GetAvailableFunds for access key AKIAMOCKSRVAGCOD0001" in err


def test_an_internal_error_keeps_its_traceback_in_the_log_and_off_the_wire(tmp_path):
    state = tmp_path / "state.db"
    srv = Serve("--state", str(state), "--log-format", "json")
    try:
        # a table of the state dropped under the server: committing the next object fails
        with sqlite3.connect(state) as db:
            db.execute("DROP TABLE promo_uploads")
        key = "new-promo-codes/clientname=clientname/marketplace=US/offertype=student-promo-deal/promotionid=PROMO-0001/x.csv"
        s3 = s3_client(srv.url)
        with pytest.raises(Exception) as failed:
            s3.put_object(Bucket="partner-promotions-devo", Key=key, Body=b"A,new\n")
        wire = failed.value.response  # type: ignore[attr-defined]
        assert wire["ResponseMetadata"]["HTTPStatusCode"] == 500
        raw = requests.get(f"{srv.url}/__admin/journal?status=500", timeout=10).json()["entries"]
        assert raw[0]["outcome"] == "InternalError"
    finally:
        err = srv.stop()
    records = [json.loads(line) for line in err.splitlines() if line.startswith("{")]
    errors = [r for r in records if r["level"] == "ERROR"]
    # the PutObject's commit failed; the upload processor's look at the queue (once a second)
    # may have hit the dropped table too, with its own line: every error has its traceback
    assert errors and all("no such table: promo_uploads" in r["traceback"] for r in errors), err
    assert any("_enqueue" in r["traceback"] for r in errors), err  # the request's own failure
    line = [r for r in records if r["logger"] == "mocksrv.requests" and r["status"] == 500]
    assert line and line[0]["outcome"] == "InternalError"
    assert "Traceback" not in str(wire) and "promo_uploads" not in str(wire)
