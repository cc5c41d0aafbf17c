"""The soak's attackers and probe, in their own process (bench/soak.py starts it on the load core).

Usage: python bench/soak_clients.py PORT QUIET SECONDS IDLE SLOW
Holds IDLE connections that never send a byte and SLOW slowloris connections (a request head begun,
then one more header byte every 0.5 s; each one the server cuts off is replaced at once), and
every 0.1 s times one signed verify on a new connection, for QUIET seconds alone, then SECONDS
more while bench/soak.py runs its mixed load. Prints READY, then one JSON line.
"""

from __future__ import annotations

import http.client
import json
import resource
import socket
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import sign  # noqa: E402

HOST = "127.0.0.1"
PROBE_PATH = "/v1/customer/benefit/" + sign.BENEFIT + "/offer-code/444444444/verify"
SLOW_HEAD = b"GET /__admin/health HTTP/1.1\r\nHost: x\r\nX-Slow: "


def raise_limit(needed: int) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise SystemExit(f"RLIMIT_NOFILE hard limit {hard} < {needed} sockets needed")
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (needed, hard))


def slow_conn(port: int) -> socket.socket:
    s = socket.create_connection((HOST, port), timeout=10)
    s.sendall(SLOW_HEAD)
    s.setblocking(False)
    return s


class Attack:
    def __init__(self, port: int, idle: int, slow: int) -> None:
        self.port = port
        self.idle = [socket.create_connection((HOST, port), timeout=10) for _ in range(idle)]
        self.slow = [slow_conn(port) for _ in range(slow)]
        self.cut = {"408": 0, "closed": 0, "other": 0}
        self.stop = threading.Event()

    def drip(self) -> None:
        while not self.stop.wait(0.5):
            for k, s in enumerate(self.slow):
                try:
                    answer = s.recv(4096)
                except BlockingIOError:
                    answer = None
                except OSError:
                    answer = b""
                if answer is None:
                    try:
                        s.send(b"a")
                        continue
                    except OSError:
                        answer = b""
                kind = (
                    "408"
                    if answer.startswith(b"HTTP/1.1 408")
                    else ("closed" if not answer else "other")
                )
                self.cut[kind] += 1
                s.close()
                self.slow[k] = slow_conn(self.port)

    def idle_still_open(self) -> int:
        open_ = 0
        for s in self.idle:
            s.setblocking(False)
            try:
                if s.recv(1):
                    continue
            except BlockingIOError:
                open_ += 1
            except OSError:
                continue
        return open_


def probe(port: int, headers: dict[str, str]) -> float | None:
    t0 = time.perf_counter()
    conn = http.client.HTTPConnection(HOST, port, timeout=10)
    try:
        conn.request("GET", PROBE_PATH, headers=headers)
        resp = conn.getresponse()
        resp.read()
        ok = resp.status == 200
    except (OSError, http.client.HTTPException):
        ok = False
    finally:
        conn.close()
    return time.perf_counter() - t0 if ok else None


def percentiles(times: list[float]) -> dict[str, float | None]:
    times = sorted(times)
    if not times:
        return {"p50_ms": None, "p99_ms": None, "max_ms": None}

    def at(q: float) -> float:
        return round(times[min(len(times) - 1, int(q * len(times)))] * 1000, 2)

    return {"p50_ms": at(0.5), "p99_ms": at(0.99), "max_ms": at(1.0)}


def main() -> None:
    port, quiet, loaded = int(sys.argv[1]), float(sys.argv[2]), float(sys.argv[3])
    idle, slow = int(sys.argv[4]), int(sys.argv[5])
    seconds = quiet + loaded
    raise_limit(idle + slow + 256)
    attack = Attack(port, idle, slow)
    dripper = threading.Thread(target=attack.drip, daemon=True)
    dripper.start()
    print("READY", flush=True)
    times: dict[str, list[float]] = {"quiet": [], "loaded": []}
    failed = {"quiet": 0, "loaded": 0}
    signed_at, headers = 0.0, {}
    t0 = time.monotonic()
    idle_open = None
    while (now := time.monotonic()) - t0 < seconds:
        if now - signed_at > 60:  # Prime allows 5 minutes of skew
            signed_at, headers = now, sign.prime_headers(port, PROBE_PATH)
        took = probe(port, headers)
        phase = "quiet" if now - t0 < quiet else "loaded"
        if took is None:
            failed[phase] += 1
        else:
            times[phase].append(took)
        if idle_open is None and now - t0 > min(0.9 * seconds, 170):
            idle_open = attack.idle_still_open()  # before the server's 180 s idle timeout
        time.sleep(0.1)
    attack.stop.set()
    dripper.join(5)
    if idle_open is None:
        idle_open = attack.idle_still_open()
    out: dict[str, object] = {
        "idle_held": idle, "idle_still_open": idle_open, "slowloris_held": slow,
        "slowloris_cut_off": attack.cut,
    }  # fmt: skip
    for phase, got in times.items():
        out[phase] = {"probes": len(got), "failures": failed[phase], **percentiles(got)}
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
