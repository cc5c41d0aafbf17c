"""Correctness under load: concurrent signed clients mixing every operation, then a state audit."""

from __future__ import annotations

import http.client
import json
import random
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sign
from peers import launch
from procs import HOST, free_port
from s3_bench import BUCKET, OWN, pipeline_idle, send

START_FUNDS = Decimal("1000000.00")  # MocksProd in bench/scenario.yaml
RACE_IDS = 12  # creationRequestIds every thread also creates (same amount): one card each
RACE_AMOUNT = Decimal(5)
PRIME = "/v1/customer/benefit/" + sign.BENEFIT + "/offer-code/"
WEIGHTS = {
    "verify": 20, "redeem": 10, "redeem_daily": 4, "create": 20, "create_race": 8,
    "cancel": 10, "cancel_again": 3, "funds": 5, "s3_put": 6, "s3_get": 4,
}  # fmt: skip


@dataclass
class Tally:
    """What the clients saw; merged across threads under `lock`."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    ops: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)
    issued: dict[str, tuple[str, Decimal]] = field(default_factory=dict)  # id -> (gcId, amount)
    race_seen: dict[str, set[str]] = field(default_factory=dict)  # id -> gcIds answered
    refunded: set[str] = field(default_factory=set)
    redeem_ok: Counter[str] = field(default_factory=Counter)
    puts: set[str] = field(default_factory=set)

    def error(self, text: str) -> None:
        with self.lock:
            if len(self.errors) < 50:
                self.errors.append(text)
            self.ops["error"] += 1


class Client:
    """One signed client thread with its own keep-alive connection."""

    def __init__(self, port: int, n: int, tally: Tally, seed: int) -> None:
        self.port, self.n, self.tally = port, n, tally
        self.rng = random.Random(seed)
        self.index = seed
        self.conn = http.client.HTTPConnection(HOST, port, timeout=30)
        self.mine: list[str] = []  # own created ids, cancellable
        self.seq = 0

    def call(self, method: str, path: str, headers: dict[str, str], body: bytes = b"") -> tuple[int, bytes]:  # fmt: skip
        for attempt in (1, 2):
            try:
                self.conn.request(method, path, body=body or None, headers=headers)
                resp = self.conn.getresponse()
                return resp.status, resp.read()
            except (http.client.HTTPException, OSError):
                self.conn.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def agcod(self, op: str, fields: dict[str, Any]) -> tuple[int, Any]:
        body = json.dumps({"partnerId": "MocksProd", **fields}, default=str).encode()
        headers = sign.agcod_headers(self.port, op, body, sign.AGCOD_PROD)
        status, data = self.call("POST", f"/{op}", headers, body)
        return status, json.loads(data, parse_float=Decimal) if data else {}

    def run(self, deadline: float, timed: bool = False) -> None:
        """`n` operations before `deadline`; `timed`: as many as fit before the deadline."""
        ops, weights = zip(*WEIGHTS.items(), strict=True)
        for _ in range(self.n):
            if time.monotonic() > deadline:
                if not timed:
                    self.tally.error("deadline reached before all operations ran")
                return
            op = self.rng.choices(ops, weights)[0]
            try:
                getattr(self, "op_" + op)()
            except Exception as exc:  # recorded: the audit fails on any error
                self.tally.error(f"{op}: {exc!r}")
            with self.tally.lock:
                self.tally.ops[op] += 1

    # -- operations -------------------------------------------------------------------------

    def _prime(self, method: str, code: str, action: str) -> str:
        path = f"{PRIME}{code}/{action}"
        status, data = self.call(method, path, sign.prime_headers(self.port, path, method))
        if status != 200:
            raise RuntimeError(f"{action} {code}: {status} {data[:200]!r}")
        return str(json.loads(data)["message"])

    def op_verify(self) -> None:
        if (msg := self._prime("GET", "123456789", "verify")) != "SUCCESS":
            raise RuntimeError(f"verify answered {msg}")

    def op_redeem(self) -> None:
        if (msg := self._prime("POST", "123456789", "redeem")) != "SUCCESS":
            raise RuntimeError(f"redeem answered {msg}")
        with self.tally.lock:
            self.tally.redeem_ok["123456789"] += 1

    def op_redeem_daily(self) -> None:
        msg = self._prime("POST", "444444444", "redeem")
        if msg == "SUCCESS":
            with self.tally.lock:
                self.tally.redeem_ok["444444444"] += 1
        elif msg != "FAILURE:DENIED:EXCEEDED_USAGE_LIMIT":
            raise RuntimeError(f"daily redeem answered {msg}")

    def op_create(self) -> None:
        self.seq += 1
        rid = f"MocksProdT{self.index:02d}N{self.seq:05d}"
        amount = Decimal(self.rng.randint(1, 40))
        status, data = self.agcod("CreateGiftCard", {"creationRequestId": rid, "value": {"currencyCode": "USD", "amount": amount}})  # fmt: skip
        if status != 200:
            raise RuntimeError(f"create {rid}: {status} {data}")
        with self.tally.lock:
            self.tally.issued[rid] = (data["gcId"], amount)
        self.mine.append(rid)

    def op_create_race(self) -> None:
        rid = f"MocksProdRace{self.rng.randrange(RACE_IDS):03d}"
        value = {"currencyCode": "USD", "amount": RACE_AMOUNT}
        status, data = self.agcod("CreateGiftCard", {"creationRequestId": rid, "value": value})
        if status != 200:
            raise RuntimeError(f"race create {rid}: {status} {data}")
        with self.tally.lock:
            self.tally.race_seen.setdefault(rid, set()).add(data["gcId"])
            self.tally.issued.setdefault(rid, (data["gcId"], RACE_AMOUNT))

    def op_cancel(self, again: bool = False) -> None:
        with self.tally.lock:
            pool = sorted(self.tally.refunded & set(self.mine)) if again else [
                r for r in self.mine if r not in self.tally.refunded
            ]  # fmt: skip
        if not pool:
            return self.op_create()
        rid = self.rng.choice(pool)
        gc_id = self.tally.issued[rid][0]
        status, data = self.agcod("CancelGiftCard", {"creationRequestId": rid, "gcId": gc_id})
        if status != 200:
            raise RuntimeError(f"cancel {rid}: {status} {data}")
        with self.tally.lock:
            self.tally.refunded.add(rid)
        return None

    def op_cancel_again(self) -> None:
        self.op_cancel(again=True)

    def op_funds(self) -> None:
        status, data = self.agcod("GetAvailableFunds", {})
        if status != 200 or data["availableFunds"]["currencyCode"] != "USD":
            raise RuntimeError(f"funds: {status} {data}")

    def op_s3_put(self) -> None:
        self.seq += 1
        key = f"{OWN}mixed/t{self.index:02d}-{self.seq:05d}.txt"
        status, data = send(self.port, sign.s3_put(self.port, BUCKET, key, b"MIXED,new\n" * 16))
        if status != 200:
            raise RuntimeError(f"s3 put: {status} {data[:200]!r}")
        with self.tally.lock:
            self.tally.puts.add(key)

    def op_s3_get(self) -> None:
        with self.tally.lock:
            done = sorted(self.tally.puts)
        if not done:
            return self.op_s3_put()
        key = "processing-results/" + self.rng.choice(done) + ".json"
        status, data = send(self.port, sign.s3_get(self.port, BUCKET, key))
        if status not in (200, 404):  # 404: the pipeline has not written that report yet
            raise RuntimeError(f"s3 get: {status} {data[:200]!r}")
        return None


def correctness(
    threads: int = 16, ops_per_thread: int = 250, limit_s: float = 90
) -> dict[str, Any]:
    port = free_port()
    server, _ = launch("mocksrv", port)
    tally = Tally()
    try:
        before = _admin(port, "prime")  # the readiness probe already made one verify call
        tally.ops["verify_before"] = sum(
            c["calls"].get("verify", 0) for c in before["offerCodes"] if c["code"] == "123456789"
        )
        clients = [Client(port, ops_per_thread, tally, seed=k) for k in range(threads)]
        deadline = time.monotonic() + limit_s
        t0 = time.perf_counter()
        workers = [threading.Thread(target=c.run, args=(deadline,), daemon=True) for c in clients]
        for w in workers:
            w.start()
        for w in workers:
            w.join(limit_s + 30)
        elapsed = time.perf_counter() - t0
        pipeline_idle(port)
        checks = audit(port, tally, clients[0])
    finally:
        server.stop()
    ok = not tally.errors and all(c["ok"] for c in checks)
    ops = {k: v for k, v in sorted(tally.ops.items()) if k != "verify_before"}
    return {
        "ok": ok, "threads": threads, "operations": ops,
        "seconds": round(elapsed, 2), "checks": checks, "errors": tally.errors[:20],
    }  # fmt: skip


def audit(port: int, tally: Tally, client: Client) -> list[dict[str, Any]]:
    """Compare what the clients saw with the API (funds) and the admin state views."""
    checks: list[dict[str, Any]] = []

    def check(name: str, ok: bool, detail: str) -> None:
        checks.append({"check": name, "ok": bool(ok), "detail": detail})

    issued = sum(a for _, a in tally.issued.values())
    refunded = sum(tally.issued[r][1] for r in tally.refunded)
    expected = START_FUNDS - issued + refunded
    status, data = client.agcod("GetAvailableFunds", {})
    funds = data.get("availableFunds", {}).get("amount") if status == 200 else None
    check("funds = start - issued + refunded (API)", funds is not None and Decimal(str(funds)) == expected,
          f"API {funds}, expected {expected} = {START_FUNDS} - {issued} + {refunded}")  # fmt: skip
    agcod = _admin(port, "agcod")
    cards = [c for c in agcod["cards"] if c["partnerId"] == "MocksProd"]
    ids = Counter(c["creationRequestId"] for c in cards)
    dup = [r for r, n in ids.items() if n > 1]
    check("no duplicate cards per creationRequestId", not dup, f"{len(cards)} cards, duplicates {dup[:5]}")  # fmt: skip
    check("one card per id the clients created", set(ids) == set(tally.issued),
          f"state {len(ids)} ids, clients {len(tally.issued)}")  # fmt: skip
    split = {r: g for r, g in tally.race_seen.items() if len(g) != 1}
    check("racing creates of one id answer one gcId", not split,
          f"{len(tally.race_seen)} raced ids, split {list(split)[:5]}")  # fmt: skip
    prod = next(p for p in agcod["partners"] if p["partnerId"] == "MocksProd")
    check("admin funds view agrees", Decimal(str(prod["availableFunds"])) == expected,
          f"admin {prod['availableFunds']}, expected {expected}")  # fmt: skip
    refunded_state = {c["creationRequestId"] for c in cards if c["cardStatus"] == "RefundedToPurchaser"}  # fmt: skip
    check("refunded cards = cancelled ids", refunded_state == tally.refunded,
          f"state {len(refunded_state)}, clients {len(tally.refunded)}")  # fmt: skip
    _prime_checks(port, tally, check)
    reports = _admin(port, "promotions").get("reports", [])
    per_key = Counter(r["key"] for r in reports)
    missing = tally.puts - set(per_key)
    if len(reports) >= 500:  # the admin view keeps the newest 500 reports only
        missing = set()
    twice = [k for k in tally.puts if per_key[k] > 1]
    check("every S3 upload processed exactly once", not missing and not twice,
          f"{len(tally.puts)} uploads, {len(reports)} reports, missing {len(missing)}, "
          f"processed twice {len(twice)}")  # fmt: skip
    return checks


def _prime_checks(port: int, tally: Tally, check: Any) -> None:
    prime = _admin(port, "prime")
    codes = {c["code"]: c for c in prime["offerCodes"]}
    ok_uses = len(codes["123456789"]["redemptions"])
    check("use count exact (unlimited code)", ok_uses == tally.redeem_ok["123456789"],
          f"state {ok_uses} uses, clients saw {tally.redeem_ok['123456789']} SUCCESS")  # fmt: skip
    daily = len(codes["444444444"]["redemptions"])
    check("daily-limit code used exactly once", daily == 1 == tally.redeem_ok["444444444"],
          f"state {daily} uses, clients saw {tally.redeem_ok['444444444']} SUCCESS "
          f"of {tally.ops['redeem_daily']} racing redeems")  # fmt: skip
    calls = codes["123456789"]["calls"]
    sent = tally.ops["verify"] + tally.ops["verify_before"]
    check("verify call count exact", calls.get("verify", 0) == sent,
          f"state {calls.get('verify', 0)}, clients {sent} (incl. readiness probe)")  # fmt: skip


def _admin(port: int, api: str) -> dict[str, Any]:
    status, body = send(
        port, f"GET /__admin/state/{api} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
    )
    if status != 200:
        raise RuntimeError(f"admin state {api}: {status} {body[:200]!r}")
    return dict(json.loads(body))
