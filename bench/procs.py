"""Pinned server processes for the bench: launch, wait for the first 200, RSS, and a sure kill."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

HOST = "127.0.0.1"
SERVER_CPU = "0"
LOADGEN_CPU = "1"
BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
CACHE = BENCH / ".cache"
LOGS = CACHE / "logs"

PYCACHE = CACHE / "pycache"

_live: list[Server] = []


def server_env() -> dict[str, str]:
    """The servers' environment: bytecode caching on, as on a normal machine (some sandboxes set
    PYTHONDONTWRITEBYTECODE, which recompiles every mocksrv module on each start), with the cache
    under bench/.cache/ so the bench writes nothing into the source tree."""
    env = dict(os.environ)
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env["PYTHONPYCACHEPREFIX"] = str(PYCACHE)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def pin_self() -> None:
    """Run the orchestrator (and every load generator it starts) on the load-generator core."""
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {int(LOADGEN_CPU)})


@contextlib.contextmanager
def all_cores() -> Iterator[None]:
    """Undo `pin_self` for a while: for work that counts instructions, not time."""
    if not hasattr(os, "sched_setaffinity"):
        yield
        return
    pinned = os.sched_getaffinity(0)
    os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
    try:
        yield
    finally:
        os.sched_setaffinity(0, pinned)


ALL_CPUS = "all"  # a process free to use every core (the scale section), not pinned


def pinned(cmd: Sequence[str], cpu: str) -> list[str]:
    """`cmd` under `taskset -c cpu`; ALL_CPUS lifts the orchestrator's own pinning (children
    inherit it) so the process may run on every core."""
    count = os.cpu_count() or 1
    if count <= 1:
        return list(cmd)
    return ["taskset", "-c", f"0-{count - 1}" if cpu == ALL_CPUS else cpu, *cmd]


def mocksrv_cmd(port: int, scenario: Path | None) -> list[str]:
    """`mocksrv serve --port P [--scenario FILE]` with the script of the running interpreter."""
    script = Path(sys.executable).parent / "mocksrv"
    base = [str(script)] if script.exists() else [sys.executable, "-m", "mocksrv"]
    extra = ["--scenario", str(scenario)] if scenario is not None else []
    return [*base, "serve", "--port", str(port), *extra]


class Server:
    """One server process in its own process group, pinned to the server core."""

    def __init__(
        self,
        name: str,
        cmd: Sequence[str],
        port: int,
        cwd: Path | None = None,
        env: dict[str, str] | None = None,
        cpu: str = SERVER_CPU,
    ) -> None:
        self.name, self.port = name, port
        LOGS.mkdir(parents=True, exist_ok=True)
        self.log_path = LOGS / f"{name}-{port}.log"
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.started = time.perf_counter()
        self.proc = subprocess.Popen(
            pinned(cmd, cpu),
            stdout=self._log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=cwd,
            env={**server_env(), **(env or {})},
            start_new_session=True,
        )
        _live.append(self)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_ready(self, probe: Callable[[int], int], timeout: float = 60.0) -> float:
        """Poll `probe(port)` (an HTTP status) until 200; seconds from launch to that 200."""
        deadline = time.perf_counter() + timeout
        while time.perf_counter() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited early; see {self.log_path}")
            try:
                if probe(self.port) == 200:
                    return time.perf_counter() - self.started
            except OSError:
                pass
            time.sleep(0.002)
        raise RuntimeError(f"{self.name} gave no 200 within {timeout:.0f} s; see {self.log_path}")

    def check_alive(self, during: str) -> None:
        """Raise if the server died (a run against a dead server is no measurement)."""
        code = self.proc.poll()
        if code is not None:
            how = f"signal {-code}" if code < 0 else f"exit code {code}"
            raise RuntimeError(f"{self.name} died ({how}) during {during}; see {self.log_path}")

    def rss_mib(self) -> float:
        return _status_kib(self.pid, "VmRSS") / 1024

    def tree_rss_mib(self) -> float:
        """RSS of the server and its worker processes (`serve --workers N`), summed."""
        return sum(_status_kib(p, "VmRSS") for p in self.tree()) / 1024

    def tree(self) -> list[int]:
        """The server's pid and its descendants' (one level: a supervisor's workers)."""
        kids: list[int] = []
        with contextlib.suppress(OSError):
            for tid in os.listdir(f"/proc/{self.pid}/task"):
                with open(f"/proc/{self.pid}/task/{tid}/children") as f:
                    kids += [int(x) for x in f.read().split()]
        return [self.pid, *kids]

    def cpu_seconds(self) -> float:
        """User + system CPU seconds used so far by the server and its worker processes."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self.tree():
            with contextlib.suppress(OSError):
                with open(f"/proc/{pid}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])  # utime, stime
        return total / tick

    def hwm_mib(self) -> float:
        return _status_kib(self.pid, "VmHWM") / 1024

    def stop(self) -> None:
        if self.proc.poll() is None:
            for sig, wait in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 5.0)):
                try:
                    os.killpg(self.proc.pid, sig)
                except ProcessLookupError:
                    break
                try:
                    self.proc.wait(wait)
                    break
                except subprocess.TimeoutExpired:
                    continue
        self._log.close()
        if self in _live:
            _live.remove(self)

    def __enter__(self) -> Server:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def stop_all() -> None:
    for server in list(_live):
        server.stop()


def _status_kib(pid: int, field: str) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return float(line.split()[1])
    return 0.0


def http_status(
    port: int, method: str, path: str, headers: dict[str, str], body: bytes = b""
) -> int:
    conn = http.client.HTTPConnection(HOST, port, timeout=2)
    try:
        conn.request(method, path, body=body or None, headers=headers)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    finally:
        conn.close()
