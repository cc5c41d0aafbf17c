"""Load generators: wrk replaying pre-signed requests, and a threaded Python fallback."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from procs import BENCH, HOST, LOADGEN_CPU, pinned

LUA = BENCH / "lua" / "replay.lua"


@dataclass
class LoadResult:
    """One measured load run; `valid` only if every response was 2xx and no socket error."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    non2xx: int
    socket_errors: int
    tool: str
    sample: str = ""
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def valid(self) -> bool:
        return self.requests > 0 and self.non2xx == 0 and self.socket_errors == 0

    def as_dict(self) -> dict[str, object]:
        return {
            "requests": self.requests, "seconds": round(self.seconds, 3),
            "rps": round(self.rps, 1), "p50_ms": round(self.p50_ms, 3),
            "p99_ms": round(self.p99_ms, 3), "non2xx": self.non2xx,
            "socket_errors": self.socket_errors, "valid": self.valid, "tool": self.tool,
            "sample_error": self.sample, **self.extra,
        }  # fmt: skip


LOADGEN = {"name": "auto"}  # auto | wrk | python (run.py --loadgen)


def have_wrk() -> bool:
    return LOADGEN["name"] != "python" and shutil.which("wrk") is not None


def run_load(
    port: int,
    requests_file: Path,
    seconds: float,
    connections: int = 16,
    *,
    threads: int = 1,
    cpu: str = LOADGEN_CPU,
) -> LoadResult:
    """`threads` and `cpu` apply to wrk (the scale section: 2 threads on every core)."""
    if have_wrk():
        return run_wrk(port, requests_file, seconds, connections, threads=threads, cpu=cpu)
    return run_python(port, requests_file, seconds, connections)


def run_wrk(
    port: int,
    requests_file: Path,
    seconds: float,
    connections: int = 16,
    *,
    threads: int = 1,
    cpu: str = LOADGEN_CPU,
) -> LoadResult:
    """By default one wrk thread on the load-generator core drives all the connections."""
    cmd = pinned(
        [
            "wrk", f"-t{threads}", f"-c{connections}", f"-d{max(1, round(seconds))}s",
            "--timeout", "5s", "-s", str(LUA), f"http://{HOST}:{port}/",
            "--", str(requests_file), str(threads),
        ],
        cpu,
    )  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    stats, sample = None, ""
    for line in out.stdout.splitlines():
        if line.startswith("BENCH "):
            stats = json.loads(line[6:])
        elif line.startswith("BENCH_SAMPLE "):
            sample = line[13:]
    if stats is None:
        raise RuntimeError(f"wrk failed: {out.stdout[-800:]} {out.stderr[-800:]}")
    errors = sum(stats[k] for k in ("connect_errors", "read_errors", "write_errors", "timeouts"))
    return LoadResult(
        requests=stats["requests"], seconds=stats["duration_us"] / 1e6,
        p50_ms=stats["p50_us"] / 1000, p99_ms=stats["p99_us"] / 1000,
        non2xx=stats["non2xx"], socket_errors=errors, tool="wrk", sample=sample,
    )  # fmt: skip


def run_python(port: int, requests_file: Path, seconds: float, connections: int = 16) -> LoadResult:
    """Fallback without wrk: `connections` threads replaying the same raw requests."""
    reqs = [line.rstrip(b"\n").replace(b"\t", b"\r\n") for line in requests_file.open("rb")]
    lat: list[float] = []
    bad = [0, 0]
    sample: list[str] = []
    lock = threading.Lock()
    stop_at = time.perf_counter() + seconds

    def worker(offset: int) -> None:
        mine: list[float] = []
        i = offset
        try:
            sock = socket.create_connection((HOST, port), timeout=5)
            reader = sock.makefile("rb")
            while time.perf_counter() < stop_at and len(mine) < 10_000_000:
                t0 = time.perf_counter()
                sock.sendall(reqs[i % len(reqs)])
                status, body = _read_response(reader)
                mine.append(time.perf_counter() - t0)
                i += 1
                if not 200 <= status < 300:
                    with lock:
                        bad[0] += 1
                        if not sample:
                            sample.append(f"{status} {body[:300]!r}")
            sock.close()
        except (OSError, ValueError, IndexError) as exc:
            with lock:
                bad[1] += 1
                if not sample:
                    sample.append(f"{type(exc).__name__}: {exc}")
        with lock:
            lat.extend(mine)

    t0 = time.perf_counter()
    workers = [
        threading.Thread(target=worker, args=(k * len(reqs) // connections,), daemon=True)
        for k in range(connections)
    ]
    for w in workers:
        w.start()
    for w in workers:
        w.join(seconds + 30)
    elapsed = time.perf_counter() - t0
    lat.sort()
    pct = (lambda q: lat[min(len(lat) - 1, int(q * len(lat)))] * 1000) if lat else (lambda q: 0.0)
    return LoadResult(
        len(lat), elapsed, pct(0.5), pct(0.99), bad[0], bad[1], "python", "".join(sample)
    )


def _read_response(reader) -> tuple[int, bytes]:  # type: ignore[no-untyped-def]
    status_line = reader.readline()
    if not status_line:
        raise ConnectionError("closed")
    status = int(status_line.split()[1])
    length, chunked = 0, False
    while True:
        line = reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value.strip())
        elif name == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if not chunked:
        return status, reader.read(length) if length else b""
    body = b""
    for _ in range(100_000):
        size = int(reader.readline().split(b";")[0].strip() or b"0", 16)
        if size == 0:
            while reader.readline() not in (b"\r\n", b"\n", b""):
                pass
            return status, body
        body += reader.read(size)
        reader.readline()
    raise ValueError("too many chunks")
