"""S3 PutObject/GetObject of 1 KiB through mocksrv vs bare moto, and a one-million-code promo file."""

from __future__ import annotations

import http.client
import json
import threading
import time
from datetime import UTC, datetime
from typing import Any

import sign
from http_bench import SETTLE, Opts
from load import run_load
from peers import launch
from procs import HOST, Server, free_port

BUCKET = "partner-promotions-devo"
OWN = "new-promo-codes/clientname=clientname/"
PUT_KEY = OWN + "bench/object-1k.bin"  # a key the client may write; its report is readable
REPORT_KEY = "processing-results/" + PUT_KEY + ".json"
PROMO_DIR = OWN + "marketplace=US/offertype=student-promo-deal/promotionid=PROMO-0001/"
BODY = (b"BENCH-1KIB-OBJECT," * 64)[:1024]
POLL = 0.05


def send(port: int, raw: bytes, timeout: float = 30) -> tuple[int, bytes]:
    """One raw request on a fresh connection; (status, body)."""
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.connect()
        assert conn.sock is not None
        conn.sock.sendall(raw)
        resp = http.client.HTTPResponse(conn.sock, method=raw.split(b" ", 1)[0].decode())
        resp.begin()
        return resp.status, resp.read()
    finally:
        conn.close()


def wait_for(port: int, raw: bytes, what: str, timeout: float) -> tuple[bytes, float]:
    """Poll a signed GET until 200; (body, seconds waited). Bounded by `timeout`."""
    t0 = time.perf_counter()
    status, body = 0, b""
    while time.perf_counter() - t0 < timeout:
        status, body = send(port, raw)
        if status == 200:
            return body, time.perf_counter() - t0
        time.sleep(POLL)
    raise RuntimeError(f"{what}: no 200 within {timeout:.0f} s (last {status} {body[:200]!r})")


