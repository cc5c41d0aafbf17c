"""Helpers of the shared-state tests: signed AGCOD and Prime calls, the mixed load a kill -9
lands in, and the audit that follows (funds, acknowledged cards, uploads, codes)."""

from __future__ import annotations

import contextlib
import json
import random
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests
from botocore.exceptions import ClientError

from tests.support.promotions import DEVO, NEW, file_name, s3_client, wait_report
from tests.support.signing import Signer

PROD = Signer(
    "AKIAMOCKSRVAGCOD0002", "MockSrvAgcodDemoSecretKey000000000000002", "AGCODService", "us-east-1"
)
PRIME = Signer(
    "AKIAMOCKSRVPRIME0001", "MockSrvPrimeDemoSecretKey000000000000001", "execute-api", "us-east-1"
)
JSON = {"content-type": "application/json", "accept": "application/json"}
START_FUNDS = Decimal("10000.00")  # MocksProd in the embedded default
PRIME_URL = "{}/v1/customer/benefit/{}/offer-code/{}/{}"
BENEFIT = "PRIME_3P_PARTNER_BENEFIT"


def create(url: str, rid: str, amount: str = "5", session: Any = requests) -> requests.Response:
    body = json.dumps(
        {
            "creationRequestId": rid,
            "partnerId": "MocksProd",
            "value": {"currencyCode": "USD", "amount": amount},
        }
    ).encode()
    headers = PROD.headers("POST", url + "/CreateGiftCard", JSON, body)
    return session.post(url + "/CreateGiftCard", data=body, headers=headers, timeout=30)


def cancel(url: str, rid: str, session: Any = requests) -> requests.Response:
    body = json.dumps({"creationRequestId": rid, "partnerId": "MocksProd"}).encode()
    headers = PROD.headers("POST", url + "/CancelGiftCard", JSON, body)
    return session.post(url + "/CancelGiftCard", data=body, headers=headers, timeout=30)


def prime(
    url: str, code: str, op: str, session: Any = requests, benefit: str = BENEFIT
) -> requests.Response:
    method = "GET" if op in ("verify", "auth-code") else "POST"
    full = PRIME_URL.format(url, benefit, code, op)
    headers = PRIME.headers(method, full, {"x-amz-marketplace": "US"}, b"")
    headers["x-amz-request-id"] = uuid.uuid4().hex
    return session.request(method, full, headers=headers, timeout=30)


def agcod_state(url: str) -> dict[str, Any]:
    return dict(requests.get(url + "/__admin/state/agcod", timeout=30).json())


def funds(url: str) -> Decimal:
    partners = agcod_state(url)["partners"]
    return Decimal(
        str(next(p for p in partners if p["partnerId"] == "MocksProd")["availableFunds"])
    )


def new_acked() -> dict[str, Any]:
    return {"cards": {}, "cancelled": set(), "uploads": {}, "claims": {}}


def mixed_load(url: str, n: int, stop: threading.Event, acked: dict[str, Any]) -> None:
    """AGCOD creates and cancels, Prime verifies, promo uploads and landing claims, until
    `stop` or the server goes; what was acknowledged is noted in `acked`."""
    rnd = random.Random(n)
    session = requests.Session()
    s3 = s3_client(url)
    i = 0
    while not stop.is_set():
        i += 1
        op = rnd.random()
        try:
            if op < 0.5:
                rid = f"MocksProdT{n:02d}x{i:05d}{uuid.uuid4().hex[:6]}"
                r = create(url, rid, rnd.choice(["1", "2.5", "10"]), session)
                if r.status_code == 200:
                    acked["cards"][rid] = r.json()["gcClaimCode"]
            elif op < 0.6 and acked["cards"]:
                rid = rnd.choice(list(acked["cards"]))
                if cancel(url, rid, session).status_code == 200:
                    acked["cancelled"].add(rid)
            elif op < 0.75:
                prime(url, "123456789", "verify", session)
            elif op < 0.85:
                member = f"m{n}-{i}"
                r = session.get(f"{url}/promotions/PROMO-0001/landing",
                                params={"member": member}, timeout=30)  # fmt: skip
                if r.status_code == 200:
                    acked["claims"][member] = r.json()["code"]
            else:
                key = NEW + file_name()
                body = f"T{n:02d}X{i:05d}{uuid.uuid4().hex[:6].upper()},new\n".encode()
                s3.put_object(Bucket=DEVO, Key=key, Body=body)
                acked["uploads"][key] = body
        except ClientError:
            continue  # an answer (a full disk's InternalError, say): nothing acknowledged
        except (requests.RequestException, OSError):
            return  # the server was killed under us
        except Exception:  # botocore's connection errors once the server is gone
            return


