"""HAProxy in front of mocksrv replicas for the tests: the repository's deploy/haproxy.cfg (the one
docker-compose.yml's `replicas` profile mounts) run by Debian's haproxy (installed by
tests/tools/install-servers.sh), with one `server` line per replica.

It listens on sockets this process opened on free ports of 127.0.0.1 (handed to HAProxy as
`fd@N`, so no port is picked and then lost to another process), writes its log (each request
with the replica that served it, health-check changes) to a file, and is pointed at replicas
through its runtime API, so a replica started again on another port is taken in at once.
"""

from __future__ import annotations

import contextlib
import csv
import io
import re
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

from tests.support.paths import ROOT

CONFIG = ROOT / "deploy" / "haproxy.cfg"
INSTALL = "run tests/tools/install-servers.sh (Debian's haproxy)"
_SERVERS = re.compile(r"(?m)^    server replica1 .*\n(?:    server replica\d+ .*\n)*")
NOWHERE = "127.0.0.1:1"  # where a replica not started yet points: nothing listens there


def config(replicas: int) -> str:
    """deploy/haproxy.cfg with `replicas` server lines written as the file writes its three (so
    with three it is the file itself)."""
    text = CONFIG.read_text()
    lines = "".join(
        f'    server replica{n} "${{MOCKSRV_REPLICA_{n}-replica{n}:4599}}"\n'
        for n in range(1, replicas + 1)
    )
    out, found = _SERVERS.subn(lines, text)
    assert found == 1, f"{CONFIG} lists its replicas as `    server replicaN ...` lines"
    return out


def binary() -> str:
    """Debian's haproxy (tests/tools/install-servers.sh installs it)."""
    found = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not Path(found).exists():
        raise RuntimeError(f"haproxy is missing: {INSTALL}")
    return found


def _listener() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1024)
    return sock


def _address(url_or_address: str) -> tuple[str, int]:
    host, port = url_or_address.split("://", 1)[-1].rstrip("/").rsplit(":", 1)
    return host, int(port)


class HAProxy:
    """`with HAProxy(3) as lb: lb.point(1, replica.url); lb.wait_up()`, then clients use lb.url."""

    def __init__(self, replicas: int = 3) -> None:
        self.binary = binary()
        self.names = [f"replica{n}" for n in range(1, replicas + 1)]
        self.root = Path(tempfile.mkdtemp(prefix="mocksrv-haproxy-"))
        self.config = self.root / "haproxy.cfg"
        self.config.write_text(config(replicas))
        self.socket = self.root / "admin.sock"
        self.log_path = self.root / "haproxy.log"
        self._front = _listener()
        self._stats = _listener()
        self.url = f"http://127.0.0.1:{self._front.getsockname()[1]}"
        self.stats_url = f"http://127.0.0.1:{self._stats.getsockname()[1]}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, replicas: list[str] | None = None) -> HAProxy:
        """Start HAProxy; `replicas` are the replicas' URLs, in order (none: nowhere yet, until
        `point`)."""
        where = [":".join(map(str, _address(u))) for u in replicas or []]
        where += [NOWHERE] * (len(self.names) - len(where))
        env = {
            "PATH": "/usr/sbin:/usr/bin:/bin",
            "MOCKSRV_LB_BIND": f"fd@{self._front.fileno()}",
            "MOCKSRV_LB_STATS": f"fd@{self._stats.fileno()}",
            "MOCKSRV_LB_SOCKET": str(self.socket),
            **{f"MOCKSRV_REPLICA_{n}": a for n, a in enumerate(where, 1)},
        }
        with self.log_path.open("wb") as log:
            self.proc = subprocess.Popen(
                [self.binary, "-db", "-f", str(self.config)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                pass_fds=(self._front.fileno(), self._stats.fileno()),
            )
        deadline = time.monotonic() + 30
        while not self.socket.exists():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"haproxy did not start:\n{self.log()}")
            time.sleep(0.05)
        return self

    # -- the runtime API -------------------------------------------------------------------------

    def command(self, text: str) -> str:
        """One runtime API command (`show stat`, `set server ...`); its answer."""
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(10)
            sock.connect(str(self.socket))
            sock.sendall(text.encode() + b"\n")
            chunks = []
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        return b"".join(chunks).decode()

    def point(self, n: int, url: str) -> None:
        """Replica `n` (1-based) is now at `url`: DOWN until its health checks pass (`rise`), as a
        replica that comes back is, so it gets no request before it answered them."""
        host, port = _address(url)
        name = f"replicas/replica{n}"
        # drained (no new request) and marked down before it is ready again: checks decide
        steps = ("state maint", f"addr {host} port {port}", "state drain", "health down",
                 "state ready")  # fmt: skip
        for text in (f"set server {name} {step}" for step in steps):
            answer = self.command(text)
            assert "No such" not in answer and "ERR" not in answer.upper(), (text, answer)

    def states(self) -> dict[str, str]:
        """Each replica's status as HAProxy sees it (UP, DOWN, MAINT, `DOWN 1/2`, ...)."""
        rows = csv.DictReader(io.StringIO(self.command("show stat").lstrip("# ")))
        return {r["svname"]: r["status"] for r in rows if r["pxname"] == "replicas"
                and r["svname"] in self.names}  # fmt: skip

    def wait_up(self, *names: str, timeout: float = 30.0) -> None:
        """Until HAProxy's health checks have every replica (or those named) UP."""
        wanted = list(names or self.names)
        deadline = time.monotonic() + timeout
        while True:
            states = self.states()
            if all(states.get(n) == "UP" for n in wanted):
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"replicas not UP: {states}\n{self.log()[-4000:]}")
            time.sleep(0.1)

    def served(self, path: str, since: int = 0) -> dict[str, int]:
        """How many requests for a path starting with `path` each replica served, by the log
        from its character `since` on (HAProxy logs a request once it was answered)."""
        counts: dict[str, int] = {}
        for line in self.log()[since:].splitlines():
            found = re.search(r" replicas/(\S+) .*\"[A-Z]+ (\S+) HTTP/", line)
            if found and found.group(2).startswith(path):
                counts[found.group(1)] = counts.get(found.group(1), 0) + 1
        return counts

    def log(self) -> str:
        with contextlib.suppress(OSError):
            return self.log_path.read_text(errors="replace")
        return ""

    # -- life cycle ----------------------------------------------------------------------------------

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._front.close()
        self._stats.close()
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> HAProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