def pipeline_idle(port: int, timeout: float = 120) -> float:
    """Wait until the promotions worker has nothing pending (admin state view); seconds waited."""
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        status, body = send(
            port, b"GET /__admin/state/promotions HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        )
        if status == 200 and json.loads(body).get("pending", 0) == 0:
            return time.perf_counter() - t0
        time.sleep(0.2)
    raise RuntimeError(f"promotions pipeline still busy after {timeout:.0f} s")


def s3_put_get(opts: Opts) -> dict[str, Any]:
    """PutObject (distinct keys) then GetObject, 16 connections, the same pre-signed requests
    replayed by wrk against mocksrv and then bare moto (which does not check signatures)."""
    out: dict[str, Any] = {}
    port = free_port()
    server, _ = launch("mocksrv", port)
    try:
        status, body = send(port, sign.s3_put(port, BUCKET, PUT_KEY, BODY))
        if status != 200:
            raise RuntimeError(f"mocksrv PutObject: {status} {body[:300]!r}")
        get = sign.s3_get(port, BUCKET, REPORT_KEY)
        report, _ = wait_for(port, get, "report of the bench object", 30)
        files = _sign_files(port, get, opts)
        out["mocksrv"] = _put_get_runs(server, port, files, opts, idle=pipeline_idle)
        out["object_bytes"] = {"put": len(BODY), "get": len(report)}
        out["distinct_put_keys"] = files["count"]
    finally:
        server.stop()
    port = free_port()
    server, _ = launch("moto", port)
    try:
        host = f"Host: {HOST}:{port}\r\nContent-Length: 0\r\n\r\n"
        status, body = send(port, f"PUT /{BUCKET} HTTP/1.1\r\n{host}".encode())
        if status != 200:
            raise RuntimeError(f"moto CreateBucket: {status} {body[:300]!r}")
        send(port, sign.s3_put(port, BUCKET, REPORT_KEY, report))  # what mocksrv's GET reads
        out["moto"] = _put_get_runs(server, port, files, opts, idle=None)
    finally:
        server.stop()
    return out


def _sign_files(port: int, get: bytes, opts: Opts) -> dict[str, Any]:
    """Distinct keys for every PUT (as partners upload distinct files; moto also races on
    concurrent overwrites of one key); signed for mocksrv, sent byte for byte to moto too."""
    count = max(2_000, int(1_000 * opts.seconds))
    warm = max(1_000, int(600 * opts.warmup))

    def puts(tag: str, n: int) -> list[bytes]:
        return [sign.s3_put(port, BUCKET, f"{OWN}bench/{tag}{i:06d}.bin", BODY) for i in range(n)]

    return {
        "put_warm": sign.write_requests(opts.tmp / "s3-put-warm.req", puts("w", warm)),
        "put": sign.write_requests(opts.tmp / "s3-put.req", puts("r", count)),
        "get": sign.write_requests(opts.tmp / "s3-get.req", [get]),
        "count": count,
    }


def _put_get_runs(
    server: Server, port: int, files: dict[str, Any], opts: Opts, idle: Any
) -> dict[str, Any]:
    res: dict[str, Any] = {}
    run_load(port, files["put_warm"], opts.warmup)
    if idle:
        idle(port)
    put = run_load(port, files["put"], opts.seconds)
    server.check_alive("the PutObject run")
    res["put"] = put.as_dict()
    res["put"]["keys_reused"] = put.requests > files["count"]
    if idle:  # mocksrv processes every upload (here: a layout rejection and a report)
        res["put"]["pipeline_drain_s"] = round(idle(port), 2)
    run_load(port, files["get"], opts.warmup)
    res["get"] = run_load(port, files["get"], opts.seconds).as_dict()
    server.check_alive("the GetObject run")
    time.sleep(SETTLE)
    res["rss_after_load_mib"] = round(server.rss_mib(), 1)
    return res


def promo_file(codes: int) -> bytes:
    return "".join(f"BENCH{i:09d},new\n" for i in range(codes)).encode()


def promo_million(opts: Opts, codes: int) -> dict[str, Any]:
    """Upload one file of `codes` new codes with boto3; time to its report; RSS while processing."""
    import boto3
    from botocore.config import Config

    data = promo_file(codes)
    stamp = datetime.now(UTC).strftime("%Y%m%d_%H%M")
    key = f"{PROMO_DIR}clientname_new_codes_{stamp}.csv"
    port = free_port()
    server, _ = launch("mocksrv", port)
    try:
        s3 = boto3.client(
            "s3", endpoint_url=f"http://{HOST}:{port}", region_name=sign.REGION,
            aws_access_key_id=sign.PROMO.access_key, aws_secret_access_key=sign.PROMO.secret_key,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )  # fmt: skip
        base = server.rss_mib()
        peak, stop = [base], threading.Event()

        def watch() -> None:
            while not stop.is_set():
                try:
                    peak[0] = max(peak[0], server.rss_mib())
                except OSError:
                    return
                stop.wait(0.02)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        t0 = time.perf_counter()
        s3.put_object(Bucket=BUCKET, Key=key, Body=data, ContentType="text/csv")
        uploaded = time.perf_counter() - t0
        report_raw = sign.s3_get(port, BUCKET, f"processing-results/{key}.json")
        body, _ = wait_for(port, report_raw, "promo report", 180)
        wall = time.perf_counter() - t0
        stop.set()
        watcher.join(2)
        report = json.loads(body)
        time.sleep(SETTLE)
        return {
            "codes": codes, "file_mib": round(len(data) / 2**20, 1),
            "status": report.get("status"), "rows": report.get("rows"),
            "duration_ms": report.get("durationMs"), "upload_s": round(uploaded, 2),
            "upload_to_report_s": round(wall, 2), "rss_before_mib": round(base, 1),
            "rss_peak_mib": round(max(peak[0], server.hwm_mib()), 1),
            "rss_after_mib": round(server.rss_mib(), 1),
        }  # fmt: skip
    finally:
        server.stop()