def audit(url: str, acked: dict[str, Any]) -> None:
    """After a crash and a restart: every acknowledged change is there exactly once."""
    snap = agcod_state(url)
    cards = {c["creationRequestId"]: c for c in snap["cards"]}
    for rid, claim in acked["cards"].items():  # each with the claim code it was acknowledged with
        assert cards[rid]["gcClaimCode"] == claim, rid
    for rid in acked["cancelled"]:
        assert cards[rid]["cardStatus"] == "RefundedToPurchaser", rid
    # funds = start - issued + refunded over every card the state holds (acknowledged or in
    # flight at the kill): no card without its debit, no debit without its card
    mine = [c for c in cards.values() if c["partnerId"] == "MocksProd"]
    issued = sum(Decimal(str(c["amount"])) for c in mine)
    refunded = sum(
        Decimal(str(c["amount"])) for c in mine if c["cardStatus"] == "RefundedToPurchaser"
    )
    assert funds(url) == START_FUNDS - issued + refunded
    for rid, claim in list(acked["cards"].items())[:5]:  # replays give the same claim code
        replay = create(url, rid, str(cards[rid]["amount"]))
        assert replay.json()["gcClaimCode"] == claim, rid
    # every acknowledged upload processed exactly once, with one report
    s3 = s3_client(url)
    for key in acked["uploads"]:
        report = wait_report(s3, key)
        assert report["rows"] == {"total": 1, "accepted": 1, "rejected": 0}, report
    promo = requests.get(url + "/__admin/state/promotions", timeout=30).json()
    files = [r["file"] for r in promo["reports"]]
    for key in acked["uploads"]:
        assert files.count(key.rsplit("/", 1)[1]) == 1, key
    # no code assigned twice; every acknowledged claim kept its code
    codes = list(acked["claims"].values())
    assert len(codes) == len(set(codes)), codes
    for member, code in acked["claims"].items():
        again = requests.get(f"{url}/promotions/PROMO-0001/landing", params={"member": member},
                             timeout=30).json()  # fmt: skip
        assert again["code"] == code and again["newlyAssigned"] is False, member


def fresh(url: str, path: str, **kw: Any) -> requests.Response:
    """A request on a connection of its own (no keep-alive pool: another worker may answer)."""
    with requests.Session() as s:
        return s.request(kw.pop("method", "GET"), url + path, timeout=30, **kw)


def worker_pids(pid: int) -> list[int]:
    """The child processes of `pid` (a `serve --workers` supervisor's workers)."""
    out: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        out += [int(c) for c in (task / "children").read_text().split()]
    return out


def replaced(supervisor: int, url: str, victim: int) -> None:
    """Until the supervisor started a worker in `victim`'s place and every request is answered
    again (the new worker listens within moments)."""
    deadline = time.monotonic() + 20
    while len(now := worker_pids(supervisor)) < 2 or victim in now:
        assert time.monotonic() < deadline, now
        time.sleep(0.1)
    deadline = time.monotonic() + 20
    while True:
        try:
            if all(fresh(url, "/__admin/health").ok for _ in range(10)):
                return
        except requests.ConnectionError:
            pass
        assert time.monotonic() < deadline
        time.sleep(0.2)


def together(n: int, fn: Callable[[int], Any]) -> list[Any]:
    """`fn(0)` ... `fn(n - 1)` on n threads started at once; their results (any order)."""
    results: list[Any] = []
    threads = [threading.Thread(target=lambda i=i: results.append(fn(i))) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    return results


@contextlib.contextmanager
def lock_held(state: Path, enter: tuple[str, ...] = ()) -> Iterator[None]:
    """The state's write lock (an flock on its lock file) held by another process, as another
    mocksrv process holds it for a commit; `enter`: the command prefix into the file's mount
    namespace (`SmallFS.enter`)."""
    holder = subprocess.Popen(
        [*enter, sys.executable, "-c", _HOLD, f"{state}.lock"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdin is not None and holder.stdout is not None
    try:
        assert holder.stdout.readline().strip() == "held"
        yield
    finally:
        holder.stdin.close()  # the holder exits: the lock is free
        holder.wait(10)
        holder.stdout.close()


_HOLD = (
    "import fcntl, sys\n"
    "f = open(sys.argv[1], 'r+b')\n"
    "fcntl.flock(f, fcntl.LOCK_EX)\n"
    "print('held', flush=True)\n"
    "sys.stdin.read()\n"
)


def in_one_turn(
    first: Callable[[], Any], calls: list[Callable[[], Any]], hold: Any
) -> tuple[Any, list[Any]]:
    """`first()` is sent and waits at the end of its turn of the server's loop for the lock
    `hold` holds; `calls` are all sent meanwhile (each on a connection of its own, unread), then
    the lock is let go: the server reads them in one turn. The answers to first and to calls."""
    answers: list[Any] = [None] * len(calls)
    head: list[Any] = []
    threads = [threading.Thread(target=lambda: head.append(first()))]
    threads += [
        threading.Thread(target=lambda i=i, c=c: answers.__setitem__(i, c()))
        for i, c in enumerate(calls)
    ]
    with hold:
        threads[0].start()
        time.sleep(0.3)  # the first call is read and waits for the lock
        for t in threads[1:]:
            t.start()
        time.sleep(0.7)  # every other call is in its socket
    for t in threads:
        t.join(60)
    return head[0], answers
