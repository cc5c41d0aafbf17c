"""The soak's attackers and probe, in their own process (bench/soak.py starts it on the load core).

Usage: python bench/soak_clients.py attack PORT SECONDS IDLE SLOW
       python bench/soak_clients.py probe PORT QUIET LOADED
attack: holds IDLE connections that never send a byte and SLOW slowloris connections (a request
head begun, then one more header byte every 0.5 s; each one the server cuts off is replaced at
once) for SECONDS; prints READY once they are open, then one JSON line.
probe: every 0.1 s times one signed verify on a new connection, QUIET seconds (the attack alone)
then LOADED seconds (bench/soak.py's mixed load too); prints one JSON line. The two run as separate
processes so the attackers' work never delays the probe inside one interpreter.
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


def attack_main(port: int, seconds: float, idle: int, slow: int) -> dict[str, object]:
    raise_limit(idle + slow + 256)
    attack = Attack(port, idle, slow)
    dripper = threading.Thread(target=attack.drip, daemon=True)
    dripper.start()
    print("READY", flush=True)
    check_at = min(0.9 * seconds, 170)  # before the server's 180 s idle timeout
    time.sleep(check_at)
    idle_open = attack.idle_still_open()
    time.sleep(max(0.0, seconds - check_at))
    attack.stop.set()
    dripper.join(5)
    return {
        "idle_held": idle, "idle_still_open": idle_open, "slowloris_held": slow,
        "slowloris_cut_off": attack.cut,
    }  # fmt: skip


def probe_main(port: int, quiet: float, loaded: float) -> dict[str, object]:
    times: dict[str, list[float]] = {"quiet": [], "loaded": []}
    failed = {"quiet": 0, "loaded": 0}
    signed_at, headers = 0.0, {}
    t0 = time.monotonic()
    while (now := time.monotonic()) - t0 < quiet + loaded:
        if now - signed_at > 60:  # Prime allows 5 minutes of skew
            signed_at, headers = now, sign.prime_headers(port, PROBE_PATH)
        took = probe(port, headers)
        phase = "quiet" if now - t0 < quiet else "loaded"
        if took is None:
            failed[phase] += 1
        else:
            times[phase].append(took)
        time.sleep(0.1)
    return {
        phase: {"probes": len(got), "failures": failed[phase], **percentiles(got)}
        for phase, got in times.items()
    }


def main() -> None:
    role, port, args = sys.argv[1], int(sys.argv[2]), [float(a) for a in sys.argv[3:]]
    if role == "attack":
        out = attack_main(port, args[0], int(args[1]), int(args[2]))
    else:
        out = probe_main(port, args[0], args[1])
    print(json.dumps(out), flush=True)


if __name__ == "__main__":
    main()
